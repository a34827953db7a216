"""The detector seam: two verbs, ``observe`` then ``learn``, over many series at once.

Why two verbs: a score at time t must use only data up to t, and a detector must be able to
refuse to learn from what it flags (a spike must not poison its own baseline). Splitting
"look at this point" from "take this point into the model" makes both hold by construction;
the caller (the ensemble) decides the learn mask between the two calls.

Why arrays: the same class serves one series (n=1, the per-series face in ``series.py``) and
100,000 series ticking together (the batch engine), with state kept in numpy arrays indexed
by series, so one implementation has two faces.

A detector's ``observe`` returns a raw surprise statistic that is roughly |N(0, 1)| on
well-behaved normal data; it is turned into a calibrated score in [0, 1] per series by
``calibrate.TailCalibrator``, which learns each series' own tail, so detectors need not be
perfectly Gaussian.
"""

from __future__ import annotations

import copy
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.jit import kernel
from anomalert.model import Kind

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int8]
T = TypeVar("T")
#: The resolution floor the compiled loops get when there is none (see ``_resolution_args``).
_NO_RESOLUTION = np.zeros(0)


@dataclass(frozen=True)
class Frame:
    """What one detector sees in one tick, for each of n series (or groups).

    ``stat`` is NaN where the detector has no opinion yet (warming up, missing value).
    ``expected``/``lower``/``upper`` give the band the value was expected in; ``kind`` says
    what the deviation looks like (``model.Kind`` codes); ``detail`` is an optional extra
    number the detector's reason uses (for a forecast, minutes until the predicted breach;
    for the rolling baseline, the sigmas of the step from the previous point where that
    step, not the distance from the level, is what stands out: ``STEP_STANDS_OUT``).
    """

    stat: FloatArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    kind: IntArray
    detail: FloatArray | None = None

    @classmethod
    def empty(cls, n: int) -> Frame:
        """A frame with no opinion on any series."""
        nan = np.full(n, np.nan)
        return cls(nan, nan.copy(), nan.copy(), nan.copy(), np.zeros(n, dtype=np.int8))


#: Unsigned integers as wide as each item size: state is copied back by its bits, so one
#: compiled loop serves every dtype (float16 and bool included, which numba cannot read).
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def scatter(whole: np.ndarray, axis: int, idx: NDArray[np.intp], part: np.ndarray) -> None:
    """``whole``'s series ``idx`` (on ``axis``, 0 or -1) take ``part``'s values.

    numpy's fancy assignment on the series axis writes one element at a time with its
    index arithmetic: a week profile's 168 rows of 1,000 series took 0.9 ms, the compiled
    loop 0.1 ms (a batch deep in a few series is stepped on a copy of their state and
    written back, ``Ensemble.take``)."""
    bits = _BITS.get(whole.dtype.itemsize)
    if bits is None or not (whole.flags.c_contiguous and whole.ndim >= 1):
        np.moveaxis(whole, axis, 0)[idx] = np.moveaxis(part, axis, 0)
        return
    n = whole.shape[axis]
    if axis == 0:
        _scatter_first(whole.view(bits).reshape(n, -1), idx, part.view(bits).reshape(idx.size, -1))
    else:
        _scatter_last(whole.view(bits).reshape(-1, n), idx, part.view(bits).reshape(-1, idx.size))


@kernel
def _scatter_first(whole: np.ndarray, idx: NDArray[np.intp], part: np.ndarray) -> None:
    for j in range(idx.size):
        whole[idx[j]] = part[j]


@kernel
def _scatter_last(whole: np.ndarray, idx: NDArray[np.intp], part: np.ndarray) -> None:
    for r in range(whole.shape[0]):
        for j in range(idx.size):
            whole[r, idx[j]] = part[r, j]


class ArrayState:
    """State kept in arrays whose first axis is the series; gives clone, grow, repr, size.

    Constructor parameters are stored under their own names, which is what makes ``params``
    (and so ``clone`` and ``repr``) work without per-class code.

    Arrays named in ``series_last`` keep the series on their *last* axis instead (seasonal
    profiles, bins first, so that one tick reads one contiguous row for all series); ``grow``
    extends those along that axis.

    Quantities derived from the state that ``observe`` and ``learn`` of one tick share are
    cached (``_cached``) until the state changes (``_forget``). Attributes whose names start
    with ``_`` are such caches, not state: they are not pickled, grown or counted.
    """

    n: int
    series_last: ClassVar[tuple[str, ...]] = ()
    #: Arrays kept in a narrower dtype than they once were, by name: a checkpoint from
    #: before holds the wider one, which is cast on load (``__setstate__``), so a resumed
    #: engine keeps the state budget and runs the loops compiled for the narrow types.
    narrow: ClassVar[dict[str, type]] = {}

    def params(self) -> dict[str, Any]:
        """Constructor parameters by name (every one is stored as an attribute)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def clone(self, n: int | None = None) -> Self:
        """A fresh, untrained copy with the same parameters (optionally for another n)."""
        params = self.params()
        if n is not None:
            params["n"] = n
        return type(self)(**params)

    def _series_axes(self) -> list[tuple[str, int]]:
        """Each per-series state array's name and the axis that holds the series."""
        found = []
        for name, value in vars(self).items():
            if not isinstance(value, np.ndarray) or name.startswith("_"):
                continue
            if name in self.series_last:
                found.append((name, -1))
            elif value.ndim >= 1 and value.shape[0] == self.n:
                found.append((name, 0))
        return found

    def grow(self, n: int) -> None:
        """Make room for series added to a running engine, each starting untrained."""
        extra = n - self.n
        if extra <= 0:
            return
        self._forget()
        fresh = self.clone(n=extra)
        for name, axis in self._series_axes():
            value = getattr(self, name)
            setattr(self, name, np.concatenate([value, getattr(fresh, name)], axis=axis))
        self.n = n

    def take(self, idx: NDArray[np.intp]) -> Self:
        """A copy holding only series ``idx`` (their state copied), to work on apart."""
        part = copy.copy(self)
        part.__dict__.pop("_cache", None)
        for name, axis in self._series_axes():
            setattr(part, name, np.take(getattr(self, name), idx, axis=axis))
        part.n = int(idx.size)
        return part

    def put(self, idx: NDArray[np.intp], part: Self) -> None:
        """Write back the state of series ``idx`` from ``part`` (made by ``take(idx)``)."""
        for name, axis in self._series_axes():
            scatter(getattr(self, name), axis, idx, getattr(part, name))
        self._forget()

    def state_nbytes(self) -> int:
        """Bytes of array state, for the memory-per-series budget (caches excluded)."""
        return sum(
            v.nbytes
            for k, v in vars(self).items()
            if isinstance(v, np.ndarray) and not k.startswith("_")
        )

    def _caches(self) -> dict[str, Any]:
        """The caches derived from the current state, by name."""
        cache: dict[str, Any] = self.__dict__.setdefault("_cache", {})
        return cache

    def _cached(self, name: str, compute: Callable[[], T]) -> T:
        """The cache ``name``, computed by ``compute`` on first use since the state changed."""
        cache = self._caches()
        if name not in cache:
            cache[name] = compute()
        return cache[name]

    def _forget(self) -> None:
        """Drop the caches derived from the state; called whenever the state changes."""
        self.__dict__.pop("_cache", None)

    def __getstate__(self) -> dict[str, Any]:
        # Caches are rebuilt on demand: a pickle holds the state only.
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name, dtype in self.narrow.items():
            value = self.__dict__.get(name)
            if isinstance(value, np.ndarray) and value.dtype != dtype:
                setattr(self, name, value.astype(dtype))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items() if k != "n")
        return f"{type(self).__name__}({args})"


class Detector(ArrayState, ABC):
    """A univariate detector over ``n`` series ticking together.

    Subclasses keep every piece of state in arrays of length ``n`` (or ``(n, k)``) so that
    the engine can grow, pickle and measure them.
    """

    name: ClassVar[str]
    multivariate: ClassVar[bool] = False
    #: True for detectors that should see values with the seasonal shape removed (when the
    #: ensemble has a seasonal detector that found a period), so that Monday 09:00 is not a
    #: jump for a detector that knows nothing of Mondays.
    deseasonalized: ClassVar[bool] = False
    #: True for detectors that must learn even from flagged points (a forecast that stopped
    #: learning at the first warning would extrapolate a stale trend).
    learns_flagged: ClassVar[bool] = False
    #: True for detectors whose statistic is already a standard-normal quantile from their
    #: own model (a forecast's breach probability): p is taken from it directly instead of a
    #: learned tail, which would otherwise learn the climb it should warn about.
    self_calibrated: ClassVar[bool] = False
    #: True for detectors whose statistic builds up over the consecutive points of a change
    #: (a level shift's fast mean drifting away from its level): the points before such a
    #: change pages are the change itself, so the ensemble lets their statistics teach the
    #: tail only once a few calm ticks have followed them (``ensemble.PROBATION``).
    accumulates: ClassVar[bool] = False

    def __init__(self, n: int = 1) -> None:
        self.n = n

    @abstractmethod
    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        """Score x at times t (unix seconds) without changing any state."""

    @abstractmethod
    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        """Take x into the model for the series where ``mask`` is true (x finite there)."""

    def shift_input(self, mask: BoolArray, delta: FloatArray) -> None:
        """From now on the masked series' input is offset by ``delta``: move levels with it.

        Called when the seasonal shape removed from the input changes abruptly (a period
        adopted or dropped), so that the change is not mistaken for a level shift.
        Detectors without a level of the input need not override it.
        """

    def adapt(self, mask: BoolArray) -> None:
        """Accept the current behaviour of the masked series as the new normal.

        Called by the ensemble when a deviation has lasted long enough to be a new baseline
        (a deploy that changed latency for good): level-tracking detectors restart their
        level quickly; what is still valid (seasonal shape, scale) is kept.
        """

    def grow(self, n: int) -> None:
        # The resolution floor is the ensemble's, for the old n: it passes a new one.
        self.__dict__.pop("_resolution", None)
        super().grow(n)

    def use_resolution(self, floor: FloatArray | None) -> None:
        """Floor this detector's scale at ``floor`` per series (the data's resolution).

        The ensemble passes ``resolution.Resolution.floor()`` of the raw values before each
        tick; a detector on its own has none. Not state: the owner of the estimate passes it
        again after a pickle or a grow.
        """
        if floor is not self.__dict__.get("_resolution"):
            self._resolution = floor
            self._forget()

    def _resolution_args(self) -> tuple[FloatArray, bool]:
        """The resolution floor as the compiled loops take it: an array (empty when there
        is none) and whether there is one (they then floor at -inf, see ``robust.floor_of``).
        """
        floor: FloatArray | None = self.__dict__.get("_resolution")
        return (_NO_RESOLUTION, False) if floor is None else (floor, True)

    def _scale_floor(self, level: FloatArray) -> FloatArray:
        """``robust.scale_floor(level)``, raised to the resolution floor where there is one."""
        from anomalert.detect.robust import scale_floor

        return scale_floor(level, self.__dict__.get("_resolution"))


class MultivariateDetector(Detector):
    """A detector over ``n`` groups of ``dim`` aligned series (one service's metrics).

    ``observe``/``learn`` take x of shape (n, dim); the frame has one row per group, with
    ``expected``/``lower``/``upper`` describing the group's most deviating feature.
    """

    multivariate: ClassVar[bool] = True

    def __init__(self, n: int = 1, dim: int = 1) -> None:
        super().__init__(n)
        self.dim = dim


def kinds_from_sign(diff: FloatArray, up: Kind = Kind.SPIKE, down: Kind = Kind.DROP) -> IntArray:
    """Spike when above expectation, drop when below (NaN counts as below).

    Computed as ``down + (up - down) * (diff >= 0)`` in int8 rather than with ``np.where``:
    the sign of a residual is a coin flip from series to series, and a branch-free blend
    does not pay for the mispredicted branches (same codes, several times faster).
    """
    kind = (diff >= 0).view(np.int8) * np.int8(int(up) - int(down))
    kind += np.int8(down)
    return kind
