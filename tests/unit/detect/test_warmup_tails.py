"""A series' warm-up must not blind it for weeks (known bug, strict xfail).

During the first ``min_history`` points nothing may page, but the calibrators' tails learn
every point, would-be alerts included. A glitch measured against a baseline of a few points
reads as hundreds of sigmas; learned into a tail, it fits it so heavy that a plain spike
days later does not page. Keeping would-be alerts out of the tails during the warm-up fixes
this case (checked: the spike scores 1.00 and nothing else is flagged), but it also let
the routine spikes of a zero-inflated series page (NAB art_load_balancer_spikes, whose
spread is about 5e-5) and cost SMD recall, so it has not landed; see the session notes.
Measured again on 2026-12-03, after a series began to alert only once a day old (this
case's spike comes on its second day): it passes, but NAB false alarms rose 26 -> 31
(art_load_balancer_spikes 3, three Twitter volumes 1 each) for the same 42 windows, and
SMD AUC-PR / VUS-PR fell 0.408 -> 0.404 / 0.358 -> 0.356 (event precision 0.505 -> 0.514).
Measured on 2026-12-04 with a gentler rule (in the warm-up a run of would-be alerts teaches
the tails only its first point, held at the statistic that would alert on the tail as it
is; the baselines still learn every point): it passes, but NAB false alarms 26 -> 29 (again
art_load_balancer_spikes, 3) and SMD AUC-PR / VUS-PR 0.408 -> 0.402 / 0.358 -> 0.353.
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine

WARMUP_TAIL_BUG = (
    "ensemble: the tails learn the warm-up's would-be alerts; a glitch in the first hour "
    "holds a 15-sigma spike two days later at 0.6-0.8"
)


def _glitchy_start(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One-minute calm noise with a broken first hour: a 500σ glitch, then 20 minutes 50σ
    off, all inside the warm-up; a plain 15σ spike comes on the third day (a series alerts
    once it is two days old)."""
    rng = np.random.default_rng(seed)
    n = 3300
    x = rng.normal(100.0, 1.0, n)
    x[40] += 500.0
    x[41:60] += 50.0
    x[3100] += 15.0
    return 1.7e9 + 60.0 * np.arange(n), x


@pytest.mark.xfail(strict=True, reason=WARMUP_TAIL_BUG)
def test_a_broken_first_hour_does_not_hide_a_later_spike() -> None:
    t, x = _glitchy_start(0)
    ens = BatchEngine(1).series
    flagged = np.zeros(t.size, dtype=bool)
    for i in range(t.size):
        flagged[i] = ens.step(t[i : i + 1], x[i : i + 1]).flagged[0]
    assert np.flatnonzero(flagged).tolist() == [3100]
