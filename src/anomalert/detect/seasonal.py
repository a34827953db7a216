"""Seasonal baseline: is this value unusual for this hour of the day, or of the week?

Monday 09:00 traffic is not an anomaly. Each series learns a deseasonalised level plus two
additive profiles on hourly bins (24 for the day, 168 for the week, linearly interpolated
between bin centres so a sharp business-hours edge costs little), and keeps the residual
variance of three candidate models side by side: flat, daily, daily+weekly. The period is
detected automatically and keeps being re-decided: a model is used once the data span at
least two of its periods and it explains clearly more variance than the simpler one
(``gain``). Profiles are ``float32`` to keep a series' state near 1 KB.

Rates are per point but scaled by the series' own sampling interval, so a 10-second and a
5-minute series remember the same number of days.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame, kinds_from_sign
from anomalert.detect.robust import WARM_RESTART, scale_floor

DAY = 86_400.0
WEEK = 7 * DAY
#: The epoch (1970-01-01) was a Thursday; shifting by three days puts Monday 00:00 at 0.
WEEK_OFFSET = 3 * DAY

FLAT, DAILY, WEEKLY = 0, 1, 2

_Lookup = tuple[FloatArray, FloatArray, tuple, tuple]
_Cache = tuple[FloatArray, _Lookup]


def _interp(profile: np.ndarray, pos: FloatArray) -> tuple[np.ndarray, np.ndarray, FloatArray]:
    """Indices of the two bins around each position and the weight of the second one."""
    bins = profile.shape[0]
    p = pos - 0.5
    lo = np.floor(p)
    w = p - lo
    i0 = lo.astype(np.int64) % bins
    i1 = (i0 + 1) % bins
    return i0, i1, w


class SeasonalDetector(Detector):
    """Deviation from level + hour-of-day + hour-of-week profiles, period chosen per series."""

    name = "seasonal"

    def __init__(
        self,
        n: int = 1,
        level_memory: float = 6 * 3600.0,
        day_memory: float = 7.0,
        week_memory: float = 4.0,
        gain: float = 0.75,
        var_memory: float = DAY,
        select_memory: float = 3 * DAY,
        min_points: int = 30,
        k: float = 4.0,
    ) -> None:
        super().__init__(n)
        self.level_memory = level_memory
        self.day_memory = day_memory
        self.week_memory = week_memory
        self.gain = gain
        self.var_memory = var_memory
        self.select_memory = select_memory
        self.min_points = min_points
        self.k = k
        self.level = np.zeros(n)
        self.count = np.zeros(n)
        self.t_first = np.full(n, np.nan)
        self.t_prev = np.full(n, np.nan)
        self.dt = np.full(n, np.nan)
        self.var = np.zeros((n, 3))
        self.select_var = np.zeros((n, 3))
        self.model = np.zeros(n, dtype=np.int8)
        # Bins first, series second: a tick reads one bin for every series, contiguously.
        self.day = np.zeros((24, n), dtype=np.float32)
        self.week = np.zeros((168, n), dtype=np.float32)

    # -- model -----------------------------------------------------------------------------
    def _profiles(self, t: FloatArray) -> _Lookup:
        # observe and learn of one tick share the time array: look the bins up once.
        cached: _Cache | None = getattr(self, "_cache", None)
        if cached is not None and cached[0] is t:
            return cached[1]
        result = self._lookup(t)
        self._cache: _Cache | None = (t, result)
        return result

    def __getstate__(self) -> dict[str, object]:
        state = dict(vars(self))
        state.pop("_cache", None)
        return state

    def _lookup(self, t: FloatArray) -> _Lookup:
        if self.n > 1 and t[0] == t[-1] and (t == t[0]).all():
            # The service case: every series ticks at the same time, so the bins are the
            # same for all and a column slice replaces a gather.
            t0 = np.nan_to_num(t[:1])
            d0, d1, dw = _interp(self.day, np.mod(t0, DAY) / 3600.0)
            w0, w1, ww = _interp(self.week, np.mod(t0 + WEEK_OFFSET, WEEK) / 3600.0)
            day_eff = self.day[d0[0]] * (1 - dw[0]) + self.day[d1[0]] * dw[0]
            week_eff = self.week[w0[0]] * (1 - ww[0]) + self.week[w1[0]] * ww[0]
            return day_eff, week_eff, (d0[0], d1[0], dw[0]), (w0[0], w1[0], ww[0])
        rows = np.arange(self.n)
        dpos = np.mod(np.nan_to_num(t), DAY) / 3600.0
        wpos = np.mod(np.nan_to_num(t) + WEEK_OFFSET, WEEK) / 3600.0
        d0, d1, dw = _interp(self.day, dpos)
        w0, w1, ww = _interp(self.week, wpos)
        day_eff = self.day[d0, rows] * (1 - dw) + self.day[d1, rows] * dw
        week_eff = self.week[w0, rows] * (1 - ww) + self.week[w1, rows] * ww
        return day_eff, week_eff, (d0, d1, dw), (w0, w1, ww)

    def _chosen(self, t: FloatArray) -> np.ndarray:
        """Which model each series uses now (decided in ``learn``, see ``_select``)."""
        return self.model

    def _select(self, t: FloatArray, mask: BoolArray) -> None:
        """Re-decide each series' model, with hysteresis.

        A richer model is taken once the data span two of its periods and it explains
        clearly more variance (``gain``) over the slow ``select_var``; it is dropped only when
        it stops helping at all. Flipping back and forth would move the deseasonalised input
        of the other detectors by the whole seasonal shape, a false jump each time.
        """
        span = t - self.t_first
        v = self.select_var
        m = self.model
        up_day = (m == FLAT) & (span >= 2 * DAY) & (v[:, DAILY] < self.gain * v[:, FLAT])
        up_week = (m == DAILY) & (span >= 2 * WEEK) & (v[:, WEEKLY] < self.gain * v[:, DAILY])
        down_week = (m == WEEKLY) & (v[:, WEEKLY] > 0.98 * v[:, DAILY])
        down_day = (m == DAILY) & (v[:, DAILY] > 0.98 * v[:, FLAT])
        new = np.where(
            up_day, DAILY, np.where(up_week | down_week, np.where(up_week, WEEKLY, DAILY), m)
        )
        new = np.where(down_day, FLAT, new)
        self.model = np.where(mask, new, m).astype(np.int8)

    def component(self, t: FloatArray) -> FloatArray:
        """The seasonal part of each series' current model at t (0 where none was found)."""
        day_eff, week_eff, _, _ = self._profiles(t)
        model = self._chosen(t)
        return np.where(model == WEEKLY, day_eff + week_eff, np.where(model == DAILY, day_eff, 0.0))

    def period(self, t: FloatArray) -> np.ndarray:
        """The detected period per series in seconds (0 when none), for reasons and reports."""
        model = self._chosen(t)
        return np.choose(model, [0.0, DAY, WEEK])

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        day_eff, week_eff, _, _ = self._profiles(t)
        preds = np.stack([self.level, self.level + day_eff, self.level + day_eff + week_eff], 1)
        model = self._chosen(t)
        rows = np.arange(self.n)
        expected = preds[rows, model]
        sd = np.maximum(np.sqrt(self.var[rows, model]), scale_floor(expected))
        diff = x - expected
        stat = np.abs(diff) / sd
        stat = np.where((self.count >= self.min_points) & np.isfinite(x), stat, np.nan)
        band = 3.0 * sd
        return Frame(stat, expected, expected - band, expected + band, kinds_from_sign(diff))

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        mask = mask & np.isfinite(x) & np.isfinite(t)
        if not mask.any():
            return
        day_eff, week_eff, (d0, d1, dw), (w0, w1, ww) = self._profiles(t)
        c = self.count + 1.0
        first = c == 1.0
        self.t_first = np.where(mask & np.isnan(self.t_first), t, self.t_first)
        gap = t - self.t_prev
        ok_gap = mask & np.isfinite(gap) & (gap > 0)
        self.dt = np.where(
            ok_gap,
            np.where(np.isnan(self.dt), gap, 0.9 * self.dt + 0.1 * np.minimum(gap, DAY)),
            self.dt,
        )
        dt = np.nan_to_num(self.dt, nan=300.0)
        level = np.where(first, x - day_eff - week_eff, self.level)

        # Residual variance of each candidate model, with clipped residuals.
        preds = np.stack([level, level + day_eff, level + day_eff + week_eff], 1)
        resid = x[:, None] - preds
        sd = np.maximum(np.sqrt(self.var), scale_floor(level)[:, None])
        warm = (c > self.min_points)[:, None]
        bound = np.where(warm, self.k * sd, np.inf)
        rc = np.clip(resid, -bound, bound)
        young = 1.0 / np.maximum(c - 1.0, 1.0)
        b = np.maximum(np.minimum(1.0, dt / self.var_memory), young)[:, None]
        new_var = np.where(first[:, None], 0.0, self.var + b * (rc * rc - self.var))
        self.var = np.where(mask[:, None], new_var, self.var)
        bs = np.maximum(np.minimum(1.0, dt / self.select_memory), young)[:, None]
        new_sel = np.where(first[:, None], 0.0, self.select_var + bs * (rc * rc - self.select_var))
        self.select_var = np.where(mask[:, None], new_sel, self.select_var)

        # Level: deseasonalised, memory of ``level_memory`` seconds.
        alpha = np.maximum(np.minimum(1.0, dt / self.level_memory), 1.0 / c)
        deseason = x - day_eff - week_eff - level
        lim = np.where(c > self.min_points, self.k * sd[:, WEEKLY], np.inf)
        step = np.clip(deseason, -lim, lim)
        self.level = np.where(mask, level + alpha * step, self.level)

        # Profiles: what the level leaves, shared between the two bins around t.
        span = np.nan_to_num(t - self.t_first)
        per_hour = np.minimum(1.0, dt / 3600.0)
        g_day = per_hour / np.minimum(span / DAY + 1.0, self.day_memory)
        g_week = per_hour / np.minimum(span / WEEK + 1.0, self.week_memory)
        e_day = np.where(mask, np.clip(x - level - week_eff - day_eff, -lim, lim), 0.0)
        e_week = np.where(mask, np.clip(x - level - day_eff - week_eff, -lim, lim), 0.0)
        for prof, i0, i1, w, e, g in (
            (self.day, d0, d1, dw, e_day, g_day),
            (self.week, w0, w1, ww, e_week, g_week),
        ):
            ge = g * e
            if np.ndim(i0) == 0:
                prof[i0] += (ge * (1 - w)).astype(np.float32)
                prof[i1] += (ge * w).astype(np.float32)
            else:
                rows = np.arange(self.n)
                prof[i0, rows] += (ge * (1 - w)).astype(np.float32)
                prof[i1, rows] += (ge * w).astype(np.float32)
        self.count = np.where(mask, c, self.count)
        self.t_prev = np.where(mask, t, self.t_prev)
        self._select(t, mask)
        self._cache = None

    def grow(self, n: int) -> None:
        extra = n - self.n
        day, week = self.day, self.week
        # Hidden from the generic grow, which extends axis 0 (here the bins).
        del self.day, self.week
        super().grow(n)
        if extra > 0:
            self.day = np.concatenate([day, np.zeros((24, extra), np.float32)], axis=1)
            self.week = np.concatenate([week, np.zeros((168, extra), np.float32)], axis=1)

    def adapt(self, mask: BoolArray) -> None:
        # The shape of the day survives a deploy; the level restarts at warm-up speed.
        self.count = np.where(mask, np.minimum(self.count, WARM_RESTART), self.count)
