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
half-life of ``half_life`` learned points (or, where the caller gives each series' sampling
interval, of at least ``min_span`` seconds), and are only fed points the caller did not flag,
so an incident does not fatten the tail it is judged against. ``scale`` has a floor: a tail
learned from a few calm weeks must not become so thin that the first small wobble pages.
The shape is capped (``max_shape``, 0.35) so that a very bursty series can still page at
all: at the cap, with the usual rate of 5 %, p = 1e-4 lies about 22 scales above ``z0``
(15 at a cap of 0.25, 6 for an exponential tail). A row can have a cap of its own
(``row_caps``: the ensemble keeps 0.25 for the seasonal detector). Why 0.35 and not 0.25
(until 2026-12-03): a series that spikes routinely (tweet volumes; an SMD column that
jumps 50-130σ every few days) has a tail heavier than 0.25 (Student-t(3) noise: 1/3), and
a 0.25 cap paged on its routine spikes. The figures of that choice, and what it cost, are
in ``docs/measurements.md``.

The score is ``1 - p ** 0.25``: p = 1e-4 (one point in 10,000 of the series' own normal
behaviour) maps to 0.90, p = 1e-6 to 0.97, and p = 0.5 to 0.16.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.jit import kernel, maximum, minimum

IndexArray = NDArray[np.intp]
Float32Array = NDArray[np.float32]

SCORE_POWER = 0.25
#: The rate above z0 is never below that of ``prior_rate`` over this many points that never
#: decay (``_rate``).
RATE_FLOOR_WEIGHT = 20.0
#: The largest excess over z0 a tail learns from one point. A broken exporter's garbage
#: (uint64's 1.8e19, float32's largest) made a statistic whose square overflowed the float32
#: moments: the series' tail was inf for good and it never paged again. Series that sit at
#: one value and jump do show statistics past a million (NAB's ec2_disk_write_bytes: 0 to
#: 2e6; capped there, NAB gained a false alarm), so the cap is as high as float32 allows:
#: its square summed over the longest memory (about 10^5 points) stays under 3.4e38.
MAX_EXCESS = 1e15
#: A tail's moments without the statistics it learned last (``TailCalibrator._without``):
#: weight, learned (1 or 0), exceedances, excess, squared excess, what each taught, and
#: where a moment is a stand-in.
Without = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]
#: ``_learn``'s interval where every series decays per point.
_NO_INTERVAL = np.zeros(0)
#: ``own_caps`` for the kernels when every series takes its rows' own caps.
_EVERYWHERE = np.zeros(0, dtype=np.bool_)


def score_from_p(p: FloatArray) -> FloatArray:
    """Map tail probabilities to scores in [0, 1] (NaN stays NaN)."""
    return 1.0 - np.power(np.clip(p, 0.0, 1.0), SCORE_POWER)


def p_from_score(score: float) -> float:
    """The tail probability a score stands for (inverse of ``score_from_p``)."""
    return float((1.0 - score) ** (1.0 / SCORE_POWER))


@kernel
def _moment_fit(
    exceed: np.float32, excess: np.float32, excess_sq: np.float32, min_scale: np.float32
) -> tuple[np.float32, np.float32]:
    """One series' shape (not yet clipped) and scale by the method of moments, in float32.

    With k = max(exceed, 1e-9), m = excess / k and v = max(excess_sq / k - m * m, 1e-12),
    ratio = m * m / v gives shape = 0.5 * (1 - ratio) and scale = max(0.5 * m * (1 + ratio),
    min_scale); every constant is rounded to float32 first, as numpy does with a Python
    float against a float32 array.
    """
    k = maximum(exceed, np.float32(1e-9))
    m = excess / k
    m2 = m * m
    v = maximum(excess_sq / k - m2, np.float32(1e-12))
    ratio = m2 / v
    shape = (np.float32(1.0) - ratio) * np.float32(0.5)
    scale = maximum((m * np.float32(0.5)) * (ratio + np.float32(1.0)), min_scale)
    return shape, scale


@kernel
def _cap(
    max_shape: Float32Array, r: int, own_caps: BoolArray, i: int, common_cap: np.float32
) -> np.float32:
    """Row r's shape cap for series i: the row's own, or ``common_cap`` where ``own_caps``
    is False (an empty ``own_caps``: the row's own everywhere)."""
    return max_shape[r] if own_caps.size == 0 or own_caps[i] else common_cap


@kernel
def _tail_fit(
    exceed: Float32Array,
    excess: Float32Array,
    excess_sq: Float32Array,
    min_scale: np.float32,
    max_shape: Float32Array,
    own_caps: BoolArray,
    common_cap: np.float32,
) -> tuple[Float32Array, Float32Array]:
    """``TailCalibrator.tail`` of (rows, n) moments: the shape clipped (at each row's
    ``max_shape``, or at ``common_cap`` where ``own_caps`` is False, as in
    ``_tail_exponents``), and the scale."""
    shape = np.empty(exceed.shape, dtype=np.float32)
    scale = np.empty(exceed.shape, dtype=np.float32)
    for r in range(exceed.shape[0]):
        for i in range(exceed.shape[1]):
            raw, scale[r, i] = _moment_fit(exceed[r, i], excess[r, i], excess_sq[r, i], min_scale)
            cap = _cap(max_shape, r, own_caps, i, common_cap)
            shape[r, i] = minimum(maximum(raw, np.float32(0.0)), cap)
    return shape, scale


@kernel
def _tail_exponents(
    exceed: Float32Array,
    excess: Float32Array,
    excess_sq: Float32Array,
    stat: FloatArray,
    z0: float,
    min_scale: np.float32,
    max_shape: Float32Array,
    pareto: bool,
    own_caps: BoolArray,
    common_cap: np.float32,
) -> tuple[FloatArray, IndexArray, FloatArray, FloatArray]:
    """The fit of every series and what its p-value raises to a power.

    Returns the exponent (z0 - stat) / scale of the exponential tail of every series, and
    for the heavy ones (shape above 1e-3, only if ``pareto``) their flat index, the base
    max(1 + shape * (stat - z0) / scale, 1e-12) and the power -1 / max(shape, 1e-6) of the
    generalised Pareto. A series where ``own_caps`` is False clips every row at
    ``common_cap`` instead of the row's ``max_shape`` (an empty ``own_caps``: no such series).
    ``exp`` and ``power`` stay numpy calls (``TailCalibrator.p_value``): its own vectorised
    ones differ from the C library's by an ulp here and there. The scale is the float32 one
    widened to float64; the shape is clipped at 0 and the cap (> 1e-3, so only the heavy
    ones are clipped) and the power computed in float32, all as
    numpy did it on the float32 moments.

    Three loops: the fit of every series (which the compiler vectorises, divisions
    included), the heavy ones' indices (counted, not branched on: a branch would mispredict
    on a random mix of heavy and light series), and the heavy ones' Pareto, whose clips
    and per-series cap are selects the compiler may or may not make branch-free.
    """
    rows, n = stat.shape
    arg = np.empty((rows, n))
    shape = np.empty((rows, n), dtype=np.float32)
    scale = np.empty((rows, n), dtype=np.float32)
    for r in range(rows):
        for i in range(n):
            shape[r, i], scale[r, i] = _moment_fit(
                exceed[r, i], excess[r, i], excess_sq[r, i], min_scale
            )
            arg[r, i] = (z0 - stat[r, i]) / np.float64(scale[r, i])
    heavy = np.empty(rows * n if pareto else 0, dtype=np.intp)
    # Where each row's heavy series start in ``heavy``.
    start = np.zeros(rows + 1, dtype=np.intp)
    found = 0
    for r in range(rows if pareto else 0):
        for i in range(n):
            heavy[found] = r * n + i
            found += int(shape[r, i] > np.float32(1e-3))
        start[r + 1] = found
    base = np.empty(found)
    power = np.empty(found)
    for r in range(rows if pareto else 0):
        for j in range(start[r], start[r + 1]):
            i = heavy[j] - r * n
            cap = _cap(max_shape, r, own_caps, i, common_cap)
            clipped = minimum(maximum(shape[r, i], np.float32(0.0)), cap)
            y = (((stat[r, i] - z0) * np.float64(clipped)) / np.float64(scale[r, i])) + 1.0
            base[j] = maximum(y, 1e-12)
            power[j] = np.float64(np.float32(-1.0) / maximum(clipped, np.float32(1e-6)))
    return arg, heavy[:found].copy(), base, power


@kernel
def _tail_p(
    weight: Float32Array,
    exceed: Float32Array,
    exponential: FloatArray,
    heavy: IndexArray,
    pareto: FloatArray,
    prior_exceed: float,
    prior_weight: float,
    most: float,
) -> FloatArray:
    """Finish the p-values in place: ``exponential`` holds exp((z0 - stat) / scale) of every
    series and ``pareto`` the powers of the heavy ones; each is times the series' rate (the
    float32 quotient exceed / weight, at least ``_rate``'s floor), capped at 1 (NaN where stat
    is NaN)."""
    rows, n = exponential.shape
    for r in range(rows):
        for i in range(n):
            rate = _rate(exceed[r, i], weight[r, i], prior_exceed, prior_weight, most)
            exponential[r, i] = minimum(exponential[r, i] * rate, 1.0)
    r = 0
    for j in range(heavy.size):  # in increasing order: the row only moves forward
        while heavy[j] >= (r + 1) * n:
            r += 1
        i = heavy[j] - r * n
        rate = _rate(exceed[r, i], weight[r, i], prior_exceed, prior_weight, most)
        exponential[r, i] = minimum(pareto[j] * rate, 1.0)
    return exponential


@kernel
def _rate(
    exceed: np.float32,
    weight: np.float32,
    prior_exceed: float,
    prior_weight: float,
    most: float,
) -> float:
    """The rate above z0: exceed / weight, but never below ``prior_exceed / (min(weight,
    most) + prior_weight)``, the prior's rate over ``prior_weight`` points that never decay
    among at most ``most`` (a half-life's worth) of the series' own.

    The prior decays with the data, so on a series whose statistic never passes z0 (a
    constant gauge such as ``up`` or a limit; a perfect clock) the rate halved every
    half-life towards zero and the p-value of its ordinary points with it: constant
    one-minute series scored 0.81 after twelve weeks and from their nineteenth flagged,
    every one at once (``tests/unit/detect/test_calm_series_stay_calm.py``). With the
    floor they settle at 0.70. Twenty points, not the prior's two hundred: at two hundred
    the floor rose above the rate of SMD's nearly constant columns, whose rows the file
    combination reads against one another (AUC-PR 0.414 -> 0.402, VUS-PR 0.368 -> 0.360);
    at twenty every eval figure is unchanged. At most a half-life's worth of points: where
    the tail remembers a time span (two weeks) rather than a count, a finely sampled series
    holds many more (1.7 million at one second), and the floor, counted over all of them,
    would have let a one-second constant series settle near the threshold.
    """
    rate = np.float64(exceed / weight)
    return maximum(rate, prior_exceed / (minimum(np.float64(weight), most) + prior_weight))


@kernel
def _decay_of(decay: np.float32, interval: float, cut: float, per_second: float) -> np.float32:
    """The per-point decay of a series sampled every ``interval`` seconds whose tail must
    remember at least ``min_span`` seconds: ``decay`` (a half-life of ``half_life`` points)
    where those points span that long already (``interval`` at least ``cut``, that is
    ``min_span / half_life``; or unknown), else ``1 - interval * per_second`` (a half-life of
    ``min_span`` to first order, ``per_second`` being ln 2 / ``min_span``: at 20,000 points or
    more it differs from the exact ``0.5 ** (interval / min_span)`` by under 1e-9, below
    float32's resolution near 1, and costs a multiplication instead of a power)."""
    if interval > 0.0 and interval < cut:
        return np.float32(1.0 - interval * per_second)
    return decay


@kernel
def _learn(
    weight: Float32Array,
    exceed: Float32Array,
    excess: Float32Array,
    excess_sq: Float32Array,
    stat: FloatArray,
    mask: BoolArray,
    decay: np.float32,
    z0: float,
    interval: FloatArray,
    cut: float,
    per_second: float,
) -> None:
    """``TailCalibrator.learn`` over (rows, n): decay, count, and add the excess above z0.

    The moments decay and count in float32 (a float32 factor and a float32 one); the float64
    excess is added to the widened float32 moment and rounded once, as numpy computes a
    float32 array plus a float64 one. ``interval`` (n,) holds each series' seconds per point
    where the decay follows time (``_decay_of``, with ``cut`` and ``per_second``); empty,
    every series takes ``decay``.
    """
    rows, n = stat.shape
    timed = interval.shape[0] > 0
    for r in range(rows):
        for i in range(n):
            s = stat[r, i]
            if not mask[i] or not np.isfinite(s):
                continue
            d = _decay_of(decay, interval[i], cut, per_second) if timed else decay
            weight[r, i] = weight[r, i] * d + np.float32(1.0)
            exceed[r, i] *= d
            excess[r, i] *= d
            excess_sq[r, i] *= d
            if s > z0:
                over = min(s - z0, MAX_EXCESS)
                exceed[r, i] += np.float32(1.0)
                excess[r, i] = np.float32(np.float64(excess[r, i]) + over)
                excess_sq[r, i] = np.float32(np.float64(excess_sq[r, i]) + over * over)


class TailCalibrator(ArrayState):
    """Per-series generalised-Pareto tail model of one detector's statistic.

    With ``rows`` set, it calibrates that many detectors at once: its moments, statistics
    and p-values have shape (rows, n), one row per detector. The numbers are those of one
    calibrator per detector (every operation is elementwise), in one compiled pass over all
    rows.
    """

    # Series on the last axis: (rows, n) with rows, (n,) without.
    series_last = ("weight", "exceed", "excess", "excess_sq")
    #: The default for calibrators pickled before rows existed.
    rows: int | None = None
    #: Rows whose statistic has a cap of its own (row -> cap, set at construction); see
    #: ``Ensemble``.
    row_caps: dict[int, float] | None = None
    #: The shortest memory in seconds where ``learn`` is given the series' sampling
    #: intervals (0: ``half_life`` points, whatever they span; the default for calibrators
    #: pickled before it existed).
    min_span: float = 0.0

    def __init__(
        self,
        n: int = 1,
        z0: float = 2.0,
        prior_rate: float = 0.0455,
        prior_scale: float = 0.45,
        prior_weight: float = 200.0,
        half_life: float = 20_000.0,
        min_scale: float = 0.4,
        max_shape: float = 0.35,
        rows: int | None = None,
        row_caps: dict[int, float] | None = None,
        min_span: float = 0.0,
    ) -> None:
        self.n = n
        self.rows = rows
        self.row_caps = row_caps
        self.min_span = min_span
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

    def _moments(self, first: int | None) -> tuple[Float32Array, ...]:
        """weight, exceed, excess and excess_sq (their ``first`` rows, as views, if given)."""
        arrays = (self.weight, self.exceed, self.excess, self.excess_sq)
        return arrays if first is None else tuple(a[:first] for a in arrays)

    def _rows2d(self, a: np.ndarray) -> np.ndarray:
        """``a`` as (rows, n): a calibrator without rows is one row (a view)."""
        return a.reshape(1, -1) if self.rows is None else a

    def p_value(
        self, stat: FloatArray, first: int | None = None, own_caps: BoolArray | None = None
    ) -> FloatArray:
        """Probability, under this series' own history, of a statistic at least this large.

        ``first`` (with ``rows``): ``stat`` is for the first rows only; the others are not
        fitted (the ensemble puts the detectors that calibrate themselves last).

        ``own_caps`` (n,), if given, names the series on which a row with a cap of its own
        (``row_caps``) uses it; the others cap every row at ``max_shape``. A row's own cap
        stands for what its statistic means, which can differ from series to series (the
        seasonal detector's residual is a model's misfit only on a periodic series).

        Exponential tail, rate * exp(-(stat - z0) / scale), for every series; generalised
        Pareto, rate * (1 + shape * (stat - z0) / scale) ** (-1 / shape), for the heavy ones;
        both capped at 1, NaN where stat is NaN. The tail is fitted from the moments on each
        call, in the kernel that computes the exponents (a few float32 operations per series:
        nothing worth caching between ticks).
        """
        weight, exceed, excess, excess_sq = (self._rows2d(a) for a in self._moments(first))
        caps, pareto = self._caps()
        # A series outside ``own_caps`` may take the common cap where every row's is light.
        pareto |= own_caps is not None and self.max_shape > 1e-3
        arg, heavy, base, power = _tail_exponents(
            exceed,
            excess,
            excess_sq,
            self._rows2d(stat),
            self.z0,
            np.float32(self.min_scale),
            caps,
            pareto,
            self._own_caps(own_caps),
            np.float32(self.max_shape),
        )
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            np.exp(arg, out=arg)
            np.power(base, power, out=base)
        floor = (self.prior_rate * RATE_FLOOR_WEIGHT, RATE_FLOOR_WEIGHT, self._steady_weight)
        return _tail_p(weight, exceed, arg, heavy, base, *floor).reshape(stat.shape)

    @property
    def _steady_weight(self) -> float:
        """The weight a series reaches where it decays per point (``half_life`` points,
        about 28,900 at the default): the most the rate floor counts (``_rate``)."""
        return float(1.0 / (1.0 - float(self.decay)))

    def _own_caps(self, own_caps: BoolArray | None) -> BoolArray:
        """``own_caps`` as the kernels take it (empty for None); one flag per series, or a
        clear error (the compiled loops do not check their indices)."""
        if own_caps is None:
            return _EVERYWHERE
        flags = np.asarray(own_caps, dtype=np.bool_)
        if flags.shape != (self.n,):
            raise ValueError(f"own_caps: expected shape ({self.n},), got {flags.shape}")
        return flags

    def _caps(self) -> tuple[Float32Array, bool]:
        """Each row's shape cap (``max_shape``, or the row's own in ``row_caps``) and whether
        any is heavy enough for the Pareto branch; derived once, not on every tick (the
        parameters do not change after construction)."""
        return self._cached("caps", self._derive_caps)

    def _derive_caps(self) -> tuple[Float32Array, bool]:
        caps = np.full(1 if self.rows is None else self.rows, self.max_shape, dtype=np.float32)
        for row, cap in (self.row_caps or {}).items():
            caps[row] = cap
        return caps, bool(caps.max() > 1e-3)

    def tail(self, own_caps: BoolArray | None = None) -> tuple[Float32Array, Float32Array]:
        """Generalised Pareto shape and scale of the excess, by the method of moments.

        The shape is held in [0, ``max_shape``] (a row's own cap where it has one, on the
        series ``own_caps`` names, as in ``p_value``): never lighter than exponential (a tail
        that looks bounded after a calm month is not), never so heavy that nothing can page.
        In float32 (see ``_moment_fit``).
        """
        shape, scale = _tail_fit(
            self._rows2d(self.exceed),
            self._rows2d(self.excess),
            self._rows2d(self.excess_sq),
            np.float32(self.min_scale),
            self._caps()[0],
            self._own_caps(own_caps),
            np.float32(self.max_shape),
        )
        return shape.reshape(self.exceed.shape), scale.reshape(self.exceed.shape)

    def excess_without(
        self,
        stat: FloatArray,
        idx: IndexArray,
        p: float,
        own_caps: BoolArray | None = None,
        floored: bool = False,
        min_weight: float = 0.0,
        without: Without | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """The excess over z0 whose p-value, on the tail without the statistics ``stat``
        learned last, is ``p``; and what each of those taught above z0 (0: nothing).

        ``stat`` (rows, k) holds, for the first ``rows`` rows, the statistics series ``idx``
        learned last (NaN: none); nothing may have been learned for those series since, so
        their excess can be taken out exactly. ``own_caps`` (k,), as in ``p_value``.
        ``floored``: the rate floored as ``p_value`` floors it (``_rate``). The level is NaN
        where the tail weighs less than ``min_weight`` points. ``without``: the moments
        without them, when the caller has them already (``_without``).

        A statistic that dwarfed the moments it joined (a garbage value 1e6 on a series at
        100 that wobbles by 3: its square, 1e11, added to a float32 sum of squares near 100)
        leaves, once taken out, only the sum's rounding (thousands). Fitted on that, the
        tail without it was noise and its ceiling far past any real spike: the series never
        paged again for the tails' memory (``tests/unit/detect/test_onset_ceiling.py``).
        Where less than 2^-16 of a moment is left, what is left is not known: the mean
        excess stands for the tail, as an exponential one (the prior's scale, where the
        first moment is lost as well).
        """
        weight, learned, k, rem, rem_sq, over, _ = without or self._without(stat, idx)
        shape32, scale32 = _tail_fit(
            k.astype(np.float32),
            rem.astype(np.float32),
            rem_sq.astype(np.float32),
            np.float32(self.min_scale),
            self._caps()[0],
            _EVERYWHERE if own_caps is None else np.asarray(own_caps, dtype=np.bool_),
            np.float32(self.max_shape),
        )
        shape, scale = shape32.astype(np.float64), scale32.astype(np.float64)
        rate = k / np.maximum(weight - learned, 1.0)
        if floored:  # as ``p_value`` has it (``_rate``)
            most = np.minimum(weight - learned, self._steady_weight) + RATE_FLOOR_WEIGHT
            rate = np.maximum(rate, self.prior_rate * RATE_FLOOR_WEIGHT / most)
        times = np.maximum(rate / p, 1.0)
        heavy = shape > 1e-3
        power = np.where(heavy, shape, 1.0)
        level = np.where(heavy, scale / power * (times**power - 1.0), scale * np.log(times))
        if min_weight > 0.0:
            level = np.where(weight >= min_weight, level, np.nan)
        return level, over

    def _without(self, stat: FloatArray, idx: IndexArray) -> Without:
        """The moments of series ``idx``'s first ``stat.shape[0]`` rows without the
        statistics ``stat`` they learned last (``excess_without``): the weight, what was
        learned (1 or 0), the exceedances, excess and squared excess left, the excess each
        taught, and where a moment left is a stand-in (what was left was rounding)."""
        rows = stat.shape[0]
        weight, exceed, excess, excess_sq = (
            self._rows2d(a)[:rows, idx].astype(np.float64) for a in self._moments(None)
        )
        over = np.minimum(stat - self.z0, MAX_EXCESS)  # what ``_learn`` added
        learned = over > 0.0  # NaN compares False: nothing learned
        over = np.where(learned, over, 0.0)
        # The tail without them (the prior keeps every moment positive), fitted as ``tail``.
        k = np.maximum(exceed - learned, 0.0)
        rem = np.maximum(excess - over, 0.0)
        rem_sq = np.maximum(excess_sq - over * over, 0.0)
        # Where the statistic dwarfed the moments it joined, what is left is their rounding
        # (see ``excess_without``).
        lost = rem < excess * 2.0**-16
        rem = np.where(lost, k * self.prior_scale, rem)
        lost_sq = rem_sq < excess_sq * 2.0**-16
        rem_sq = np.where(lost_sq, 2.0 * rem * rem / np.maximum(k, 1e-9), rem_sq)
        return weight, learned.astype(np.float64), k, rem, rem_sq, over, lost | lost_sq

    def cap_learned(
        self, stat: FloatArray, idx: IndexArray, p: float, own_caps: BoolArray | None = None
    ) -> None:
        """Lower what statistics already learned taught the tail to at most the statistic
        whose p-value, on the tail without them, is ``p`` (``excess_without``, whose
        conditions hold).

        For a statistic that was no sample of the series' deviations (``ensemble``: the
        first point of a change accepted as the new normal): one 30σ excess among a thousand
        holds the moment fit's shape at its cap, and a 15σ spike hours later no longer
        pages. Capped rather than withdrawn: the point still says the series can move that
        far now and then, as much as a one-in-``1/p`` point says, so a change that keeps
        coming back still fattens the tail.
        """
        rows = stat.shape[0]
        without = self._without(stat, idx)
        level, over = self.excess_without(stat, idx, p, own_caps, without=without)
        cut = np.maximum(over - level, 0.0)
        if not cut.any():
            return
        kept = over - cut
        # Where what was left is a stand-in (``_without``), the moments are set to it and
        # the capped statistic: taking the cut off the rounding left rounding.
        _, _, _, rem, rem_sq, _, lost = without
        for a, less, whole in (
            (self.excess, cut, rem + kept),
            (self.excess_sq, over * over - kept * kept, rem_sq + kept * kept),
        ):
            rows2d = self._rows2d(a)
            left = np.maximum(rows2d[:rows, idx] - less, 0.0)
            rows2d[:rows, idx] = np.where(lost & (cut > 0.0), whole, left).astype(np.float32)

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

    def learn_row(
        self, row: int, stat: FloatArray, mask: BoolArray, interval: FloatArray | None = None
    ) -> None:
        """``learn`` for one row of a stacked calibrator: ``stat`` (n,) is that row's."""
        weight, exceed, excess, excess_sq = (a[row : row + 1] for a in self._moments(None))
        _learn(
            weight,
            exceed,
            excess,
            excess_sq,
            stat.reshape(1, -1),
            mask,
            self.decay,
            self.z0,
            *self._timing(interval),
        )

    def learn(self, stat: FloatArray, mask: BoolArray, interval: FloatArray | None = None) -> None:
        """Fold the statistics of unflagged, finite points into the tail estimate.

        With ``rows``, ``stat`` is (rows, n) and ``mask`` (n,) holds for every row.
        ``interval`` (n,), each series' seconds per point (NaN: not known yet), makes the
        memory at least ``min_span`` seconds long.
        """
        _learn(
            self._rows2d(self.weight),
            self._rows2d(self.exceed),
            self._rows2d(self.excess),
            self._rows2d(self.excess_sq),
            self._rows2d(stat),
            mask,
            self.decay,
            self.z0,
            *self._timing(interval),
        )

    def _timing(self, interval: FloatArray | None) -> tuple[FloatArray, float, float]:
        """The kernel's ``interval``, ``cut`` and ``per_second`` arguments (``_decay_of``;
        an empty interval: every series decays per point), checked: the compiled loop does
        not."""
        if interval is None or self.min_span <= 0.0:
            return _NO_INTERVAL, 0.0, 0.0
        timed = np.ascontiguousarray(interval, dtype=np.float64)
        if timed.shape != (self.n,):
            raise ValueError(f"interval: expected shape ({self.n},), got {timed.shape}")
        return timed, self.min_span / self.half_life, math.log(2.0) / self.min_span
