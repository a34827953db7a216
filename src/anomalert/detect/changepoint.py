"""Level shifts and trend changes: deviations too small to page on one point, but lasting.

``LevelShiftDetector`` runs a two-sided CUSUM (Page, 1954) on standardised residuals from a
slow robust baseline: each point adds its excess over ``k_ref`` sigmas, so a sustained
1.5σ shift adds up to an alarm within tens of points while single spikes (residuals clipped
at ``clip`` sigmas) cannot. ``TrendDetector`` compares a fast and a slow average of the
series' steps: a slope that changes for good (a leak starting, growth stalling) moves the
fast one away from the slow one by more than the steps' noise explains.

Neither learns from flagged points (the ensemble holds those back), so the statistic keeps
pointing at the shift until the shift is accepted (``adapt``), which resets the sums.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame
from anomalert.detect.robust import WARM_RESTART, robust_update, scale_floor
from anomalert.model import Kind


class LevelShiftDetector(Detector):
    """Two-sided CUSUM of clipped standardised residuals from a slow robust baseline."""

    name = "level_shift"

    def __init__(
        self,
        n: int = 1,
        alpha: float = 0.01,
        beta: float = 0.01,
        k_ref: float = 0.5,
        clip: float = 3.0,
        norm: float = 1.5,
        min_points: int = 30,
    ) -> None:
        super().__init__(n)
        self.alpha = alpha
        self.beta = beta
        self.k_ref = k_ref
        self.clip = clip
        self.norm = norm
        self.min_points = min_points
        self.level = np.zeros(n)
        self.var = np.zeros(n)
        self.count = np.zeros(n)
        self.up = np.zeros(n)
        self.down = np.zeros(n)

    def _sums(self, x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        sd = np.maximum(np.sqrt(self.var), scale_floor(self.level))
        z = np.clip((x - self.level) / sd, -self.clip, self.clip)
        up = np.maximum(0.0, self.up + z - self.k_ref)
        down = np.maximum(0.0, self.down - z - self.k_ref)
        return up, down, sd

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        up, down, sd = self._sums(x)
        stat = np.maximum(up, down) / self.norm
        stat = np.where((self.count >= self.min_points) & np.isfinite(x), stat, np.nan)
        kind = np.full(self.n, np.int8(Kind.LEVEL_SHIFT))
        band = 3.0 * sd
        return Frame(stat, self.level.copy(), self.level - band, self.level + band, kind)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        ready = mask & (self.count >= self.min_points)
        up, down, _ = self._sums(np.where(ready, x, self.level))
        self.up = np.where(ready, up, self.up)
        self.down = np.where(ready, down, self.down)
        robust_update(self.level, self.var, self.count, x, mask, self.alpha, self.beta)

    def adapt(self, mask: BoolArray) -> None:
        self.up = np.where(mask, 0.0, self.up)
        self.down = np.where(mask, 0.0, self.down)
        self.count = np.where(mask, np.minimum(self.count, WARM_RESTART), self.count)


class TrendDetector(Detector):
    """Fast versus slow average step, in units of the noise of a fast average of steps."""

    name = "trend"

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
        sd_step = np.maximum(np.sqrt(self.var), scale_floor(self.level))
        noise = sd_step * np.sqrt(self.fast / (2.0 - self.fast))
        diff = self.fast_mean - self.slow_mean
        stat = np.abs(diff) / noise
        stat = np.where((self.count >= self.min_points) & np.isfinite(x), stat, np.nan)
        expected = self.level + self.slow_mean
        band = 3.0 * sd_step
        return Frame(stat, expected, expected - band, expected + band,
                     np.full(self.n, np.int8(Kind.TREND)))

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        step = x - self.prev
        m = mask & np.isfinite(step)
        if m.any():
            sd = np.maximum(np.sqrt(self.var), scale_floor(self.level))
            warm = self.count > 20
            s = np.where(warm, np.clip(step - self.slow_mean, -3 * sd, 3 * sd) + self.slow_mean,
                         step)
            c = self.count + 1.0
            self.fast_mean = np.where(m, self.fast_mean + np.maximum(self.fast, 1 / c)
                                      * (s - self.fast_mean), self.fast_mean)
            self.slow_mean = np.where(m, self.slow_mean + np.maximum(self.slow, 1 / c)
                                      * (s - self.slow_mean), self.slow_mean)
            r = s - self.slow_mean
            b = np.maximum(self.beta, 1 / c)
            self.var = np.where(m, (1 - b) * self.var + b * r * r, self.var)
            self.count = np.where(m, c, self.count)
        self.level = np.where(mask, x, self.level)
        self.prev = np.where(mask, x, self.prev)

    def adapt(self, mask: BoolArray) -> None:
        self.fast_mean = np.where(mask, self.slow_mean, self.fast_mean)

