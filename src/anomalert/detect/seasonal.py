"""Seasonal baseline: is this value unusual for this hour of the day, or of the week?

Monday 09:00 traffic is not an anomaly. Each series learns a deseasonalised level plus two
additive profiles (96 quarter-hour bins for the day, so a sharp business-hours edge is
fitted within minutes; 168 hourly ones for the week; both linearly interpolated between bin
centres, except that two day bins forming an edge meet as a step), and keeps the residual
variance of three candidate models side by side: flat (a level with a memory of hours),
daily and daily+weekly (a slow level with a day's memory, plus the profiles). The period
is detected automatically and keeps being re-decided: a model is used once the data span
at least two of its periods and it explains clearly more variance than the simpler one
(``gain``). Profiles are ``float32`` to keep a series' state under 2 KB.

Rates are per point but scaled by the series' own sampling interval, so a 10-second and a
5-minute series remember the same number of days.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame, kinds_from_sign
from anomalert.detect.kernels import Where, clip, learning, patch
from anomalert.detect.robust import WARM_RESTART

DAY = 86_400.0
WEEK = 7 * DAY
#: The epoch (1970-01-01) was a Thursday; shifting by three days puts Monday 00:00 at 0.
WEEK_OFFSET = 3 * DAY

FLAT, DAILY, WEEKLY = 0, 1, 2
#: Two neighbouring profile bins are an edge (a step, not a ramp) when they differ by more than
#: this many times the steps on either side of them, and by more than ``EDGE_SIGMAS`` residual
#: standard deviations (so that a noisy flat profile does not turn into random steps).
EDGE_RATIO = 4.0
EDGE_SIGMAS = 2.0

_Lookup = tuple[FloatArray, FloatArray, tuple, tuple]
_Cache = tuple[FloatArray, _Lookup]


class _Models(NamedTuple):
    """Which series use which model; changes only when ``_select`` re-decides."""

    seasonal: BoolArray  # daily or weekly
    weekly: BoolArray
    any_seasonal: bool
    any_weekly: bool


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
    # Bins (or candidate models) first, series second: a tick reads one contiguous row of
    # each for every series.
    series_last = ("day", "week", "var", "select_var")

    def __init__(
        self,
        n: int = 1,
        level_memory: float = 6 * 3600.0,
        base_memory: float = DAY,
        day_memory: float = 7.0,
        week_memory: float = 4.0,
        gain: float = 0.75,
        var_memory: float = DAY,
        select_memory: float = 3 * DAY,
        min_points: int = 30,
        k: float = 4.0,
        day_bins: int = 96,
    ) -> None:
        super().__init__(n)
        self.level_memory = level_memory
        self.base_memory = base_memory
        self.day_memory = day_memory
        self.week_memory = week_memory
        self.gain = gain
        self.var_memory = var_memory
        self.select_memory = select_memory
        self.min_points = min_points
        self.k = k
        if day_bins % 24:
            raise ValueError(f"day_bins must be a multiple of 24, got {day_bins}")
        self.level = np.zeros(n)
        # The seasonal models predict, and the profiles learn, against a slow level (a day's
        # memory, ``base``). The fast level (the flat model's) follows a daily shape the
        # profiles have not learned yet within hours, so against it they learned only what
        # it left over and, once learned, it still swung with every day's misfit; a missing
        # business-hours peak was absorbed by it within the hour.
        self.base = np.zeros(n)
        self.count = np.zeros(n)
        self.t_first = np.full(n, np.nan)
        self.t_prev = np.full(n, np.nan)
        self.dt = np.full(n, np.nan)
        # Residual variance of each candidate model (FLAT, DAILY, WEEKLY), fast and slow.
        self.var = np.zeros((3, n))
        self.select_var = np.zeros((3, n))
        self.model = np.zeros(n, dtype=np.int8)
        self.day = np.zeros((day_bins, n), dtype=np.float32)
        self.week = np.zeros((168, n), dtype=np.float32)

    @property
    def day_bins(self) -> int:
        """Bins of the daily profile, read off the array (a checkpoint keeps its own)."""
        return int(self.day.shape[0])

    @property
    def _day_bin(self) -> float:
        """Seconds per bin of the daily profile."""
        return DAY / self.day_bins

    # -- model -----------------------------------------------------------------------------
    def _profiles(self, t: FloatArray) -> _Lookup:
        # observe and learn of one tick share the time array: look the bins up once.
        caches = self._caches()
        hit: _Cache | None = caches.get("profiles")
        if hit is None or hit[0] is not t:
            hit = caches["profiles"] = (t, self._lookup(t))
        return hit[1]

    def _lookup(self, t: FloatArray) -> _Lookup:
        if self.n > 1 and t[0] == t[-1] and (t == t[0]).all():
            # The service case: every series ticks at the same time, so the bins are the
            # same for all and a column slice replaces a gather.
            t0 = t[:1] if math.isfinite(t[0]) else np.nan_to_num(t[:1])
            d0, d1, dw = _interp(self.day, np.mod(t0, DAY) / self._day_bin)
            dw = self._edge_weight(d0[0], d1[0], dw[0], DAILY)
            w0, w1, ww = _interp(self.week, np.mod(t0 + WEEK_OFFSET, WEEK) / 3600.0)
            ww = self._edge_weight(w0[0], w1[0], ww[0], WEEKLY)
            day_eff = self.day[d0[0]] * (1 - dw) + self.day[d1[0]] * dw
            week_eff = self.week[w0[0]] * (1 - ww) + self.week[w1[0]] * ww
            return day_eff, week_eff, (d0[0], d1[0], dw), (w0[0], w1[0], ww)
        rows = np.arange(self.n)
        t = np.nan_to_num(t)
        dpos = np.mod(t, DAY) / self._day_bin
        wpos = np.mod(t + WEEK_OFFSET, WEEK) / 3600.0
        d0, d1, dw = _interp(self.day, dpos)
        dw = self._edge_weight(d0, d1, dw, DAILY)
        w0, w1, ww = _interp(self.week, wpos)
        ww = self._edge_weight(w0, w1, ww, WEEKLY)
        day_eff = self.day[d0, rows] * (1 - dw) + self.day[d1, rows] * dw
        week_eff = self.week[w0, rows] * (1 - ww) + self.week[w1, rows] * ww
        return day_eff, week_eff, (d0, d1, dw), (w0, w1, ww)

    def _edge_weight(self, i0: np.ndarray, i1: np.ndarray, w: FloatArray, model: int) -> FloatArray:
        """The second bin's weight, as a step instead of a ramp where the two bins are an edge.

        Linear interpolation fits a smooth daily curve, but turns a sharp business-hours edge
        into a ramp a bin wide: a few points per edge and day then miss by up to half the
        edge, which inflates the residual spread and the tail the seasonal score is judged
        against. Two bins are an edge when their difference is several times the
        differences on either side of them (a smooth curve changes by similar steps).
        ``model`` picks the profile: DAILY the day's bins, WEEKLY the week's hourly ones,
        whose edges are where weekdays and weekends differ (a weekday-only 09:00 start: a
        ramp an hour wide there missed by up to half the weekday-weekend difference).
        """
        prof = self.day if model == DAILY else self.week
        bins = prof.shape[0]
        rows = np.arange(self.n) if np.ndim(i0) else slice(None)
        a = prof[(i0 - 1) % bins, rows]
        b = prof[i0, rows]
        c = prof[i1, rows]
        d = prof[(i1 + 1) % bins, rows]
        jump = np.abs(c - b)
        around = np.maximum(np.abs(b - a), np.abs(d - c))
        edge = jump > EDGE_RATIO * around + self._level_floor()
        edge &= jump > EDGE_SIGMAS * self._root_var()[model]
        if not edge.any():
            return w if np.ndim(w) else np.full(self.n, w)
        return np.where(edge, np.where(w >= 0.5, 1.0, 0.0), w)

    def _models(self) -> _Models:
        return self._cached("models", self._compute_models)

    def _compute_models(self) -> _Models:
        seasonal = self.model != FLAT
        weekly = self.model == WEEKLY
        return _Models(seasonal, weekly, bool(seasonal.any()), bool(weekly.any()))

    def _root_var(self) -> FloatArray:
        """``sqrt(var)`` of the three models: observe reads the chosen one, learn all three."""
        return self._cached("root_var", lambda: np.sqrt(self.var))

    def _level_floor(self) -> FloatArray:
        """``scale_floor(level)``: the flat model's floor in observe, every model's in learn."""
        return self._cached("level_floor", lambda: self._scale_floor(self.level))

    def _pick(self, flat: FloatArray, daily: FloatArray, weekly: FloatArray) -> FloatArray:
        """Per series, the value of the model it uses (a new array)."""
        ms = self._models()
        if not ms.any_seasonal:
            return flat.copy()
        out = np.where(ms.seasonal, daily, flat)
        if ms.any_weekly:
            np.copyto(out, weekly, where=ms.weekly)
        return out

    def _select(self, span: FloatArray, mask: BoolArray) -> None:
        """Re-decide each series' model, with hysteresis.

        A richer model is taken once the data span two of its periods and it explains
        clearly more variance (``gain``) over the slow ``select_var``; it is dropped only when
        it stops helping at all. Flipping back and forth would move the deseasonalised input
        of the other detectors by the whole seasonal shape, a false jump each time.

        ``span`` is the time since each series' first point. Each move is only evaluated
        when some series could make it (the same result as evaluating all of them).
        """
        v = self.select_var
        ms = self._models()
        moves: list[tuple[BoolArray, int]] = []  # applied in order: later ones win
        if not ms.seasonal.all():
            two_days = span >= 2 * DAY
            if two_days.any():
                up_day = ~ms.seasonal & two_days & (v[DAILY] < self.gain * v[FLAT])
                moves.append((up_day, DAILY))
        daily = ms.seasonal & ~ms.weekly if ms.any_seasonal else None
        if daily is not None and daily.any():
            two_weeks = span >= 2 * WEEK
            if two_weeks.any():
                up_week = daily & two_weeks & (v[WEEKLY] < self.gain * v[DAILY])
                moves.append((up_week, WEEKLY))
        if ms.any_weekly:
            moves.append((ms.weekly & (v[WEEKLY] > 0.98 * v[DAILY]), DAILY))
        if daily is not None and daily.any():
            moves.append((daily & (v[DAILY] > 0.98 * v[FLAT]), FLAT))
        for move, model in moves:
            move &= mask
            if move.any():
                self.model[move] = model

    def component(self, t: FloatArray) -> FloatArray:
        """The seasonal part of each series' current model at t (0 where none was found)."""
        day_eff, week_eff, _, _ = self._profiles(t)
        ms = self._models()
        if not ms.any_seasonal:
            return np.zeros(self.n)
        comp = np.where(ms.seasonal, day_eff, 0.0)
        if ms.any_weekly:
            np.add(day_eff, week_eff, out=comp, where=ms.weekly)
        return comp

    def period(self, t: FloatArray) -> np.ndarray:
        """The detected period per series in seconds (0 when none), for reasons and reports."""
        return np.choose(self.model, [0.0, DAY, WEEK])

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        day_eff, week_eff, _, _ = self._profiles(t)
        ms = self._models()
        root = self._root_var()
        if ms.any_seasonal:
            with_day = self.base + day_eff
            expected = self._pick(self.level, with_day, with_day + week_eff)
            sd = self._pick(root[FLAT], root[DAILY], root[WEEKLY])
            np.maximum(sd, self._scale_floor(expected), out=sd)
        else:
            expected = self.level.copy()
            sd = np.maximum(root[FLAT], self._level_floor())
        diff = x - expected
        stat = np.abs(diff)
        stat /= sd
        patch(stat, np.nan, (self.count < self.min_points) | ~np.isfinite(x))
        band = 3.0 * sd
        return Frame(stat, expected, expected - band, expected + band, kinds_from_sign(diff))

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        mask = mask & np.isfinite(x) & np.isfinite(t)
        w = learning(mask)
        if w is not True and not mask.any():
            return
        day_eff, week_eff, (d0, d1, dw), (w0, w1, ww) = self._profiles(t)
        c_min = float(self.count.min())
        c = self.count + 1.0
        first = c == 1.0 if c_min == 0.0 else None
        unset = np.isnan(self.t_first)
        if unset.any():
            np.copyto(self.t_first, t, where=mask & unset)
        dt = self._interval(t, mask)
        # x with the seasonal shape removed; a series' first point starts its level there.
        deseason = x - day_eff
        deseason -= week_eff
        level = self.level if first is None else np.where(first, deseason, self.level)
        base = self.base if first is None else np.where(first, deseason, self.base)

        # Residual variance of each candidate model, with residuals clipped at k sds; one
        # model at a time, so that what its update touches stays in cache.
        floor = self._level_floor() if first is None else self._scale_floor(level)
        cold = None if c_min + 1.0 > self.min_points else c <= self.min_points
        young = 1.0 / np.maximum(self.count, 1.0)  # 1 / max(c - 1, 1): counts are whole
        var_rate = self._rate(dt, self.var_memory, young)
        select_rate = self._rate(dt, self.select_memory, young)
        first_learned = None if first is None else first & mask
        with_day = base + day_eff
        resid_flat = x - level
        for model, pred in enumerate((level, with_day, with_day + week_eff)):
            bound = np.maximum(self._root_var()[model], floor)
            bound *= self.k
            if cold is not None:
                np.copyto(bound, np.inf, where=cold)
            sq = resid_flat * resid_flat if model == FLAT else np.square(x - pred)
            # clip(r, -b, b) ** 2 == min(r ** 2, b ** 2) exactly: rounding is monotone, b > 0.
            np.minimum(sq, np.square(bound), out=sq)
            self._decay(self.var[model], sq, var_rate, first_learned, w)
            self._decay(self.select_var[model], sq, select_rate, first_learned, w)
        lim = bound  # the weekly model's, which also clips the level and the profiles
        neg_lim = -lim
        # What the slow level leaves for the profiles (before the levels move).
        resid_base = x - base
        e_day = resid_base - week_eff
        e_day -= day_eff
        clip(e_day, neg_lim, lim, out=e_day)
        e_week = np.subtract(resid_base, day_eff, out=resid_base)
        e_week -= week_eff
        clip(e_week, neg_lim, lim, out=e_week)
        # Slow level: deseasonalised, memory of ``base_memory`` seconds.
        gap = deseason - base
        self._follow(self.base, base, gap, dt, self.base_memory, c, (neg_lim, lim), w)

        # Level: deseasonalised, memory of ``level_memory`` seconds.
        deseason -= level
        self._follow(self.level, level, deseason, dt, self.level_memory, c, (neg_lim, lim), w)

        span = t - self.t_first
        self._select(span, mask)

        # Profiles: what the slow level leaves, shared between the two bins around t.
        if w is not True:
            np.nan_to_num(span, copy=False)
            np.copyto(e_day, 0.0, where=~mask)
            np.copyto(e_week, 0.0, where=~mask)
        per_hour = np.minimum(1.0, dt / 3600.0)
        per_bin = np.minimum(1.0, dt / self._day_bin)
        g_day = span / DAY
        g_day += 1.0
        np.minimum(g_day, self.day_memory, out=g_day)
        np.divide(per_bin, g_day, out=g_day)
        g_week = np.divide(span, WEEK, out=span)
        g_week += 1.0
        np.minimum(g_week, self.week_memory, out=g_week)
        np.divide(per_hour, g_week, out=g_week)
        for prof, i0, i1, wt, e, g in (
            (self.day, d0, d1, dw, e_day, g_day),
            (self.week, w0, w1, ww, e_week, g_week),
        ):
            ge = np.multiply(g, e, out=e)
            if np.ndim(i0) == 0:
                # float64 products rounded to float32 by ``out``, as ``astype`` would.
                share = np.empty(self.n, dtype=np.float32)
                prof[i0] += np.multiply(ge, 1 - wt, out=share)
                prof[i1] += np.multiply(ge, wt, out=share)
            else:
                rows = np.arange(self.n)
                prof[i0, rows] += (ge * (1 - wt)).astype(np.float32)
                prof[i1, rows] += (ge * wt).astype(np.float32)
        self._center_week(w0, w1, ww, e_week)
        np.add(self.count, 1.0, out=self.count, where=w)
        np.copyto(self.t_prev, t, where=w)
        self._forget()

    def _center_week(
        self, w0: np.ndarray, w1: np.ndarray, ww: FloatArray, step: FloatArray
    ) -> None:
        """Move what the week profile just learned in common to all days into the day profile.

        Both profiles learn from the same residual, so a purely daily shape would otherwise
        end up split between them (the week profile learns fast in the first days), and the
        daily model, level + day, would miss the part the week profile took: a square daily
        wave was fitted at three quarters of its height. Keeping each hour's seven week bins
        at mean zero makes the split unique: the day profile holds the shape every day
        shares, the week profile only how the days differ. The weekly model's prediction is
        unchanged by the move, up to the day profile's finer bins.
        """
        per_hour = self.day.shape[0] // 24
        for i, share in ((w0, 1.0 - ww), (w1, ww)):
            moved = (step * share / 7.0).astype(np.float32)
            hour = i % 24
            if np.ndim(i) == 0:
                self.week[hour::24] -= moved
                self.day[hour * per_hour : (hour + 1) * per_hour] += moved
            else:
                # Each series' own bins: one gather per profile (no two rows repeat a cell).
                rows = np.arange(self.n)
                days = hour + 24 * np.arange(7)[:, None]
                self.week[days, rows] -= moved
                bins = hour * per_hour + np.arange(per_hour)[:, None]
                self.day[bins, rows] += moved

    def _interval(self, t: FloatArray, mask: BoolArray) -> FloatArray:
        """Update the typical sampling interval; returns it (300 s where still unknown)."""
        gap = t - self.t_prev
        ok = mask & np.isfinite(gap) & (gap > 0)
        dt = np.minimum(gap, DAY)
        dt *= 0.1
        dt += 0.9 * self.dt
        unknown = np.isnan(self.dt)
        if unknown.any():
            np.copyto(dt, gap, where=unknown)
        np.copyto(self.dt, dt, where=learning(ok))
        return np.where(np.isnan(self.dt), 300.0, self.dt) if unknown.any() else self.dt

    @staticmethod
    def _follow(
        out: FloatArray,
        level: FloatArray,
        gap: FloatArray,
        dt: FloatArray,
        memory: float,
        count: FloatArray,
        bounds: tuple[FloatArray, FloatArray],
        where: Where,
    ) -> None:
        """``out = level + rate * clip(gap, *bounds)`` where ``where`` holds, the rate that
        of a memory of ``memory`` seconds, at least 1 / count while young; ``gap`` is used
        as scratch (the fast and the slow level move the same way, at their own memories).
        """
        rate = np.minimum(1.0, dt / memory)
        np.maximum(rate, 1.0 / count, out=rate)
        step = clip(gap, *bounds, out=gap)
        step *= rate
        np.add(step, level, out=out, where=where)

    @staticmethod
    def _rate(dt: FloatArray, memory: float, young: FloatArray) -> FloatArray:
        """Per point rate of a memory of ``memory`` seconds (at least 1/count while young)."""
        rate = np.minimum(1.0, dt / memory)
        return np.maximum(rate, young, out=rate)

    @staticmethod
    def _decay(
        var: FloatArray, sq: FloatArray, rate: FloatArray, first: BoolArray | None, where: Where
    ) -> None:
        """``var += rate * (sq - var)`` in place; a series' first point (``first``) sets 0."""
        step = sq - var
        step *= rate
        np.add(step, var, out=var, where=where)
        if first is not None:
            np.copyto(var, 0.0, where=first)

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        # A checkpoint from before the slow level existed starts it at the fast one.
        if "base" not in state:
            self.base = np.array(self.level, copy=True)
            self.base_memory = DAY

    def adapt(self, mask: BoolArray) -> None:
        # The shape of the day survives a deploy; the level restarts at warm-up speed.
        np.minimum(self.count, WARM_RESTART, out=self.count, where=mask)
        self._forget()
