"""A spike soon after an accepted shift pages as it would on a calm series (known bug, strict
xfail).

A calm one-minute series (20, noise 2) steps up by 60 (30σ) at noon on its fourth day for
good: the shift pages once and is accepted as the new normal after ``accept_after`` points.
Two hours later a one-point spike of 30 (15σ) scores 0.84-0.86 and does not page; the same
spike on the same series without the shift scores 0.999 (found on 2026-12-05, eighteenth
session; eight hours after the shift such a spike still scores 0.87-0.89).

Why, measured: (1) the first point of every flagged run teaches the tails how big deviations
get (``ensemble``: a recurring edge must become normal), so the shift's onset, 32σ for the
rolling baseline and 29σ for the seasonal detector, sits in tails with a two-week half-life
and holds their shapes at the cap; (2) on acceptance the level-tracking detectors restart
at warm-up speed from the old level, and the first points' distance from it (60) teaches
their spreads the size of the shift: half an hour after the acceptance the seasonal residual
sd is 13 times the noise and the rolling baseline's 11, four and a half hours after it 6
and 1.4 times, so five hours after the shift the seasonal statistic of the spike is 2.4
where it is 12.9 without the shift. Restarting the
levels at the accepted run's median (``docs/measurements.md``, eighteenth session) removes
(2): the statistics are those of the calm series, SMD AUC-PR / VUS-PR rose (0.412 -> 0.415,
0.366 -> 0.369), but the spike still scores 0.89-0.91 through (1), and a ten-second
business-hours square wave paged twice on its third day; not landed. Withdrawing an accepted
run's onset from the tails removes (1): the spike pages (0.98-1.0) and SMD's figures rose,
but the demo's false alerts rose by 14 % and a second step after hours paged twice (the
held run the rolling baseline cannot finish); not landed either.
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
SERIES = 4
SHIFT_AT = 3 * 1440 + 12 * 60

SPIKE_AFTER_SHIFT_BUG = (
    "ensemble/calibrate: an accepted shift's onset holds the tails at their cap and the "
    "level restart swells the spreads, so a 15-sigma spike two hours later scores 0.85"
)


def spike_flags(shift: float, spike_after: int) -> np.ndarray:
    """The engine's flags at a 15σ spike ``spike_after`` minutes after a step of
    ``shift`` at noon on the fourth day (per series)."""
    n = SHIFT_AT + spike_after + 1
    x = 20.0 + np.random.default_rng(0).normal(0.0, 2.0, (n, SERIES))
    x[SHIFT_AT:] += shift
    x[-1] += 30.0
    engine = BatchEngine(SERIES)
    for k in range(n):
        step = engine.step(np.full(SERIES, T0 + MIN * k), x[k]).series
    return np.asarray(step.flagged)


def test_the_spike_pages_on_a_calm_series() -> None:
    assert spike_flags(0.0, 120).all()


@pytest.mark.xfail(strict=True, reason=SPIKE_AFTER_SHIFT_BUG)
def test_the_spike_pages_two_hours_after_an_accepted_shift() -> None:
    assert spike_flags(60.0, 120).all()
