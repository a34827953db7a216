"""Forecast: when will a saturating metric (memory, disk, a pool) reach its limit?

Model: a damped-trend exponential smoothing (Holt) per series, on irregular timestamps. The
trend ``b`` is per second and decays with time constant ``damping_time`` (``inf``: none), so
the forecast ``h`` seconds ahead of level ``l`` is

    m(h) = l + b·g(h),   g(h) = τ·(1 - exp(-h/τ))   (τ = damping_time; g(h) = h if τ = inf)

A point ``dt`` seconds after the last one is first predicted (``l + b·g(dt)``, trend
``b·exp(-dt/τ)``), then corrected with the innovation ``e`` clipped at ``clip`` forecast
standard deviations (Huber, as in robust EWMA: one spike moves the fit a bounded amount),
with rates that follow the elapsed time rather than the point count, so gaps and irregular
sampling need no special case:

    α = 1 - exp(-dt/level_time),  β = 1 - exp(-dt/trend_time)
    l ← l_pred + α·e,             b ← b_pred + α·β·e/dt

``shift_after`` clipped innovations of one sign in a row end the clipping: the level jumps to
the new value; the trend stays what it was before the run (a step) unless the run's own
slope differs from it by more than ``clip`` times its noise (a ramp too steep to follow).

Uncertainty: ``s²``, the running (clipped, time-weighted) one-step error variance, gives the
standard errors of the level and of the trend of a Holt filter at the typical sampling
interval Δ (α, β taken at Δ); the trend's is never below how much the trend has wandered
lately, ``v_b``: the exponentially weighted variance of ``b`` (memory ``trend_time``), which
also takes ``(jump/trend_time)²`` for an accepted step and the noise of a ramp's slope, so a
sawtooth (GC cycles) or a step near the limit is not extrapolated with confidence:

    σ_l² = s²·α/(2 - α),    σ_b² = max(s²·α²·β / (Δ²·(2 - β)), v_b)
    V(h) = σ_l² + g(h)²·σ_b²                  (variance of the level h seconds ahead)

Covariances are ignored. The path is monotone in h, so the limit ``L`` is crossed within the
horizon ``H`` exactly when the level at ``H`` (or already now) is above it:

    z = max((l - L)/σ_l, (m(H) - L)/√V(H)),   p = Φ(z),   stat = max(z, 0)

the normal quantile of the breach probability floored at 0 (the |N(0, 1)| scale the
calibrator expects; 0 on a series that is not heading for its limit). The expected time to
breach solves ``m(T) = L``: ``T = -τ·ln(1 - (L - l)/(b·τ))`` (``(L - l)/b`` undamped; never
when ``b ≤ 0`` or ``b·τ ≤ L - l``). Its interval at ``confidence`` (z_c = Φ⁻¹((1 + c)/2))
runs from when the upper band ``m(h) + z_c·√V(h)`` reaches L to when the lower band does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import ndtr, ndtri

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame
from anomalert.detect.jit import kernel, maximum, minimum
from anomalert.detect.robust import floor_of
from anomalert.model import Kind

#: Points after which innovations start being clipped (before that the scale is unknown).
CLIP_AFTER = 3
#: Weight of a new interval in the typical sampling interval (a slow running mean).
SPACING_RATE = 0.05


@dataclass(frozen=True)
class BreachForecast:
    """One series' predicted breach, in the units a reason needs ("in about 45 minutes").

    Durations are minutes from the time asked about (by default the last learned point);
    ``math.inf`` means "never at this trend"; ``minutes_to_breach`` is NaN when the series has
    no limit or is still warming up. ``probability`` is that of reaching the limit within
    ``horizon_minutes``; ``low_minutes``-``high_minutes`` is the ``confidence`` interval.
    """

    minutes_to_breach: float
    low_minutes: float
    high_minutes: float
    probability: float
    horizon_minutes: float
    limit: float
    level: float
    slope_per_minute: float


class _State(NamedTuple):
    """The per-series filter state, as one value so a tentative update can be discarded."""

    level: FloatArray
    slope: FloatArray
    t_last: FloatArray
    seen: np.ndarray
    var: FloatArray
    spacing: FloatArray
    slope_mean: FloatArray
    slope_var: FloatArray
    run: np.ndarray
    run_t: FloatArray
    run_x: FloatArray
    run_slope: FloatArray
    restart: BoolArray


class _Outlook(NamedTuple):
    """The forecast from a state at a time: what ``observe`` and ``breach_info`` report."""

    level: FloatArray
    slope: FloatArray
    z: FloatArray
    eta: FloatArray
    eta_low: FloatArray
    eta_high: FloatArray
    lower: FloatArray
    upper: FloatArray


class ForecastDetector(Detector):
    """Damped Holt forecast toward a per-series limit: time to breach and its probability.

    >>> rng = np.random.default_rng(0)
    >>> det = ForecastDetector(limit=100.0)
    >>> for i in range(300):  # a leak of 0.1 per minute from 60, noise sd 0.5
    ...     t, x = np.array([60.0 * i]), np.array([60.0 + 0.1 * i + rng.normal(0, 0.5)])
    ...     frame = det.observe(t, x)
    ...     det.learn(t, x, np.array([True]))
    >>> info = det.breach_info(0)  # the truth: 101 minutes
    >>> lo, hi = info.low_minutes, info.high_minutes
    >>> print(f"{info.minutes_to_breach:.0f} min ({lo:.0f}–{hi:.0f}), p={info.probability:.2f}")
    106 min (94–120), p=0.95
    """

    name = "forecast"
    #: A breach forecast must keep following the climb it is warning about.
    learns_flagged = True
    #: ``stat`` is the normal quantile of the breach probability within the horizon.
    self_calibrated = True

    def __init__(
        self,
        n: int = 1,
        limit: float | None = None,
        horizon: float = 7200.0,
        level_time: float = 600.0,
        trend_time: float = 1800.0,
        damping_time: float = 259200.0,
        scale_time: float = 3600.0,
        clip: float = 3.0,
        shift_after: int = 5,
        confidence: float = 0.9,
        min_points: int = 30,
    ) -> None:
        if not 2 <= shift_after <= 100:
            raise ValueError(f"shift_after must be in 2..100, got {shift_after}")
        super().__init__(n)
        self.limit = limit
        self.horizon = horizon
        self.level_time = level_time
        self.trend_time = trend_time
        self.damping_time = damping_time
        self.scale_time = scale_time
        self.clip = clip
        self.shift_after = shift_after
        self.confidence = confidence
        self.min_points = min_points
        self.limits = np.full(n, np.nan if limit is None else float(limit))
        self.level = np.zeros(n)
        self.slope = np.zeros(n)
        self.t_last = np.full(n, np.nan)
        self.seen = np.zeros(n, dtype=np.int32)
        self.var = np.zeros(n)
        self.spacing = np.zeros(n)
        self.slope_mean = np.zeros(n)
        self.slope_var = np.zeros(n)
        self.run = np.zeros(n, dtype=np.int8)
        self.run_t = np.zeros(n)
        self.run_x = np.zeros(n)
        self.run_slope = np.zeros(n)
        self.restart = np.zeros(n, dtype=np.bool_)

    def set_limits(self, values: np.ndarray) -> None:
        """Set each series' limit (NaN: no breach checking for that series)."""
        self.limits = np.broadcast_to(np.asarray(values, dtype=np.float64), (self.n,)).copy()

    # -- the two verbs ---------------------------------------------------------------------

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            state = self._tentative(t, x, self._takes(t, x))
            # Only what the frame shows: the breach interval is breach_info's (_outlook).
            level, _, _, _, z, eta = self._ahead(state, t, self.limits)
            # The band is where the value was expected now (level ± 3 one-step sigmas); the
            # interval on the breach time lives in ``breach_info``, which reasons use.
            stat, level, lower, upper, detail = _frame(
                state.seen, x, level, z, eta, self.var, self.min_points
            )
        kind = np.full(self.n, np.int8(Kind.PREDICTED_BREACH))
        return Frame(stat, level, lower, upper, kind, detail)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        take = mask & self._takes(t, x)
        if take.any():
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                state = self._tentative(t, x, take)
            for name, value in state._asdict().items():
                setattr(self, name, value)
        self._forget()

    def adapt(self, mask: BoolArray) -> None:
        """The next learned point of a masked series becomes its level; the trend is kept."""
        self.restart = self.restart | mask
        self.run = np.where(mask, np.int8(0), self.run).astype(np.int8)
        self._forget()

    def breach_info(self, i: int, t: float | None = None) -> BreachForecast:
        """Series ``i``'s predicted breach, seen from ``t`` (default: its last learned point)."""
        sl = slice(i, i + 1)
        state = _State(*(np.asarray(a)[sl] for a in self._state()))
        when = np.array([state.t_last[0] if t is None else t])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self._outlook(state, when, self.limits[sl])
        warm = bool(state.seen[0] >= self.min_points)
        limit = float(self.limits[i])
        nan = math.nan
        return BreachForecast(
            minutes_to_breach=float(out.eta[0]) / 60.0 if warm else nan,
            low_minutes=float(out.eta_low[0]) / 60.0 if warm else nan,
            high_minutes=float(out.eta_high[0]) / 60.0 if warm else nan,
            probability=float(ndtr(out.z[0])) if warm else nan,
            horizon_minutes=self.horizon / 60.0,
            limit=limit,
            level=float(out.level[0]),
            slope_per_minute=float(out.slope[0]) * 60.0,
        )

    # -- the filter ------------------------------------------------------------------------

    def _state(self) -> _State:
        return _State(
            self.level,
            self.slope,
            self.t_last,
            self.seen,
            self.var,
            self.spacing,
            self.slope_mean,
            self.slope_var,
            self.run,
            self.run_t,
            self.run_x,
            self.run_slope,
            self.restart,
        )

    def _takes(self, t: FloatArray, x: FloatArray) -> BoolArray:
        """Points the filter can take: finite, and later than the series' last point."""
        later: BoolArray = (self.seen == 0) | (t > self.t_last)
        finite: BoolArray = np.isfinite(x) & np.isfinite(t)
        return finite & later

    def _g(self, h: FloatArray) -> FloatArray:
        """How far a unit trend carries the level in h seconds (damped)."""
        tau = self.damping_time
        if math.isinf(tau):
            return h
        return -tau * np.expm1(-h / tau)

    def _g_inv(self, d: FloatArray) -> FloatArray:
        """Seconds for a unit trend to carry the level a distance d (inf: never)."""
        tau = self.damping_time
        if math.isinf(tau):
            return d
        return np.where(d < tau, -tau * np.log1p(-d / tau), np.inf)

    def _tentative(self, t: FloatArray, x: FloatArray, take: BoolArray) -> _State:
        """``_update(t, x, take)``, computed once per tick for observe and learn.

        Observe updates tentatively with every point the filter can take; learn takes the
        same points unless some are held back, so its update is usually observe's (same
        state, same arrays t and x, same take: the same numbers).
        """
        cache = self._caches()
        hit: tuple[FloatArray, FloatArray, BoolArray, _State] | None = cache.get("update")
        if hit is not None and hit[0] is t and hit[1] is x and np.array_equal(hit[2], take):
            return hit[3]
        state = self._update(t, x, take)
        cache["update"] = (t, x, take, state)
        return state

    def _update(self, t: FloatArray, x: FloatArray, take: BoolArray) -> _State:
        """The state after taking x at t where ``take`` holds (unchanged elsewhere).

        The exponentials run as numpy calls on the stacked arguments (numpy's own vector
        exp and expm1 differ from the compiled loop's libm in the last bit now and then:
        the numbers stay those of the numpy formulation); the rest is one compiled pass.
        """
        args = _update_args(
            t, self.t_last, self.seen, take, self.spacing, self._times(), self._undamped()
        )
        dt = args[0]
        growth = np.expm1(args[1:])  # the rates' and g's expm1, then exp for the decay
        decay = np.exp(args[1])
        return _State(
            *_update_kernel(
                t,
                x,
                take,
                dt,
                growth,
                decay,
                *self._state(),
                self.damping_time,
                self._undamped(),
                self.clip,
                self.shift_after,
                self.trend_time,
            )
        )

    def _times(self) -> FloatArray:
        """The time constants in the order of the stacked exponential arguments."""
        return np.array(
            [self.damping_time, self.level_time, self.trend_time, self.scale_time],
            dtype=np.float64,
        )

    def _undamped(self) -> bool:
        return math.isinf(self.damping_time)

    # -- the forecast ----------------------------------------------------------------------

    def _band_crossings(
        self,
        level: FloatArray,
        slope: FloatArray,
        level_var: FloatArray,
        slope_var: FloatArray,
        limit: FloatArray,
        zc: float,
    ) -> tuple[FloatArray, FloatArray]:
        """Seconds until the upper and the lower forecast band reach the limit (inf: never).

        With D = L - l, the band m(h) ± z·√V(h) meets L where (b·g - D)² = z²·(σ_l² + g²·σ_b²),
        a quadratic in g = g(h); its roots are taken in the form that stays stable when the
        trend is barely significant (b² ≈ z²·σ_b²).
        """
        d = limit - level
        a = slope * slope - zc * zc * slope_var
        root = zc * np.sqrt(
            np.maximum(
                slope_var * d * d + level_var * slope * slope - zc * zc * slope_var * level_var, 0.0
            )
        )
        near = d * d - zc * zc * level_var
        g_low = np.where(near <= 0, 0.0, near / (slope * d + root))
        g_low = np.where((near > 0) & (slope * d + root <= 0), np.inf, g_low)
        g_high = np.where(a > 0, (slope * d + root) / a, np.inf)
        low = np.where(d <= 0, 0.0, self._g_inv(g_low))
        high = np.where(d <= 0, 0.0, self._g_inv(g_high))
        gone = np.isnan(d)
        return np.where(gone, np.nan, low), np.where(gone, np.nan, high)

    def _outlook(self, s: _State, t: FloatArray, limit: FloatArray) -> _Outlook:
        """Forecast from state ``s`` as seen at time t (after its last point, if later)."""
        level, slope, level_var, slope_var, z, eta = self._ahead(s, t, limit)
        zc = float(ndtri(0.5 + self.confidence / 2.0))
        eta_low, eta_high = self._band_crossings(level, slope, level_var, slope_var, limit, zc)

        at = self._g(np.where(np.isfinite(eta), np.minimum(eta, self.horizon), self.horizon))
        center = level + slope * at
        half = zc * np.sqrt(level_var + at * at * slope_var)
        empty = s.seen == 0
        nan = np.full(level.shape, np.nan)
        return _Outlook(
            level=np.where(empty, nan, level),
            slope=np.where(empty, nan, slope),
            z=np.where(empty, nan, z),
            eta=np.where(empty, nan, eta),
            eta_low=np.where(empty, nan, eta_low),
            eta_high=np.where(empty, nan, eta_high),
            lower=np.where(empty, nan, center - half),
            upper=np.where(empty, nan, center + half),
        )

    def _ahead(
        self, s: _State, t: FloatArray, limit: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Level, trend, their variances, breach quantile z and time to breach from state
        ``s`` at time t (also where the series has no point yet: the caller masks those)."""
        args = _ahead_args(t, s.t_last, s.spacing, self._times())
        growth = np.expm1(args[1:])
        decay = np.exp(args[1])
        g_h = float(self._g(np.asarray(self.horizon)))
        tau = self.damping_time
        level, slope, level_var, slope_var, z, reach = _ahead_kernel(
            s.level,
            s.slope,
            s.var,
            s.spacing,
            s.slope_var,
            args[0],
            growth,
            decay,
            limit,
            g_h,
            tau,
            self._undamped(),
        )
        # _time_to, with log1p as a numpy call (as the exponentials above).
        eta = _eta(reach, np.log1p(reach[1]), tau, self._undamped())
        return level, slope, level_var, slope_var, z, eta


# -- compiled passes ---------------------------------------------------------------------
# The filter's arithmetic per series, in the order of the numpy formulation it replaced;
# the exponentials and logarithms stay numpy calls between the passes (see ``_update``).


@kernel
def _sigmas(
    var: float, floor: float, slope_var: float, spacing: float, a: float, b: float
) -> tuple[float, float]:
    """One series' variances of the level and of the trend (see the module docstring):
    ``a`` and ``b`` are the level's and the trend's rates at the typical interval (1 s
    while it is unknown), ``floor`` the level's scale floor."""
    sp = spacing if spacing > 0 else 1.0
    level_var = var * a / (2.0 - a) + floor * floor
    return level_var, maximum(var * a * a * b / (sp * sp * (2.0 - b)), slope_var)


@kernel
def _update_args(
    t: FloatArray,
    t_last: FloatArray,
    seen: np.ndarray,
    take: BoolArray,
    spacing: FloatArray,
    times: FloatArray,
    undamped: bool,
) -> FloatArray:
    """dt, then the arguments of the update's exponentials: -dt/τ (g and the trend's
    decay), -dt over the level, trend and scale times, and -spacing over the level and
    trend times (the Holt variances at the typical interval)."""
    n = t.shape[0]
    out = np.empty((7, n))
    for i in range(n):
        dt = t[i] - t_last[i] if take[i] and seen[i] != 0 else 1.0
        sp = spacing[i] if spacing[i] > 0 else 1.0
        out[0, i] = dt
        for k in range(4):
            out[1 + k, i] = -dt / times[k]
        out[5, i] = -sp / times[1]
        out[6, i] = -sp / times[2]
    return out


@kernel
def _update_kernel(
    t: FloatArray,
    x: FloatArray,
    take: BoolArray,
    dt: FloatArray,
    growth: FloatArray,
    decay: FloatArray,
    level: FloatArray,
    slope: FloatArray,
    t_last: FloatArray,
    seen: np.ndarray,
    var: FloatArray,
    spacing: FloatArray,
    slope_mean: FloatArray,
    slope_var: FloatArray,
    run: np.ndarray,
    run_t: FloatArray,
    run_x: FloatArray,
    run_slope: FloatArray,
    restart: BoolArray,
    tau: float,
    undamped: bool,
    clip: float,
    shift_after: int,
    trend_time: float,
) -> tuple[np.ndarray, ...]:
    """``ForecastDetector._update`` after its exponentials: the new state, as arrays in
    ``_State`` order (the old values where ``take`` does not hold)."""
    n = t.shape[0]
    o_level = level.copy()
    o_slope = slope.copy()
    o_t_last = t_last.copy()
    o_seen = seen.copy()
    o_var = var.copy()
    o_spacing = spacing.copy()
    o_slope_mean = slope_mean.copy()
    o_slope_var = slope_var.copy()
    o_run = run.copy()
    o_run_t = run_t.copy()
    o_run_x = run_x.copy()
    o_run_slope = run_slope.copy()
    o_restart = restart.copy()
    for i in range(n):
        if not take[i]:
            continue
        o_t_last[i] = t[i]
        o_seen[i] = min(seen[i] + 1, 2**30)
        o_restart[i] = False
        if seen[i] == 0:
            o_level[i] = x[i]
            o_slope[i] = 0.0
            o_var[i] = 0.0
            o_spacing[i] = 0.0
            o_slope_mean[i] = 0.0
            o_slope_var[i] = 0.0
            o_run[i] = 0
            o_run_t[i] = 0.0
            o_run_x[i] = 0.0
            o_run_slope[i] = 0.0
            continue
        d_t = dt[i]
        g = d_t if undamped else -tau * growth[0, i]
        level_pred = level[i] + slope[i] * g
        slope_pred = slope[i] * decay[i]
        xs = x[i]
        err = xs - level_pred
        floor = floor_of(level[i], -np.inf)
        _, s_var = _sigmas(var[i], floor, slope_var[i], spacing[i], -growth[4, i], -growth[5, i])
        err_var = var[i] + g * g * s_var + floor * floor
        warm = seen[i] >= CLIP_AFTER
        bound = clip * np.sqrt(err_var) if warm else np.inf
        e = minimum(maximum(err, -bound), bound)
        outlier = abs(err) > bound
        alpha = -growth[1, i]
        beta = -growth[2, i]
        new_level = level_pred + alpha * e
        new_slope = slope_pred + alpha * beta * e / d_t

        # A run of same-sign outliers: a step keeps the trend from before the run, a ramp
        # (the run's own slope differs from it beyond noise) takes the run's slope.
        sign = 1 if err > 0 else (-1 if err < 0 else 0)
        run_sign = 1 if run[i] > 0 else (-1 if run[i] < 0 else 0)
        same = outlier and run_sign == sign
        starts = outlier and not same
        r = (run[i] + sign if same else sign) if outlier else 0
        r_t = t[i] if starts else run_t[i]
        r_x = xs if starts else run_x[i]
        r_slope = slope_pred if starts else run_slope[i]
        shift = abs(r) >= shift_after
        span = t[i] - r_t if t[i] > r_t else d_t
        ramp = (xs - r_x) / span
        ramp_noise = np.sqrt(2.0 * var[i]) / span
        is_ramp = abs(ramp - r_slope) > clip * ramp_noise
        if shift or restart[i]:
            new_level = xs
            r = 0
        if shift:
            new_slope = ramp if is_ramp else r_slope
        if restart[i]:
            new_slope = slope_pred
        jump = r_x - level_pred + r_slope * span if shift else 0.0
        renew = shift and is_ramp

        rate = maximum(-growth[3, i], 1.0 / seen[i])
        e2 = e * e * (var[i] / err_var if warm else 1.0)
        gap = minimum(d_t, 10.0 * spacing[i])
        if seen[i] == 1:
            new_spacing = d_t
        else:
            new_spacing = spacing[i] + maximum(SPACING_RATE, 1.0 / seen[i]) * (gap - spacing[i])
        d = 0.0 if renew else new_slope - slope_mean[i]
        jt = jump / trend_time
        wander = (1.0 - beta) * (slope_var[i] + beta * d * d) + jt * jt
        wander = wander + (ramp_noise * ramp_noise if renew else 0.0)

        o_level[i] = new_level
        o_slope[i] = new_slope
        o_var[i] = var[i] + rate * (e2 - var[i])
        o_spacing[i] = new_spacing
        o_slope_mean[i] = new_slope if renew else slope_mean[i] + beta * d
        o_slope_var[i] = wander
        o_run[i] = r
        o_run_t[i] = r_t
        o_run_x[i] = r_x
        o_run_slope[i] = r_slope
    return (
        o_level,
        o_slope,
        o_t_last,
        o_seen,
        o_var,
        o_spacing,
        o_slope_mean,
        o_slope_var,
        o_run,
        o_run_t,
        o_run_x,
        o_run_slope,
        o_restart,
    )


@kernel
def _ahead_args(
    t: FloatArray, t_last: FloatArray, spacing: FloatArray, times: FloatArray
) -> FloatArray:
    """The lead time since each series' last point, then the arguments of the outlook's
    exponentials: -lead/τ, and -spacing over the level and trend times."""
    n = t_last.shape[0]
    out = np.empty((4, n))
    for i in range(n):
        lead = maximum(t[i] - t_last[i], 0.0)
        sp = spacing[i] if spacing[i] > 0 else 1.0
        out[0, i] = lead
        out[1, i] = -lead / times[0]
        out[2, i] = -sp / times[1]
        out[3, i] = -sp / times[2]
    return out


@kernel
def _ahead_kernel(
    level: FloatArray,
    slope: FloatArray,
    var: FloatArray,
    spacing: FloatArray,
    slope_var: FloatArray,
    lead: FloatArray,
    growth: FloatArray,
    decay: FloatArray,
    limit: FloatArray,
    g_h: float,
    tau: float,
    undamped: bool,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``_ahead`` after its exponentials: level, trend, their variances and the breach
    quantile, and what the time to breach needs (the gap to the limit, -distance/τ for
    its log1p, and the distance at this trend)."""
    n = level.shape[0]
    o_level = np.empty(n)
    o_slope = np.empty(n)
    o_level_var = np.empty(n)
    o_slope_var = np.empty(n)
    o_z = np.empty(n)
    reach = np.empty((3, n))
    for i in range(n):
        g0 = lead[i] if undamped else -tau * growth[0, i]
        now = level[i] + slope[i] * g0
        trend = slope[i] * decay[i]
        floor = floor_of(level[i], -np.inf)
        level_var, s_var = _sigmas(
            var[i], floor, slope_var[i], spacing[i], -growth[1, i], -growth[2, i]
        )
        level_var = level_var + g0 * g0 * s_var
        s_var = s_var * (decay[i] * decay[i])
        z_now = (now - limit[i]) / np.sqrt(level_var)
        z_h = (now + trend * g_h - limit[i]) / np.sqrt(level_var + g_h * g_h * s_var)
        gap = limit[i] - now
        distance = gap / trend if trend > 0 else np.inf
        o_level[i] = now
        o_slope[i] = trend
        o_level_var[i] = level_var
        o_slope_var[i] = s_var
        o_z[i] = maximum(z_now, z_h)
        reach[0, i] = gap
        reach[1, i] = -distance / tau
        reach[2, i] = distance
    return o_level, o_slope, o_level_var, o_slope_var, o_z, reach


@kernel
def _eta(reach: FloatArray, log1p: FloatArray, tau: float, undamped: bool) -> FloatArray:
    """Seconds until the level reaches the limit (0 if there, inf: never, NaN: no limit),
    from ``_ahead_kernel``'s ``reach`` and the log1p of its second row."""
    n = reach.shape[1]
    out = np.empty(n)
    for i in range(n):
        gap = reach[0, i]
        distance = reach[2, i]
        if gap != gap:
            out[i] = np.nan
        elif gap <= 0:
            out[i] = 0.0
        elif undamped:
            out[i] = distance
        else:
            out[i] = -tau * log1p[i] if distance < tau else np.inf
    return out


@kernel
def _frame(
    seen: np.ndarray,
    x: FloatArray,
    level: FloatArray,
    z: FloatArray,
    eta: FloatArray,
    var: FloatArray,
    min_points: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """observe's frame: stat, level and band (NaN before a series' first point), and the
    minutes to breach as the detail."""
    n = level.shape[0]
    stat = np.empty(n)
    shown = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    detail = np.empty(n)
    for i in range(n):
        empty = seen[i] == 0
        lv = np.nan if empty else level[i]
        zz = np.nan if empty else z[i]
        when = np.nan if empty else eta[i]
        ready = seen[i] >= min_points and np.isfinite(x[i])
        stat[i] = maximum(zz, 0.0) if ready else np.nan
        detail[i] = when / 60.0 if ready and np.isfinite(when) else np.nan
        floor = floor_of(lv, -np.inf)
        band = 3.0 * np.sqrt(var[i] + floor * floor)
        shown[i] = lv
        lower[i] = lv - band
        upper[i] = lv + band
    return stat, shown, lower, upper, detail
