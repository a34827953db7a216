"""A gap in the data is a gap, not a new sampling interval.

The seasonal detector scales its learning rates by each series' sampling interval, an
average of the intervals between its points, so that a 10-second and a 5-minute series
remember the same number of days. A day-long gap entered that average at a tenth of a day:
for the next hour of one-minute points every rate was up to 145 times its usual, and the
residual variance was re-learned from a handful of points: on this smooth daily series it
halved (a six-hour gap: the interval still reached 37 minutes). A gap now counts as at most
thirty usual intervals, which still lets a real change of sampling interval through within
a few dozen points.
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.seasonal import DAY, SeasonalDetector

T0 = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
MINUTE = 60.0


def daily(t: np.ndarray, seed: int = 0) -> np.ndarray:
    """A smooth daily curve with a little noise."""
    noise = np.random.default_rng(seed).normal(0.0, 0.3, t.size)
    return 100.0 + 10.0 * np.sin(2 * np.pi * (t - T0) / DAY) + noise


def learn(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's residual variance and the sampling interval after each point."""
    det = SeasonalDetector(n=1)
    var = np.empty(t.size)
    dt = np.empty(t.size)
    for i in range(t.size):
        det.learn(t[i : i + 1], x[i : i + 1], np.array([True]))
        var[i] = det.var[det.model[0], 0]
        dt[i] = det.dt[0]
    return var, dt


@pytest.mark.parametrize("hours", [6, 24])
def test_a_long_gap_keeps_the_sampling_interval_and_the_residual_variance(hours: int) -> None:
    t = T0 + MINUTE * np.arange(10 * 1440)
    resume = 7 * 1440
    t[resume:] += hours * 3600.0
    var, dt = learn(t, daily(t))
    assert dt[resume:].max() <= 4 * MINUTE, dt[resume : resume + 5]
    before = var[resume - 1]
    after = var[resume + 120]
    assert 0.8 < after / before < 1.25, (before, after)


@pytest.mark.parametrize("interval", [600.0, 3600.0])
def test_a_slower_sampling_interval_is_still_learned(interval: float) -> None:
    """One-minute points for three days, then points every ten minutes or every hour: the
    interval follows within a few dozen points, gaps or not."""
    first = T0 + MINUTE * np.arange(3 * 1440)
    then = first[-1] + interval * np.arange(1, 200)
    t = np.concatenate([first, then])
    _, dt = learn(t, daily(t))
    assert dt[first.size + 60] == pytest.approx(interval, rel=0.05)
