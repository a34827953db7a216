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

from typing import NamedTuple

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame
from anomalert.detect.kernels import clip, learning, patch, young_rate
from anomalert.detect.robust import WARM_RESTART, robust_update
from anomalert.model import Kind


class _Bounds(NamedTuple):
    """What observe and learn of one tick both derive from the state (computed once)."""

    sd: FloatArray  # spread of the points around the slow level, floored
    lo: FloatArray  # points are clipped to [lo, hi] before they enter the fast mean
    hi: FloatArray
    rate: float | FloatArray  # the fast mean's rate, at least 1/count while young
    gap_sd: FloatArray  # usual spread of fast mean minus level, floored
    cold: BoolArray  # too few points for an opinion
    count_min: float  # the youngest series' count (young rates, robust_update)


class LevelShiftDetector(Detector):
    """A fast mean of clipped values against a slow robust baseline, in units of its own spread.

    The fast mean moves within tens of points when the level changes; single spikes are
    clipped to ``clip`` point-sigmas before they enter it. Dividing the gap by the spread the
    gap itself usually shows (learned per series) makes the statistic honest on
    autocorrelated series, where a CUSUM that assumes independent residuals fires forever.
    """

    name = "level_shift"
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
        self.count = np.zeros(n)
        self.fast_mean = np.zeros(n)
        self.gap_var = np.zeros(n)

    def _bounds(self) -> _Bounds:
        return self._cached("bounds", self._compute_bounds)

    def _compute_bounds(self) -> _Bounds:
        floor = self._scale_floor(self.level)
        sd = np.maximum(np.sqrt(self.var), floor)
        reach = self.clip * sd
        gap_sd = np.sqrt(self.gap_var)
        count_min = float(self.count.min())
        return _Bounds(
            sd,
            self.level - reach,
            np.add(self.level, reach, out=reach),
            young_rate(self.fast, self.count, count_min),
            np.maximum(gap_sd, floor, out=gap_sd),
            self.count < self.min_points,
            count_min,
        )

    def _fast(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The fast mean after taking x in (clipped), for every series, and its gap to the
        level: observe scores the gap, learn stores both (computed once per tick)."""
        return self._cached_for("fast", x, lambda: self._compute_fast(x))

    def _compute_fast(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        b = self._bounds()
        fast = clip(x, b.lo, b.hi)
        fast -= self.fast_mean
        fast *= b.rate
        fast += self.fast_mean
        return fast, fast - self.level

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        b = self._bounds()
        _, gap = self._fast(x)
        stat = np.abs(gap)
        stat /= b.gap_sd
        patch(stat, np.nan, b.cold | ~np.isfinite(x))
        kind = np.full(self.n, np.int8(Kind.LEVEL_SHIFT))
        band = 3.0 * b.sd
        return Frame(stat, self.level.copy(), self.level - band, self.level + band, kind)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        bounds = self._bounds()
        w = learning(mask)
        # Computed for every series (the same x as observe); stored only where mask holds.
        fast, gap = self._fast(x)
        b = young_rate(self.beta, self.count, bounds.count_min)
        gap_var = gap * b
        gap_var *= gap
        np.add((1 - b) * self.gap_var, gap_var, out=self.gap_var, where=w)
        np.copyto(self.fast_mean, fast, where=w)
        robust_update(
            self.level,
            self.var,
            self.count,
            x,
            mask,
            self.alpha,
            self.beta,
            sd=bounds.sd,
            count_min=bounds.count_min,
        )
        self._forget()

    def shift_input(self, mask: BoolArray, delta: FloatArray) -> None:
        self.level += np.where(mask, delta, 0.0)
        self.fast_mean += np.where(mask, delta, 0.0)
        self._forget()

    def adapt(self, mask: BoolArray) -> None:
        np.minimum(self.count, WARM_RESTART, out=self.count, where=mask)
        self._forget()


class TrendDetector(Detector):
    """Fast versus slow average step, in units of the noise of a fast average of steps."""

    name = "trend"
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
