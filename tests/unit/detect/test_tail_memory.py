"""The tails remember at least two weeks, however fast a series is sampled.

A tail's moments decay per learned point (``half_life`` points, 20,000: two weeks at one
minute). At ten seconds those are 2.3 days, and a weekday-only series' tails had forgotten
each weekend's misfits by the next Saturday, whose 09:00 edge paged
(``test_weekday_business_hours.py``). Given each series' sampling interval, a calibrator
with ``min_span`` keeps at least that many seconds (``calibrate._decay_of``); slower series
keep their ``half_life`` points, which span more.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from anomalert.detect.calibrate import TailCalibrator
from anomalert.detect.engine import BatchEngine
from anomalert.detect.ensemble import TAIL_MIN_SPAN


def _weight_after(points: int, interval: np.ndarray | None, min_span: float) -> np.ndarray:
    """The weight of the prior (worth 100 points) left after ``points`` calm points."""
    cal = TailCalibrator(n=3, half_life=100.0, prior_weight=100.0, min_span=min_span)
    everyone = np.ones(3, dtype=bool)
    zero = np.zeros(3)  # below z0: counts as a point, adds no excess
    for _ in range(points):
        cal.learn(zero, everyone, interval)
    return cal.weight.astype(np.float64) - _weight_of_points(points, interval, min_span)


def _weight_of_points(points: int, interval: np.ndarray | None, min_span: float) -> np.ndarray:
    """What the points themselves weigh after ``points`` of them (a geometric sum)."""
    half = np.full(3, 100.0)
    if interval is not None and min_span > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            half = np.where(interval > 0, np.maximum(half, min_span / interval), half)
    decay = 0.5 ** (1.0 / half)
    return (1.0 - decay**points) / (1.0 - decay)


def test_a_fast_series_remembers_the_span_a_slow_one_keeps_its_points() -> None:
    # 100 points: one second apart they span 100 s, under the 400 s asked, so the memory
    # grows to 400 points; ten seconds apart they span 1,000 s already; unknown interval:
    # 100 points.
    # (The span is a half-life to first order: within 0.3 % over 400 points here, 1e-9
    # per point at the engine's 20,000.)
    left = _weight_after(400, np.array([1.0, 10.0, np.nan]), min_span=400.0)
    np.testing.assert_allclose(left, [50.0, 100.0 * 0.5**4, 100.0 * 0.5**4], rtol=3e-3)


def test_without_intervals_or_a_span_the_decay_is_per_point() -> None:
    per_point = 100.0 * 0.5**2
    np.testing.assert_allclose(_weight_after(200, None, 400.0), per_point, rtol=2e-3)
    np.testing.assert_allclose(_weight_after(200, np.ones(3), min_span=0.0), per_point, rtol=2e-3)


def test_intervals_of_the_wrong_shape_are_refused() -> None:
    cal = TailCalibrator(n=3, min_span=10.0)
    with pytest.raises(ValueError, match="interval"):
        cal.learn(np.zeros(3), np.ones(3, dtype=bool), np.ones(2))


def test_the_engine_s_tails_span_two_weeks_and_old_checkpoints_take_it() -> None:
    engine = BatchEngine(2)
    assert engine.series.tails.min_span == TAIL_MIN_SPAN == 14 * 86_400.0
    tails = engine.series.tails
    del tails.min_span  # as a calibrator pickled before the span existed
    assert tails.min_span == 0.0
    restored = pickle.loads(pickle.dumps(engine.series))
    assert restored.tails.min_span == TAIL_MIN_SPAN
