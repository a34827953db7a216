"""Robust rolling baseline: how far is this point from the recent level of its own series?

The fast, seasonality-blind detector: a robust EWMA level and scale (``robust.py``) with a
short memory, so it follows drifts and slow daily curves and catches spikes and drops
relative to the last hour or so. It also scores the step from the previous value against the
typical step size, which catches a sudden jump even when the level itself is noisy.

``observe`` and ``learn`` are each one compiled pass over the series (``_observe``,
``_learn``); both derive the spreads from the state as it was before the tick, so learning
after observing is learning alone.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame, IntArray
from anomalert.detect.jit import kernel, maximum, minimum
from anomalert.detect.robust import (
    COUNT,
    WARM_RESTART,
    CountArray,
    floor_of,
    robust_step,
    shift_levels,
)
from anomalert.model import Kind

#: The step from the previous point is what stands out (the reason says so) where its z is
#: more than this many times the level's.
STEP_STANDS_OUT = 2.0
#: A series drifts where its mean step is more than this many times the steps' spread.
DRIFT = 1.0
_SPIKE = np.int8(Kind.SPIKE)
_DROP = np.int8(Kind.DROP)


@kernel
def _observe(
    t: FloatArray,
    x: FloatArray,
    t_prev: FloatArray,
    dt: FloatArray,
    level: FloatArray,
    var: FloatArray,
    count: CountArray,
    prev: FloatArray,
    step_var: FloatArray,
    step_mean: FloatArray,
    resolution: FloatArray,
    has_resolution: bool,
    min_points: float,
    max_gap: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray, FloatArray]:
    """Per series: the larger of the level's and the step's z, the level, its 3-sd band,
    spike or drop, and the step's z where the step is what stands out (else NaN: ``detail``).

    The step stands out where its z is more than ``STEP_STANDS_OUT`` times the level's;
    there spike or drop is the step's sign, elsewhere that of x - level. The reason must say
    what fired: a value that dropped 5σ of its usual step, back to 0.5σ above its level, was
    reported as "0.5σ above the usual 47.2 (spike)" (``reason.explain`` words a finite
    ``detail`` as a sudden change from the previous point). Where both are large, the
    distance from the level says it plainly enough ("214σ above the usual").

    No opinion (NaN) while the series is cold, where x is not finite, and on the first
    point after a gap of more than ``max_gap`` typical intervals: the recent level says
    nothing about a value hours later (the day has moved on). Flagged points are never
    learned, so ``prev`` is the last normal value and the way back after a spike is a small
    step: only the way out is scored as a jump.
    """
    n = x.shape[0]
    stat = np.empty(n)
    expected = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    kind = np.empty(n, dtype=np.int8)
    detail = np.empty(n)
    for i in range(n):
        lv = level[i]
        res = resolution[i] if has_resolution else -np.inf
        floor = floor_of(lv, res)
        sd = maximum(np.sqrt(var[i]), floor)
        step_sd = maximum(np.sqrt(step_var[i]), floor)
        diff = x[i] - lv
        z = abs(diff) / sd
        jump = (x[i] - prev[i]) - step_mean[i]
        zs = abs(jump) / step_sd
        gap = t[i] - t_prev[i]
        if count[i] < min_points or not np.isfinite(x[i]) or gap > max_gap * dt[i]:
            stat[i] = np.nan
        else:
            stat[i] = maximum(z, zs)
        band = 3.0 * sd
        expected[i] = lv
        lower[i] = lv - band
        upper[i] = lv + band
        # False where either is NaN; and no step to tell of without an opinion.
        stepped = zs > STEP_STANDS_OUT * z and stat[i] == stat[i]
        detail[i] = zs if stepped else np.nan
        kind[i] = _SPIKE if (jump if stepped else diff) >= 0 else _DROP
    return stat, expected, lower, upper, kind, detail


@kernel
def _learn(
    t: FloatArray,
    x: FloatArray,
    mask: BoolArray,
    t_prev: FloatArray,
    dt: FloatArray,
    level: FloatArray,
    var: FloatArray,
    count: CountArray,
    prev: FloatArray,
    step_var: FloatArray,
    step_count: CountArray,
    step_mean: FloatArray,
    resolution: FloatArray,
    has_resolution: bool,
    max_gap: float,
    alpha: float,
    step_alpha: float,
    beta: float,
) -> None:
    """Take x into the state of the series in ``mask``, in place.

    After a gap of more than ``max_gap`` typical intervals the level restarts at warm-up
    speed and there is no previous value to step from. The typical interval is a slow
    average of the gaps, started by the first one. The step's mean and spread, then the
    level's, are robust updates (``robust_step``) clipped at the spreads of the state
    before x.
    """
    for i in range(x.shape[0]):
        if not mask[i]:
            continue
        xi = x[i]
        res = resolution[i] if has_resolution else -np.inf
        floor = floor_of(level[i], res)
        sd = maximum(np.sqrt(var[i]), floor)
        step_root = np.sqrt(step_var[i])
        gap = t[i] - t_prev[i]
        c = count[i]
        p = prev[i]
        if gap > max_gap * dt[i]:
            c = minimum(c, WARM_RESTART)
            p = np.nan
        if np.isfinite(gap) and gap > 0:
            dt[i] = gap if np.isnan(dt[i]) else 0.95 * dt[i] + 0.05 * gap
        t_prev[i] = t[i]
        step = xi - p
        if np.isfinite(step):
            mean = step_mean[i]
            step_sd = maximum(step_root, floor_of(mean, res))
            step_mean[i], step_var[i], step_count[i] = robust_step(
                mean, step_var[i], step_count[i], step, step_sd, step_alpha, beta
            )
        level[i], var[i], count[i] = robust_step(level[i], var[i], c, xi, sd, alpha, beta)
        prev[i] = xi


class RollingDetector(Detector):
    """Robust EWMA level/scale deviation plus robust step size deviation."""

    name = "rolling"
    narrow: ClassVar[dict[str, type]] = {"count": COUNT, "step_count": COUNT}
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
        self.count = np.zeros(n, dtype=COUNT)
        self.prev = np.full(n, np.nan)
        self.step_var = np.zeros(n)
        self.step_count = np.zeros(n, dtype=COUNT)
        self.step_mean = np.zeros(n)

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        stat, expected, lower, upper, kind, detail = _observe(
            t,
            x,
            self.t_prev,
            self.dt,
            self.level,
            self.var,
            self.count,
            self.prev,
            self.step_var,
            self.step_mean,
            *self._resolution_args(),
            float(self.min_points),
            float(self.max_gap),
        )
        return Frame(stat, expected, lower, upper, kind, detail)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        _learn(
            t,
            x,
            mask,
            self.t_prev,
            self.dt,
            self.level,
            self.var,
            self.count,
            self.prev,
            self.step_var,
            self.step_count,
            self.step_mean,
            *self._resolution_args(),
            float(self.max_gap),
            float(self.alpha),
            self.alpha * 0.2,
            float(self.beta),
        )

    def baseline(self) -> tuple[FloatArray, FloatArray]:
        """Each series' level and spread (its sd, floored as ``observe`` floors it), in the
        units of its input: what a point is compared with."""
        return self.level.copy(), np.maximum(np.sqrt(self.var), self._scale_floor(self.level))

    def shift_input(self, mask: BoolArray, delta: FloatArray) -> None:
        shift_levels(mask, delta, self.level, self.prev)

    def drifting(self) -> BoolArray:
        """Series whose usual step is larger than its spread (``DRIFT`` times): they climb
        or fall every point, a running total or a ramp, and the level lags them by a
        constant its spread has learned. On NAB and SMD no series that takes a seasonal
        model comes near (at most 0.14 and 0.56 when they take it); a cumulative count of
        orders is at 13 to 38, a perfect ramp infinitely far."""
        spread = np.sqrt(self.step_var)
        drifting: BoolArray = np.abs(self.step_mean) > DRIFT * spread
        return drifting

    def restart_at(self, mask: BoolArray, level: FloatArray) -> None:
        """Put the masked series' level (and previous value) at ``level``, where the
        ensemble found their new normal; ``adapt`` (called first) has them relearn from
        there at warm-up speed."""
        shift_levels(mask, np.where(mask, level - self.level, 0.0), self.level, self.prev)

    def adapt(self, mask: BoolArray) -> None:
        # Relearn the level at warm-up speed (rates 1/count); the scale re-estimates too,
        # inflated by the move, which keeps the first points after a shift quiet.
        np.minimum(self.count, WARM_RESTART, out=self.count, where=mask)
