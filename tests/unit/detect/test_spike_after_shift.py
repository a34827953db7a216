"""A spike soon after an accepted shift pages as it would on a calm series.

A calm one-minute series (20, noise 2) steps up by 60 (30σ) at noon on its fourth day for
good: the shift pages once and is accepted as the new normal after ``accept_after`` points.
A one-point spike of 30 (15σ) one to eight hours later must page, as it does on the same
series without the shift (0.999).

Found on 2026-12-05 (eighteenth session): it scored 0.83-0.90 and did not page. Why,
measured: (1) the first point of every flagged run teaches the tails how big deviations get
(``ensemble``: a recurring edge must become normal), so the shift's onset, 32σ for the
rolling baseline and 29σ for the seasonal detector, sat in tails with a two-week half-life
and held their shapes at the cap; (2) on acceptance the level-tracking detectors restart at
warm-up speed from the old level, and the first points' distance from it swells their
spreads for a few hours. Fixed on 2026-12-06 (twentieth session) on series without a period:
an accepted run's onset is capped in the tails (``detect/onsets.py``) at the statistic the
tail without it calls one in 10^8; the spike scores 0.98-1.0.

On a series with a daily period the cap is not applied (on the demo's daily-seasonal
metrics it raised false alerts: alert precision 0.445 -> 0.426; ``detect/onsets.py``), and
the spike still scored 0.83-0.86 (a strict xfail until the twenty-first session). Fixed
there by restarting the levels where the accepted run sat instead of at the old level
(``Ensemble._restart_levels``, ``test_restart_levels.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
SERIES = 4
DAY = 1440


def spike_flags(shift: float, spike_after: int, days: int = 3, wave: float = 0.0) -> np.ndarray:
    """The engine's flags at a 15σ spike ``spike_after`` minutes after a step of ``shift``
    at noon on day ``days`` (counted from 0), per series; ``wave``: the amplitude of a
    daily sine the series follows."""
    at = days * DAY + 12 * 60
    n = at + spike_after + 1
    rng = np.random.default_rng(0)
    x = 20.0 + wave * np.sin(2 * np.pi * np.arange(n) / DAY)[:, None]
    x = x + rng.normal(0.0, 2.0, (n, SERIES))
    x[at:] += shift
    x[-1] += 30.0
    engine = BatchEngine(SERIES)
    for k in range(n):
        step = engine.step(np.full(SERIES, T0 + MIN * k), x[k]).series
    return np.asarray(step.flagged)


def test_the_spike_pages_on_a_calm_series() -> None:
    assert spike_flags(0.0, 120).all()


@pytest.mark.parametrize("after", [60, 120, 300, 500])
def test_the_spike_pages_hours_after_an_accepted_shift(after: int) -> None:
    assert spike_flags(60.0, after).all()


def test_a_spike_pages_on_a_daily_series_without_a_shift() -> None:
    assert spike_flags(0.0, 120, days=9, wave=10.0).all()


@pytest.mark.parametrize("after", [60, 120, 300])
def test_the_spike_pages_after_an_accepted_shift_on_a_daily_series(after: int) -> None:
    assert spike_flags(60.0, after, days=9, wave=10.0).all()
