"""The per-series face of the engine: learn and score one observation at a time.

Same code as the batch engine (an ``Ensemble`` over n=1), so what a user tries on one
series in a notebook is exactly what the service runs on 100,000.

>>> det = SeriesDetector()
>>> for i in range(300):
...     _ = det.learn_one(10.0 + (i % 7) * 0.1, t=60.0 * i)
>>> det.score_one(10.3, t=60.0 * 300) < 0.9
True
>>> det.score_one(50.0, t=60.0 * 300) > 0.99
True
"""

from __future__ import annotations

import copy
import math

import numpy as np

from anomalert.detect.base import Detector
from anomalert.detect.ensemble import DEFAULT_THRESHOLD, Ensemble, Step
from anomalert.detect.registry import DEFAULT_UNIVARIATE, make_univariate


class SeriesDetector:
    """``learn_one``/``score_one`` over one series, with the ensemble's learning rules.

    ``score_one`` changes nothing; ``learn_one`` scores the point first and, like the
    engine, does not learn from it when it is flagged (the baseline stays clean).
    Timestamps are unix seconds; without them the series is assumed to tick every minute.
    """

    def __init__(
        self,
        detectors: list[Detector] | None = None,
        threshold: float = DEFAULT_THRESHOLD,
        accept_after: int = 30,
    ) -> None:
        self.ensemble = Ensemble(
            detectors or make_univariate(DEFAULT_UNIVARIATE, 1), threshold, accept_after
        )
        self._ticks = 0

    def _t(self, t: float | None) -> np.ndarray:
        if t is None:
            t = 60.0 * self._ticks
        return np.array([t], dtype=float)

    def _probe(self, x: float, t: float | None) -> Step:
        """The step x at t would take, on a copy (nothing learned)."""
        probe = copy.deepcopy(self.ensemble)
        return probe.step(self._t(t), np.array([x], dtype=float))

    def score_one(self, x: float, t: float | None = None) -> float:
        """The calibrated score of x at t, in [0, 1] (0 for a missing value)."""
        return float(self._probe(x, t).score[0])

    def learn_one(self, x: float, t: float | None = None) -> Step:
        """Score x, then learn from it unless it was flagged; returns the full step."""
        step = self.ensemble.step(self._t(t), np.array([x], dtype=float))
        self._ticks += 1
        return step

    def is_anomaly(self, x: float, t: float | None = None) -> bool:
        """Whether x at t would alert: a score at the threshold, on a series old enough to
        alert (``Step.mature``)."""
        if math.isnan(x):
            return False
        step = self._probe(x, t)
        return bool(step.mature[0]) and float(step.score[0]) >= self.ensemble.threshold
