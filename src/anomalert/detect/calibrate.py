"""Turn a detector's raw surprise into a score whose meaning is the same on every series.

Why: a 4σ residual is rare on a calm series and routine on a bursty one, so a fixed cut on
raw statistics pages too often on some series and never on others. Following the
peaks-over-threshold idea of extreme value theory (Siffer et al., KDD 2017, "SPOT"), each
series keeps, per detector, the rate at which its statistic exceeds ``z0`` and the first
two moments of the excess above it; the tail above ``z0`` is a generalised Pareto whose
shape and scale come from those moments, so the probability of a value this surprising is

    p(stat) = rate * (1 + shape * (stat - z0) / scale) ** (-1 / shape)     (capped at 1)

(exponential when the shape is 0). A bursty series (tweets, ad clicks) earns a heavy tail
and must deviate much further before it pages than a calm one.

The estimates start from a Gaussian prior worth ``prior_weight`` points, decay with a
half-life of ``half_life`` learned points, and are only fed points the caller did not flag,
so an incident does not fatten the tail it is judged against. ``scale`` has a floor: a tail
learned from a few calm weeks must not become so thin that the first small wobble pages.
The shape is capped (``max_shape``) so that a very bursty series can still page at all.

The score is ``1 - p ** 0.25``: p = 1e-4 (one point in 10,000 of the series' own normal
behaviour) maps to 0.90, p = 1e-6 to 0.97, and p = 0.5 to 0.16.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.kernels import clip, learning

IndexArray = NDArray[np.intp]
Float32Array = NDArray[np.float32]

SCORE_POWER = 0.25


def score_from_p(p: FloatArray) -> FloatArray:
    """Map tail probabilities to scores in [0, 1] (NaN stays NaN)."""
    return 1.0 - np.power(np.clip(p, 0.0, 1.0), SCORE_POWER)


def p_from_score(score: float) -> float:
    """The tail probability a score stands for (inverse of ``score_from_p``)."""
    return float((1.0 - score) ** (1.0 / SCORE_POWER))


class _Tail(NamedTuple):
    """The fitted tail of every series, in float64; it only changes when the calibrator learns.

    Widened once per fit, so that the p-values of a tick do not convert float32 operands
    on every operation (the products are the same: numpy widens them to float64 anyway).
    """

    rate: FloatArray  # how often the statistic exceeds z0
    scale: FloatArray
    # The series with a heavy (Pareto) tail, and their shape, scale, rate and -1 / shape.
    heavy: IndexArray
    heavy_shape: FloatArray
    heavy_scale: FloatArray
    heavy_rate: FloatArray
    heavy_power: FloatArray


class TailCalibrator(ArrayState):
    """Per-series generalised-Pareto tail model of one detector's statistic.

    With ``rows`` set, it calibrates that many detectors at once: its moments, statistics
    and p-values have shape (rows, n), one row per detector. The numbers are those of one
    calibrator per detector (every operation is elementwise), in a third of the numpy calls
    for three detectors, which is most of a tick's cost for a few series.
    """

    # Series on the last axis: (rows, n) with rows, (n,) without.
    series_last = ("weight", "exceed", "excess", "excess_sq")
    #: The default for calibrators pickled before rows existed.
    rows: int | None = None

    def __init__(
        self,
        n: int = 1,
        z0: float = 2.0,
        prior_rate: float = 0.0455,
        prior_scale: float = 0.45,
        prior_weight: float = 200.0,
        half_life: float = 20_000.0,
        min_scale: float = 0.4,
        max_shape: float = 0.25,
        rows: int | None = None,
    ) -> None:
        self.n = n
        self.rows = rows
        self.z0 = z0
        self.prior_rate = prior_rate
        self.prior_scale = prior_scale
        self.prior_weight = prior_weight
        self.half_life = half_life
        self.min_scale = min_scale
        self.max_shape = max_shape
        self.decay = np.float32(0.5 ** (1.0 / half_life))
        shape = n if rows is None else (rows, n)
        prior = self._prior()
        self.weight = np.full(shape, prior[0], dtype=np.float32)
        self.exceed = np.full(shape, prior[1], dtype=np.float32)
        self.excess = np.full(shape, prior[2], dtype=np.float32)
        self.excess_sq = np.full(shape, prior[3], dtype=np.float32)

    def _prior(self) -> tuple[float, float, float, float]:
        """weight, exceed, excess and excess_sq of the Gaussian prior (an exponential tail
        above z0, whose excess has variance scale**2)."""
        w, rate, scale = self.prior_weight, self.prior_rate, self.prior_scale
        return w, w * rate, w * rate * scale, w * rate * 2 * scale**2

    @classmethod
    def stacked(cls, calibrators: list[TailCalibrator]) -> TailCalibrator:
        """One calibrator with a row per given one (same parameters), state carried over."""
        params = calibrators[0].params()
        params["rows"] = len(calibrators)
        out = cls(**params)
        for name in cls.series_last:
            setattr(out, name, np.stack([getattr(c, name) for c in calibrators]))
        return out

    def _tail(self, first: int | None = None) -> _Tail:
        """The tail fit (of the ``first`` rows only, if given), computed once per learned
        tick (every p-value of a tick shares it)."""
        return self._cached(f"tail{first}", lambda: self._fit(first))

    def _moments(self, first: int | None) -> tuple[Float32Array, ...]:
        """weight, exceed, excess and excess_sq (their ``first`` rows, as views, if given)."""
        arrays = (self.weight, self.exceed, self.excess, self.excess_sq)
        return arrays if first is None else tuple(a[:first] for a in arrays)

    def _fit(self, first: int | None) -> _Tail:
        weight, exceed, excess, excess_sq = self._moments(first)
        raw, scale = self._moment_fit(exceed, excess, excess_sq)
        # The float32 quotient, widened as it is stored.
        rate = np.divide(exceed, weight, out=np.empty(exceed.shape), dtype=np.float32)
        wide_scale = scale.astype(np.float64)
        # Clipping the shape at 0 and at max_shape (> 1e-3) does not move it across 1e-3, so
        # only the few heavy series' shapes are clipped (the same numbers as ``tail``).
        # Indices are into the flattened arrays (all of them fresh, so C-contiguous).
        heavy = np.flatnonzero(raw > 1e-3) if self.max_shape > 1e-3 else np.zeros(0, np.intp)
        shape_h = clip(raw.reshape(-1)[heavy], 0.0, self.max_shape)
        return _Tail(
            rate,
            wide_scale,
            heavy,
            shape_h.astype(np.float64),
            wide_scale.reshape(-1)[heavy],
            rate.reshape(-1)[heavy],
            (-1.0 / np.maximum(shape_h, 1e-6)).astype(np.float64),
        )

    def p_value(self, stat: FloatArray, first: int | None = None) -> FloatArray:
        """Probability, under this series' own history, of a statistic at least this large.

        ``first`` (with ``rows``): ``stat`` is for the first rows only; the others are not
        fitted (the ensemble puts the detectors that calibrate themselves last).
        """
        tail = self._tail(first)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # Exponential tail, rate * exp(-(stat - z0) / scale), computed for every series.
            p = self.z0 - stat
            p /= tail.scale
            np.exp(p, out=p)
            p *= tail.rate
            if tail.heavy.size:
                # Generalised Pareto, rate * (1 + shape * y / scale) ** (-1 / shape), for the
                # heavy-tailed series only (a gather beats a masked merge on a random mask).
                y = stat.reshape(-1)[tail.heavy]
                y -= self.z0
                y *= tail.heavy_shape
                y /= tail.heavy_scale
                y += 1.0
                np.maximum(y, 1e-12, out=y)
                np.power(y, tail.heavy_power, out=y)
                y *= tail.heavy_rate
                p.reshape(-1)[tail.heavy] = y  # p is fresh: the reshape is a view
        # NaN where stat is NaN: both tails propagate it.
        return np.minimum(p, 1.0, out=p)

    def tail(self) -> tuple[FloatArray, FloatArray]:
        """Generalised Pareto shape and scale of the excess, by the method of moments.

        The shape is held in [0, ``max_shape``]: never lighter than exponential (a tail that
        looks bounded after a calm month is not), never so heavy that nothing can page.

        In float32, in place: with k = max(exceed, 1e-9), m = excess / k and
        v = max(excess_sq / k - m * m, 1e-12), ratio = m * m / v gives
        shape = clip(0.5 * (1 - ratio), 0, max_shape) and scale = max(0.5 * m * (1 + ratio),
        min_scale).
        """
        shape, scale = self._moment_fit(self.exceed, self.excess, self.excess_sq)
        clip(shape, 0.0, self.max_shape, out=shape)
        return shape, scale

    def _moment_fit(
        self, exceed: Float32Array, excess: Float32Array, excess_sq: Float32Array
    ) -> tuple[FloatArray, FloatArray]:
        """``tail`` with the shape not yet clipped (``_fit`` clips only the heavy ones)."""
        k = np.maximum(exceed, 1e-9)
        m = excess / k
        m2 = m * m
        v = np.divide(excess_sq, k, out=k)
        v -= m2
        np.maximum(v, 1e-12, out=v)
        ratio = np.divide(m2, v, out=m2)
        shape = np.subtract(1.0, ratio, out=v)
        shape *= 0.5
        m *= 0.5
        ratio += 1.0
        scale = np.multiply(m, ratio, out=ratio)
        np.maximum(scale, self.min_scale, out=scale)
        return shape, scale

    def shrink(self, mask: BoolArray, weight: float, row: int | None = None) -> None:
        """Keep the masked series' tail estimate, but let it count as only ``weight`` points.

        For a statistic whose meaning just changed (the seasonal detector took a better
        model): the tail learned under the old one is a fair first guess and keeps p-values
        where they were, but it must give way to the new statistic's own tail within a few
        hundred points, not over the half-life. ``row`` picks one row of a stacked
        calibrator.
        """
        arrays = self._moments(None)
        if row is not None:
            arrays = tuple(a[row] for a in arrays)
        factor = np.minimum(1.0, weight / np.maximum(arrays[0], 1e-9))
        # Nor more exceedances than the prior's: they alone shape the tail.
        np.minimum(factor, weight * self.prior_rate / np.maximum(arrays[1], 1e-9), out=factor)
        factor = factor.astype(np.float32)
        for a in arrays:
            np.multiply(a, factor, out=a, where=mask)
        self._forget()

    def reset(self, mask: BoolArray, row: int | None = None) -> None:
        """Set the masked series' tail back to the prior (``row``: one row of a stacked
        calibrator).

        For a statistic whose old tail says nothing about the new one: a few huge excesses
        of the old statistic, even shrunk to a prior's weight, keep the moment fit at the
        heaviest shape for weeks.
        """
        arrays = self._moments(None)
        if row is not None:
            arrays = tuple(a[row] for a in arrays)
        for a, value in zip(arrays, self._prior(), strict=True):
            np.copyto(a, np.float32(value), where=mask)
        self._forget()

    def learn(self, stat: FloatArray, mask: BoolArray) -> None:
        """Fold the statistics of unflagged, finite points into the tail estimate.

        With ``rows``, ``stat`` is (rows, n) and ``mask`` (n,) holds for every row.
        """
        m = mask & np.isfinite(stat)
        where = learning(m)
        if where is not True and not m.any():
            return
        d = self.decay
        for moment in (self.weight, self.exceed, self.excess, self.excess_sq):
            np.multiply(moment, d, out=moment, where=where)
        np.add(self.weight, 1.0, out=self.weight, where=where)
        # Only the few points above z0 add to the exceedance moments (adding 0 changes no
        # float32 value): their float64 excess is added before rounding back to float32,
        # as numpy computes float32 + float64 in float64.
        above = stat > self.z0
        if where is not True:
            above &= m
        hits = np.flatnonzero(above)
        if hits.size:
            at = np.unravel_index(hits, above.shape)
            over = stat[at] - self.z0
            self.exceed[at] += 1.0
            self.excess[at] += over
            self.excess_sq[at] += over * over
        self._forget()
