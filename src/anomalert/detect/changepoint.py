"""Level shifts and trend changes: deviations too small to page on one point, but lasting.

``LevelShiftDetector`` compares a fast mean of clipped values with a slow robust baseline,
so a sustained shift adds up to an alarm within tens of points while single spikes cannot.
``TrendDetector`` compares a fast and a slow average of the series' steps: a slope that
changes for good (a leak starting, growth stalling) moves the fast one away from the slow
one by more than the steps' noise explains.

Neither learns from flagged points (the ensemble holds those back), so the statistic keeps
pointing at the shift until the shift is accepted (``adapt``), which restarts the baselines.
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
    huber_clip,
    robust_step,
    shift_levels,
)
from anomalert.model import Kind

_LEVEL_SHIFT = np.int8(Kind.LEVEL_SHIFT)


@kernel
def _fast(
    x: float,
    level: float,
    sd: float,
    count: float,
    fast_mean: float,
    clip: float,
    fast: float,
) -> float:
    """One series' fast mean after taking x in: x clipped to ``clip`` spreads of the level
    first, at a rate of at least 1/count while the series is young."""
    spread = clip * sd
    clipped = minimum(maximum(x, level - spread), level + spread)
    rate = maximum(fast, 1.0 / (count + 1.0))
    return (clipped - fast_mean) * rate + fast_mean


@kernel
def _observe(
    x: FloatArray,
    level: FloatArray,
    var: FloatArray,
    count: CountArray,
    fast_mean: FloatArray,
    gap_var: FloatArray,
    resolution: FloatArray,
    has_resolution: bool,
    clip: float,
    fast: float,
    min_points: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """Per series: the gap between the fast mean (x taken in) and the level, in units of
    its usual spread; the level and its 3-sd band. No opinion while cold or where x is not
    finite."""
    n = x.shape[0]
    stat = np.empty(n)
    expected = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    kind = np.full(n, _LEVEL_SHIFT)
    for i in range(n):
        lv = level[i]
        res = resolution[i] if has_resolution else -np.inf
        floor = floor_of(lv, res)
        sd = maximum(np.sqrt(var[i]), floor)
        if count[i] < min_points or not np.isfinite(x[i]):
            stat[i] = np.nan
        else:
            gap = _fast(x[i], lv, sd, count[i], fast_mean[i], clip, fast) - lv
            stat[i] = abs(gap) / maximum(np.sqrt(gap_var[i]), floor)
        band = 3.0 * sd
        expected[i] = lv
        lower[i] = lv - band
        upper[i] = lv + band
    return stat, expected, lower, upper, kind


@kernel
def _learn(
    x: FloatArray,
    mask: BoolArray,
    level: FloatArray,
    var: FloatArray,
    count: CountArray,
    fast_mean: FloatArray,
    gap_var: FloatArray,
    resolution: FloatArray,
    has_resolution: bool,
    clip: float,
    fast: float,
    alpha: float,
    beta: float,
) -> None:
    """Take x into the state of the series in ``mask``, in place: the fast mean, the
    spread of its gap to the level (at a rate of at least 1/count while young), then the
    level itself (``robust_step``), all from the state before x.

    The gap enters its spread clipped at three spreads (``huber_clip``), as
    ``robust_step`` clips the level's innovations: the points of a shift the ensemble did
    not flag are learned, and at full weight their gaps, several spreads each, swelled the
    spread within a handful of points, so the statistic fell while the shift went on.
    """
    for i in range(x.shape[0]):
        if not mask[i]:
            continue
        lv = level[i]
        c = count[i]
        res = resolution[i] if has_resolution else -np.inf
        floor = floor_of(lv, res)
        sd = maximum(np.sqrt(var[i]), floor)
        new_fast = _fast(x[i], lv, sd, c, fast_mean[i], clip, fast)
        gap = new_fast - lv
        g = huber_clip(gap, maximum(np.sqrt(gap_var[i]), floor), c)
        b = maximum(beta, 1.0 / (c + 1.0))
        gap_var[i] = (1.0 - b) * gap_var[i] + g * b * g
        fast_mean[i] = new_fast
        level[i], var[i], count[i] = robust_step(lv, var[i], c, x[i], sd, alpha, beta)


class LevelShiftDetector(Detector):
    """A fast mean of clipped values against a slow robust baseline, in units of its own spread.

    The fast mean moves within tens of points when the level changes; single spikes are
    clipped to ``clip`` point-sigmas before they enter it. Dividing the gap by the spread the
    gap itself usually shows (learned per series, robustly) makes the statistic honest on
    autocorrelated series, where a CUSUM that assumes independent residuals fires forever.

    ``observe`` and ``learn`` are each one compiled pass over the series; both derive what
    they need from the state as it was before the tick, so learning after observing is
    learning alone.
    """

    name = "level_shift"
    narrow: ClassVar[dict[str, type]] = {"count": COUNT}
    accumulates = True
    deseasonalized = True

    def __init__(
        self,
        n: int = 1,
        alpha: float = 0.005,
        fast: float = 0.1,
        beta: float = 0.005,
        clip: float = 3.0,
        min_points: int = 60,
    ) -> None:
        super().__init__(n)
        self.alpha = alpha
        self.fast = fast
        self.beta = beta
        self.clip = clip
        self.min_points = min_points
        self.level = np.zeros(n)
        self.var = np.zeros(n)
        self.count = np.zeros(n, dtype=COUNT)
        self.fast_mean = np.zeros(n)
        self.gap_var = np.zeros(n)

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        stat, expected, lower, upper, kind = _observe(
            x,
            self.level,
            self.var,
            self.count,
            self.fast_mean,
            self.gap_var,
            *self._resolution_args(),
            float(self.clip),
            float(self.fast),
            float(self.min_points),
        )
        return Frame(stat, expected, lower, upper, kind)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        _learn(
            x,
            mask,
            self.level,
            self.var,
            self.count,
            self.fast_mean,
            self.gap_var,
            *self._resolution_args(),
            float(self.clip),
            float(self.fast),
            float(self.alpha),
            float(self.beta),
        )

    def shift_input(self, mask: BoolArray, delta: FloatArray) -> None:
        shift_levels(mask, delta, self.level, self.fast_mean)

    def adapt(self, mask: BoolArray) -> None:
        np.minimum(self.count, WARM_RESTART, out=self.count, where=mask)


class TrendDetector(Detector):
    """Fast versus slow average step, in units of the noise of a fast average of steps."""

    name = "trend"
    accumulates = True
    deseasonalized = True

    def __init__(
        self,
        n: int = 1,
        fast: float = 0.02,
        slow: float = 0.002,
        beta: float = 0.01,
        min_points: int = 200,
    ) -> None:
        super().__init__(n)
        self.fast = fast
        self.slow = slow
        self.beta = beta
        self.min_points = min_points
        self.prev = np.full(n, np.nan)
        self.fast_mean = np.zeros(n)
        self.slow_mean = np.zeros(n)
        self.var = np.zeros(n)
        self.count = np.zeros(n)
        self.level = np.zeros(n)

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        sd_step = np.maximum(np.sqrt(self.var), self._scale_floor(self.level))
        noise = sd_step * np.sqrt(self.fast / (2.0 - self.fast))
        diff = self.fast_mean - self.slow_mean
        stat = np.abs(diff) / noise
        stat = np.where((self.count >= self.min_points) & np.isfinite(x), stat, np.nan)
        expected = self.level + self.slow_mean
        band = 3.0 * sd_step
        return Frame(
            stat, expected, expected - band, expected + band, np.full(self.n, np.int8(Kind.TREND))
        )

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        step = x - self.prev
        m = mask & np.isfinite(step)
        if m.any():
            sd = np.maximum(np.sqrt(self.var), self._scale_floor(self.level))
            warm = self.count > 20
            s = np.where(
                warm, np.clip(step - self.slow_mean, -3 * sd, 3 * sd) + self.slow_mean, step
            )
            c = self.count + 1.0
            self.fast_mean = np.where(
                m,
                self.fast_mean + np.maximum(self.fast, 1 / c) * (s - self.fast_mean),
                self.fast_mean,
            )
            self.slow_mean = np.where(
                m,
                self.slow_mean + np.maximum(self.slow, 1 / c) * (s - self.slow_mean),
                self.slow_mean,
            )
            r = s - self.slow_mean
            b = np.maximum(self.beta, 1 / c)
            self.var = np.where(m, (1 - b) * self.var + b * r * r, self.var)
            self.count = np.where(m, c, self.count)
        self.level = np.where(mask, x, self.level)
        self.prev = np.where(mask, x, self.prev)

    def shift_input(self, mask: BoolArray, delta: FloatArray) -> None:
        self.level += np.where(mask, delta, 0.0)
        self.prev += np.where(mask, delta, 0.0)

    def adapt(self, mask: BoolArray) -> None:
        self.fast_mean = np.where(mask, self.slow_mean, self.fast_mean)
