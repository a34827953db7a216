"""The level-shift statistic's own spread is learned robustly, as the level is.

``LevelShiftDetector`` divides the gap between its fast mean and its level by the spread
that gap usually shows. That spread was a plain mean of squared gaps: the points of a shift
the ensemble did not flag (one that scored just under the threshold, or one on a series
whose tails a past incident had made heavy) went into it at full weight, each gap a few
times the usual one, so within a handful of points the spread had grown enough to make
the shift look ordinary, and the statistic fell while the shift went on. A gap now enters
the spread clipped at ``HUBER_K`` spreads (as ``robust_step`` clips the level's
innovations), so the statistic keeps rising with a lasting shift; a spread that really
grows is still followed, by up to a few percent per point.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.changepoint import LevelShiftDetector


def _learned(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observe then learn every point (as the ensemble does with unflagged ones): the
    statistic and the gap's variance after each point."""
    det = LevelShiftDetector(n=1)
    stat = np.empty(x.size)
    gap_var = np.empty(x.size)
    everything = np.ones(1, dtype=bool)
    for i, v in enumerate(x):
        t = np.array([60.0 * i])
        stat[i] = det.observe(t, np.array([v])).stat[0]
        det.learn(t, np.array([v]), everything)
        gap_var[i] = det.gap_var[0]
    return stat, gap_var


def test_an_unflagged_shift_does_not_swell_the_gap_spread() -> None:
    x = np.random.default_rng(0).normal(0.0, 1.0, 2040)
    x[2000:] += 20.0  # a lasting 20σ shift, learned point by point
    stat, gap_var = _learned(x)
    assert gap_var[2019] < 2.5 * gap_var[1999], (gap_var[1999], gap_var[2019])
    # The statistic keeps rising with the shift instead of peaking after a few points.
    assert np.all(np.diff(stat[2000:2020]) > 0.0), stat[2000:2020]
    assert stat[2019] > 10.0, stat[2019]


def test_a_wider_gap_spread_is_still_learned() -> None:
    """Noise that becomes five times wider for good: the spread follows it (the clip only
    slows the first few dozen points)."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0.0, 1.0, 2000), rng.normal(0.0, 5.0, 3000)])
    _, gap_var = _learned(x)
    assert gap_var[-1] > 10.0 * gap_var[1999], (gap_var[1999], gap_var[-1])
