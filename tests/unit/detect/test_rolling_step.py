"""The rolling baseline says which of its two statistics fired: the level's or the step's.

Its statistic is the larger of how far a value is from the recent level and how far the
step from the previous value is from the usual step. Where the step is the larger, the
value may sit near its level (a smooth series that drops back after a slow climb), and a
reason in the level's sigmas read "0.5σ above the usual 47.2 (spike)" for a sudden drop
(found in the demo scenario, 2026-12-05). The frame's ``detail`` carries the step's sigmas
there, and the kind follows the step's sign.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.engine import BatchEngine
from anomalert.detect.reason import explain
from anomalert.detect.rolling import RollingDetector
from anomalert.model import Kind

MIN = 60.0


def _smooth(points: int = 400) -> np.ndarray:
    """A slow wave with tiny point-to-point noise: a wide level band, small usual steps."""
    rng = np.random.default_rng(1)
    k = np.arange(points)
    return 100.0 + 5.0 * np.sin(k / 15.0) + rng.normal(0.0, 0.05, points)


def _fed(x: np.ndarray) -> RollingDetector:
    det = RollingDetector(n=1)
    everyone = np.ones(1, dtype=bool)
    for k, v in enumerate(x):
        det.learn(np.array([k * MIN]), np.array([v]), everyone)
    return det


def test_a_step_back_towards_the_level_is_reported_as_the_step() -> None:
    x = _smooth()
    det = _fed(x)
    level = float(det.level[0])
    prev = float(det.prev[0])
    # Halfway back from the last value to the level: a large step, a modest level deviation,
    # in the direction opposite to the one the value still deviates in.
    value = prev + 0.5 * (level - prev) if abs(prev - level) > 1.0 else prev - 3.0
    frame = det.observe(np.array([x.size * MIN]), np.array([value]))
    assert frame.detail is not None
    step_sigmas = float(frame.detail[0])
    assert np.isfinite(step_sigmas) and step_sigmas == float(frame.stat[0]) > 4.0
    expected = Kind.SPIKE if value > prev else Kind.DROP
    assert int(frame.kind[0]) == int(expected)


def test_a_value_far_from_its_level_in_a_small_step_keeps_the_level_reason() -> None:
    """A series that creeps far from its level point by point: the level's z fires, so
    ``detail`` is NaN and the kind is the side of the level."""
    det = RollingDetector(n=1)
    everyone = np.ones(1, dtype=bool)
    rng = np.random.default_rng(2)
    for k in range(300):
        det.learn(np.array([k * MIN]), np.array([10.0 + rng.normal(0.0, 1.0)]), everyone)
    value = float(det.prev[0]) - 0.5  # a small step ...
    det.level[0] = value + 30.0  # ... from a level far above it
    frame = det.observe(np.array([300 * MIN]), np.array([value]))
    assert frame.detail is not None and np.isnan(frame.detail[0])
    assert int(frame.kind[0]) == int(Kind.DROP)


def test_the_engine_carries_the_step_to_the_reason() -> None:
    """Through the ensemble: a smooth series that drops sharply by a fraction of its level
    band pages with the step's wording, whichever detector's band is shown."""
    t0 = 1_767_571_200.0
    x = np.concatenate([_smooth(3 * 1440), [0.0]])
    x[-1] = x[-2] - 4.0  # fifteen usual steps, inside the level's band (about +-10)
    engine = BatchEngine(1)
    for k, v in enumerate(x):
        tick = engine.step(np.array([t0 + k * MIN]), np.array([v]))
    s = tick.series
    assert bool(s.flagged[0])
    reason = explain(
        "x",
        float(x[-1]),
        t0,
        Kind(int(s.kind[0])),
        float(s.expected[0]),
        float(s.lower[0]),
        float(s.upper[0]),
        float(s.detail[0]),
    )
    assert reason.startswith("x ") and "a sudden drop from the previous point" in reason, reason
