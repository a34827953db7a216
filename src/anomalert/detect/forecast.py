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
from anomalert.detect.robust import scale_floor
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
            empty = state.seen == 0
            nan = np.full(level.shape, np.nan)
            level = np.where(empty, nan, level)
            z = np.where(empty, nan, z)
            eta = np.where(empty, nan, eta)
            ready = (state.seen >= self.min_points) & np.isfinite(x)
            stat = np.where(ready, np.maximum(z, 0.0), np.nan)
            detail = np.where(ready & np.isfinite(eta), eta / 60.0, np.nan)
        kind = np.full(self.n, np.int8(Kind.PREDICTED_BREACH))
        # The band is where the value was expected now (level ± 3 one-step sigmas); the
        # interval on the breach time lives in ``breach_info``, which reasons use.
        band = 3.0 * np.sqrt(self.var + scale_floor(level) ** 2)
        return Frame(stat, level, level - band, level + band, kind, detail)

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

    def _decay(self, h: FloatArray) -> FloatArray:
        return np.exp(-h / self.damping_time)

    def _sigmas(self, s: _State) -> tuple[FloatArray, FloatArray]:
        """Variances of the level and of the trend (see the module docstring)."""
        spacing = np.where(s.spacing > 0, s.spacing, 1.0)
        a = -np.expm1(-spacing / self.level_time)
        b = -np.expm1(-spacing / self.trend_time)
        level_var = s.var * a / (2.0 - a) + scale_floor(s.level) ** 2
        slope_var = np.maximum(s.var * a * a * b / (spacing**2 * (2.0 - b)), s.slope_var)
        return level_var, slope_var

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
        """The state after taking x at t where ``take`` holds (unchanged elsewhere)."""
        first = self.seen == 0
        dt = np.where(take & ~first, t - self.t_last, 1.0)
        xs = np.where(take, x, self.level)
        g = self._g(dt)
        level_pred = self.level + self.slope * g
        slope_pred = self.slope * self._decay(dt)
        err = xs - level_pred

        _, slope_var = self._sigmas(self._state())
        err_var = self.var + g * g * slope_var + scale_floor(self.level) ** 2
        warm = self.seen >= CLIP_AFTER
        bound = np.where(warm, self.clip * np.sqrt(err_var), np.inf)
        e = np.clip(err, -bound, bound)
        outlier = np.abs(err) > bound

        alpha = -np.expm1(-dt / self.level_time)
        beta = -np.expm1(-dt / self.trend_time)
        level = level_pred + alpha * e
        slope = slope_pred + alpha * beta * e / dt

        # A run of same-sign outliers: a step keeps the trend from before the run, a ramp
        # (the run's own slope differs from it beyond noise) takes the run's slope.
        sign = np.sign(err).astype(np.int8)
        same = outlier & (np.sign(self.run) == sign)
        starts = outlier & ~same
        run = np.where(outlier, np.where(same, self.run + sign, sign), 0).astype(np.int8)
        run_t = np.where(starts, t, self.run_t)
        run_x = np.where(starts, xs, self.run_x)
        run_slope = np.where(starts, slope_pred, self.run_slope)
        shift = np.abs(run) >= self.shift_after
        span = np.where(t > run_t, t - run_t, dt)
        ramp = (xs - run_x) / span
        ramp_noise = np.sqrt(2.0 * self.var) / span
        is_ramp = np.abs(ramp - run_slope) > self.clip * ramp_noise
        level = np.where(shift | self.restart, xs, level)
        slope = np.where(shift, np.where(is_ramp, ramp, run_slope), slope)
        slope = np.where(self.restart, slope_pred, slope)
        run = np.where(shift | self.restart, 0, run).astype(np.int8)
        # The step at the run's start (ramp or not), to widen the trend's uncertainty with.
        jump = np.where(shift, run_x - level_pred + run_slope * span, 0.0)
        renew = shift & is_ramp

        # Scale: clipped squared error, brought back to a one-step error after a gap.
        rate = np.maximum(-np.expm1(-dt / self.scale_time), 1.0 / np.maximum(self.seen, 1))
        e2 = e * e * np.where(warm, self.var / err_var, 1.0)
        var = self.var + rate * (e2 - self.var)
        gap = np.minimum(dt, 10.0 * self.spacing)
        spacing = np.where(
            self.seen == 1,
            dt,
            self.spacing + np.maximum(SPACING_RATE, 1.0 / self.seen) * (gap - self.spacing),
        )
        w = beta
        d = np.where(renew, 0.0, slope - self.slope_mean)
        slope_mean = np.where(renew, slope, self.slope_mean + w * d)
        slope_wander = (1.0 - w) * (self.slope_var + w * d * d) + (jump / self.trend_time) ** 2
        slope_wander = slope_wander + np.where(renew, ramp_noise**2, 0.0)

        def pick(new: np.ndarray, old: np.ndarray, start: float | bool) -> np.ndarray:
            return np.where(take, np.where(first, start, new), old).astype(old.dtype)

        return _State(
            level=np.where(take, np.where(first, xs, level), self.level),
            slope=pick(slope, self.slope, 0.0),
            t_last=np.where(take, t, self.t_last),
            seen=np.where(take, np.minimum(self.seen + 1, 2**30), self.seen).astype(np.int32),
            var=pick(var, self.var, 0.0),
            spacing=pick(spacing, self.spacing, 0.0),
            slope_mean=pick(slope_mean, self.slope_mean, 0.0),
            slope_var=pick(slope_wander, self.slope_var, 0.0),
            run=pick(run, self.run, 0),
            run_t=pick(run_t, self.run_t, 0.0),
            run_x=pick(run_x, self.run_x, 0.0),
            run_slope=pick(run_slope, self.run_slope, 0.0),
            restart=pick(np.zeros_like(self.restart), self.restart, False),
        )

    # -- the forecast ----------------------------------------------------------------------

    def _time_to(self, level: FloatArray, slope: FloatArray, limit: FloatArray) -> FloatArray:
        """Seconds until the level reaches the limit at this trend (0 if there, inf: never)."""
        gap = limit - level
        distance = np.where(slope > 0, gap / slope, np.inf)
        eta = np.where(gap <= 0, 0.0, self._g_inv(distance))
        return np.where(np.isnan(gap), np.nan, eta)

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
        lead = np.maximum(t - s.t_last, 0.0)
        g0 = self._g(lead)
        level = s.level + s.slope * g0
        slope = s.slope * self._decay(lead)
        level_var, slope_var = self._sigmas(s)
        level_var = level_var + g0 * g0 * slope_var
        slope_var = slope_var * self._decay(lead) ** 2

        g_h = self._g(np.asarray(self.horizon))
        z_now = (level - limit) / np.sqrt(level_var)
        z_h = (level + slope * g_h - limit) / np.sqrt(level_var + g_h * g_h * slope_var)
        z = np.maximum(z_now, z_h)
        eta = self._time_to(level, slope, limit)
        return level, slope, level_var, slope_var, z, eta
