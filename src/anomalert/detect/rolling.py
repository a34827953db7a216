"""Robust rolling baseline: how far is this point from the recent level of its own series?

The fast, seasonality-blind detector: a robust EWMA level and scale (``robust.py``) with a
short memory, so it follows drifts and slow daily curves and catches spikes and drops
relative to the last hour or so. It also scores the step from the previous value against the
typical step size, which catches a sudden jump even when the level itself is noisy.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame, kinds_from_sign
from anomalert.detect.kernels import learning, patch
from anomalert.detect.robust import WARM_RESTART, robust_update


class _Spreads(NamedTuple):
    """What observe and learn of one tick both derive from the state (computed once)."""

    sd: FloatArray  # spread of the level, floored
    step_sd: FloatArray  # spread of the steps, floored by the level
    step_root: FloatArray  # sqrt(step_var), unfloored
    gap_limit: FloatArray  # a gap longer than this restarts the level (``_after_gap``)
    cold: BoolArray  # too few points for an opinion


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

    def _spreads(self) -> _Spreads:
        return self._cached("spreads", self._compute_spreads)

    def _compute_spreads(self) -> _Spreads:
        floor = self._scale_floor(self.level)
        step_root = np.sqrt(self.step_var)
        return _Spreads(
            np.maximum(np.sqrt(self.var), floor),
            np.maximum(step_root, floor, out=floor),
            step_root,
            self.max_gap * self.dt,
            self.count < self.min_points,
        )

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        s = self._spreads()
        diff = x - self.level
        z = np.abs(diff)
        z /= s.sd
        zs = self._step(x) - self.step_mean
        np.abs(zs, out=zs)
        zs /= s.step_sd
        # Flagged points are never learned, so ``prev`` is the last normal value and the way
        # back after a spike is a small step: only the way out is scored as a jump.
        stat = np.maximum(z, zs, out=z)
        patch(stat, np.nan, s.cold | ~np.isfinite(x) | self._gap(t)[1])
        band = 3.0 * s.sd
        return Frame(
            stat, self.level.copy(), self.level - band, self.level + band, kinds_from_sign(diff)
        )

    def _gap(self, t: FloatArray) -> tuple[FloatArray, BoolArray]:
        """The time since each series' last point, and whether it is more than ``max_gap``
        typical intervals (observe and learn of one tick share them).

        The recent level says nothing about a value hours later (the day has moved on), so
        the first point after such a gap gets no opinion and the level relearns quickly.
        """
        return self._cached_for("gap", t, lambda: self._compute_gap(t))

    def _compute_gap(self, t: FloatArray) -> tuple[FloatArray, BoolArray]:
        with np.errstate(invalid="ignore"):
            gap = t - self.t_prev
            return gap, gap > self._spreads().gap_limit

    def _step(self, x: FloatArray) -> FloatArray:
        """The step from the previous value (observe scores it, learn learns it)."""
        return self._cached_for("step", x, lambda: x - self.prev)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        s = self._spreads()
        w = learning(mask)
        gap, after_gap = self._gap(t)
        stale = mask & after_gap
        restart = bool(stale.any())
        if restart:
            np.minimum(self.count, WARM_RESTART, out=self.count, where=stale)
            self.prev[stale] = np.nan
        ok = mask & np.isfinite(gap) & (gap > 0)
        # The typical interval: a slow average of the gaps, started by the first one.
        dt = 0.95 * self.dt
        dt += 0.05 * gap
        fresh = np.isnan(self.dt)
        if fresh.any():
            np.copyto(dt, gap, where=fresh)
        np.copyto(self.dt, dt, where=learning(ok))
        np.copyto(self.t_prev, t, where=w)
        # After a restart there is no previous value to step from (observe's step is stale).
        step = x - self.prev if restart else self._step(x)
        has_prev = mask & np.isfinite(step)
        robust_update(
            self.step_mean,
            self.step_var,
            self.step_count,
            step,
            has_prev,
            self.alpha * 0.2,
            self.beta,
            sd=np.maximum(s.step_root, self._scale_floor(self.step_mean)),
        )
        robust_update(self.level, self.var, self.count, x, mask, self.alpha, self.beta, sd=s.sd)
        np.copyto(self.prev, x, where=w)
        self._forget()

    def shift_input(self, mask: BoolArray, delta: FloatArray) -> None:
        self.level += np.where(mask, delta, 0.0)
        self.prev += np.where(mask, delta, 0.0)
        self._forget()

    def adapt(self, mask: BoolArray) -> None:
        # Relearn the level at warm-up speed (rates 1/count); the scale re-estimates too,
        # inflated by the move, which keeps the first points after a shift quiet.
        np.minimum(self.count, WARM_RESTART, out=self.count, where=mask)
        self._forget()
