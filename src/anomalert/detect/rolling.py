"""Robust rolling baseline: how far is this point from the recent level of its own series?

The fast, seasonality-blind detector: a robust EWMA level and scale (``robust.py``) with a
short memory, so it follows drifts and slow daily curves and catches spikes and drops
relative to the last hour or so. It also scores the step from the previous value against the
typical step size, which catches a sudden jump even when the level itself is noisy.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame, kinds_from_sign
from anomalert.detect.robust import WARM_RESTART, robust_update, scale_floor


class RollingDetector(Detector):
    """Robust EWMA level/scale deviation plus robust step size deviation."""

    name = "rolling"
    deseasonalized = True

    def __init__(
        self,
        n: int = 1,
        alpha: float = 0.05,
        beta: float = 0.02,
        min_points: int = 20,
        max_gap: float = 20.0,
    ) -> None:
        super().__init__(n)
        self.alpha = alpha
        self.beta = beta
        self.min_points = min_points
        self.max_gap = max_gap
        self.t_prev = np.full(n, np.nan)
        self.dt = np.full(n, np.nan)
        self.level = np.zeros(n)
        self.var = np.zeros(n)
        self.count = np.zeros(n)
        self.prev = np.full(n, np.nan)
        self.step_var = np.zeros(n)
        self.step_count = np.zeros(n)
        self.step_mean = np.zeros(n)

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        sd = np.maximum(np.sqrt(self.var), scale_floor(self.level))
        diff = x - self.level
        z = np.abs(diff) / sd
        step_sd = np.maximum(np.sqrt(self.step_var), scale_floor(self.level))
        zs = np.abs(x - self.prev - self.step_mean) / step_sd
        # Flagged points are never learned, so ``prev`` is the last normal value and the way
        # back after a spike is a small step: only the way out is scored as a jump.
        stat = np.maximum(z, zs)
        ready = (self.count >= self.min_points) & np.isfinite(x) & ~self._after_gap(t)
        stat = np.where(ready, stat, np.nan)
        band = 3.0 * sd
        return Frame(
            stat, self.level.copy(), self.level - band, self.level + band, kinds_from_sign(diff)
        )

    def _after_gap(self, t: FloatArray) -> BoolArray:
        """Series whose last point is more than ``max_gap`` typical intervals old.

        The recent level says nothing about a value hours later (the day has moved on), so
        the first point after such a gap gets no opinion and the level relearns quickly.
        """
        with np.errstate(invalid="ignore"):
            return (t - self.t_prev) > self.max_gap * self.dt

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        gap = t - self.t_prev
        stale = mask & self._after_gap(t)
        if stale.any():
            self.count = np.where(stale, np.minimum(self.count, WARM_RESTART), self.count)
            self.prev = np.where(stale, np.nan, self.prev)
        ok = mask & np.isfinite(gap) & (gap > 0)
        self.dt = np.where(
            ok, np.where(np.isnan(self.dt), gap, 0.95 * self.dt + 0.05 * gap), self.dt
        )
        self.t_prev = np.where(mask, t, self.t_prev)
        step = x - self.prev
        has_prev = mask & np.isfinite(step)
        robust_update(
            self.step_mean,
            self.step_var,
            self.step_count,
            step,
            has_prev,
            self.alpha * 0.2,
            self.beta,
        )
        robust_update(self.level, self.var, self.count, x, mask, self.alpha, self.beta)
        self.prev = np.where(mask, x, self.prev)

    def adapt(self, mask: BoolArray) -> None:
        # Relearn the level at warm-up speed (rates 1/count); the scale re-estimates too,
        # inflated by the move, which keeps the first points after a shift quiet.
        self.count = np.where(mask, np.minimum(self.count, WARM_RESTART), self.count)
