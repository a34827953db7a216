"""Shared plumbing of the windowed multivariate detectors (forest, patterns).

Both keep, per group, a robust running location/scale of every series (Huber-clipped
exponentially weighted mean and mean absolute deviation), a short window of learned rows,
and a bounded ring buffer of learned feature vectors that their model is fitted on: first at
``min_fit`` vectors, again whenever the training set would double, then every
``refit_every`` learned points, and at once when ``drift.DriftMonitor`` finds that recent
vectors no longer look like the ones the model was fitted on (recorded in
``drift_events``). Subclasses say only how a row becomes features and how a model is
fitted and scored.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from anomalert.detect.base import BoolArray, FloatArray, Frame, MultivariateDetector
from anomalert.detect.drift import DriftEvent, DriftMonitor
from anomalert.model import Kind

Float32Array = NDArray[np.float32]
IndexArray = NDArray[np.intp]

Z_CLIP = 20.0
"""Standardised features are clipped to ±Z_CLIP (a constant metric that moves is already
as surprising as it gets; this keeps float32 buffers finite)."""

_HUBER = 3.0  # residuals beyond 3 scales move the running location/scale as if at 3 scales
_WARM = 10  # finite values a series needs before its residuals are clipped
_ABSDEV_TO_SIGMA = math.sqrt(math.pi / 2.0)  # E|N(0,1)| = sqrt(2/pi)
_REL_FLOOR = 1e-6  # scale floor relative to |location| ...
_ABS_FLOOR = 1e-12  # ... and absolute, for a constant series


@dataclass(frozen=True)
class Rows:
    """One tick's rows of some groups, standardised once and shared by every step."""

    groups: IndexArray
    x: FloatArray  # (g, dim) as given
    finite: BoolArray
    count: NDArray[np.int64]  # finite values learned so far, per series
    loc: FloatArray
    scale: FloatArray
    x_imp: FloatArray  # missing or never-seen values replaced by the location
    z: FloatArray


class BufferedDetector(MultivariateDetector):
    """The causal plumbing shared by detectors that refit a batch model per group.

    Holds, per group: the robust running location/scale of each series, the last
    ``window - 1`` learned values of each series (original units, missing values imputed),
    a ring buffer of learned feature vectors with the step at which each was learned, a
    fitted model, and a drift monitor on the model's reference. A subclass says how a
    feature vector is made (``_featurize``, ``n_features``), how a model is fitted on the
    buffer (``_fit``) and how it scores vectors (``_score``).

    Schedule (all counts in learned points of the group): first fit once the buffer holds
    ``min_fit`` vectors; refit when the points learned since the last fit would double its
    training set (so a young model grows fast: 200, 400, 800, ...), at most every
    ``refit_every`` points; and, once ``drift_window`` points have
    been learned since the last fit, every ``drift_window // 5`` points the last
    ``drift_window`` points' vectors are compared with the model's reference, a drift
    recorded in ``drift_events`` and the model refitted. Drift checks start once the
    reference is long enough (two drift windows) for the monitor to measure its own noise,
    and only if ``drift_window < refit_every`` (otherwise the schedule refits first).
    ``drift_events`` grows by at most one event per group per ``drift_window`` learned
    points; a caller may read and clear it.

    ``adapt`` (a lasting deviation accepted as the new normal) sends the masked groups'
    locations back to their warm-up pace; models stay.
    """

    stride: int = 1
    """Buffer every stride-th learned vector (a subclass may make it a parameter)."""

    def __init__(
        self,
        n: int,
        dim: int,
        window: int,
        halflife: float,
        buffer_size: int,
        min_fit: int,
        refit_every: int,
        drift_window: int,
        drift_threshold: float,
    ) -> None:
        super().__init__(n, dim)
        if window < 2:
            raise ValueError(f"window must be at least 2, got {window}")
        if halflife <= 0:
            raise ValueError(f"halflife must be positive, got {halflife}")
        if not 2 <= min_fit <= buffer_size:
            raise ValueError(f"need 2 <= min_fit <= buffer_size, got {min_fit}, {buffer_size}")
        if refit_every < 1 or drift_window < 1:
            raise ValueError("refit_every and drift_window must be positive")
        self.window = window
        self.halflife = halflife
        self.buffer_size = buffer_size
        self.min_fit = min_fit
        self.refit_every = refit_every
        self.drift_window = drift_window
        self.drift_threshold = drift_threshold
        nf = self.n_features
        self.loc = np.zeros((n, dim))
        self.absdev = np.zeros((n, dim))
        self.count = np.zeros((n, dim), dtype=np.int64)
        self.hist = np.zeros((n, window - 1, dim))
        self.buf = np.zeros((n, buffer_size, nf), dtype=np.float32)
        self.buf_step = np.zeros((n, buffer_size), dtype=np.int64)
        self.buf_len = np.zeros(n, dtype=np.int64)
        self.buf_pos = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.since_fit = np.zeros(n, dtype=np.int64)
        self.fitted = np.zeros(n, dtype=np.bool_)
        self.fits = np.zeros(n, dtype=np.int64)
        self.fit_size = np.zeros(n, dtype=np.int64)
        self.models: list[Any] = [None] * n
        self.monitors: list[DriftMonitor | None] = [None] * n
        self.drift_events: list[DriftEvent] = []

    # ----------------------------------------------------------------- subclass hooks
    @property
    @abstractmethod
    def n_features(self) -> int:
        """Length of one feature vector (a function of ``dim`` and the parameters)."""

    @abstractmethod
    def _featurize(self, rows: Rows) -> Float32Array:
        """Feature vectors (len(rows.groups), n_features) of the rows, before learning."""

    @abstractmethod
    def _fit(self, group: int, vectors: Float32Array, steps: NDArray[np.int64]) -> Any:
        """A model fitted on a group's buffered vectors (learned at ``steps``)."""

    @abstractmethod
    def _score(self, rows: Rows, vectors: Float32Array) -> tuple[FloatArray, IndexArray]:
        """Statistic and most deviating series of each row's group (all have a model)."""

    # ----------------------------------------------------------------- the two verbs
    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        """Score each group's row of x (shape (n, dim)); changes no state."""
        x = self._as_rows(x)
        stat, expected, lower, upper, detail = (np.full(self.n, np.nan) for _ in range(5))
        kind = np.zeros(self.n, dtype=np.int8)
        groups = np.flatnonzero(self.fitted & np.isfinite(x).any(axis=1))
        if groups.size:
            rows = self._standardise(groups, x[groups])
            stat[groups], feature = self._score(rows, self._featurize(rows))
            pick = (np.arange(groups.size), feature)
            loc, scale = rows.loc[pick], rows.scale[pick]
            expected[groups] = loc
            lower[groups] = loc - 3.0 * scale
            upper[groups] = loc + 3.0 * scale
            kind[groups] = np.where(np.isfinite(stat[groups]), np.int8(Kind.MULTIVARIATE), 0)
            detail[groups] = feature
        return Frame(stat, expected, lower, upper, kind, detail)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        """Take the rows where ``mask`` is true (and some value is finite) into the model."""
        x = self._as_rows(x)
        groups = np.flatnonzero(np.asarray(mask, dtype=bool) & np.isfinite(x).any(axis=1))
        if groups.size == 0:
            return
        rows = self._standardise(groups, x[groups])
        vectors = self._featurize(rows)
        self._push_history(rows)
        self._update_scale(rows)
        keep = self.steps[groups] % self.stride == 0
        self._push_buffer(groups[keep], vectors[keep])
        self.steps[groups] += 1
        self.since_fit[groups] += 1
        self._follow_schedule(groups, np.broadcast_to(np.asarray(t, dtype=np.float64), (self.n,)))

    # ----------------------------------------------------------------- state upkeep
    def _as_rows(self, x: FloatArray) -> FloatArray:
        return np.asarray(x, dtype=np.float64).reshape(self.n, self.dim)

    def _standardise(self, groups: IndexArray, x: FloatArray) -> Rows:
        """Missing (or never seen) values imputed by the running location, and their z."""
        loc = self.loc[groups]
        count = self.count[groups]
        floor = _REL_FLOOR * np.abs(loc) + _ABS_FLOOR
        scale = np.maximum(_ABSDEV_TO_SIGMA * self.absdev[groups], floor)
        finite = np.isfinite(x)
        x_imp = np.where(finite & (count > 0), x, loc)
        return Rows(groups, x, finite, count, loc, scale, x_imp, (x_imp - loc) / scale)

    def _push_history(self, rows: Rows) -> None:
        values = np.where(rows.finite, rows.x, rows.x_imp)
        hist = self.hist[rows.groups]
        hist[:, :-1] = hist[:, 1:]
        hist[:, -1] = values
        first = rows.finite & (rows.count == 0)
        if first.any():  # a series' first value fills its whole history
            hist = np.where(first[:, None, :], values[:, None, :], hist)
        self.hist[rows.groups] = hist

    def _update_scale(self, rows: Rows) -> None:
        """Huber-clipped EW mean of the value and of |residual| (alpha from halflife)."""
        g, finite, count, loc = rows.groups, rows.finite, rows.count, rows.loc
        alpha = np.maximum(1.0 - 0.5 ** (1.0 / self.halflife), 1.0 / (count + 1.0))
        alpha = np.where(finite, alpha, 0.0)  # a missing value changes nothing
        limit = np.where(count >= _WARM, _HUBER * rows.scale, np.inf)
        resid = np.where(rows.finite, rows.x - loc, 0.0)
        resid = np.minimum(np.maximum(resid, -limit), limit)
        dev = self.absdev[g]
        self.loc[g] = loc + alpha * resid  # the first value (alpha 1) sets the location
        self.absdev[g] = np.where(count == 0, 0.0, dev + alpha * (np.abs(resid) - dev))
        self.count[g] = count + finite

    def _push_buffer(self, groups: IndexArray, vectors: Float32Array) -> None:
        if groups.size == 0:
            return
        pos = self.buf_pos[groups]
        self.buf[groups, pos] = vectors
        self.buf_step[groups, pos] = self.steps[groups]
        self.buf_pos[groups] = (pos + 1) % self.buffer_size
        self.buf_len[groups] = np.minimum(self.buf_len[groups] + 1, self.buffer_size)

    def _recent(self, group: int, points: int) -> Float32Array:
        """The buffered vectors of the last ``points`` learned points of a group."""
        k = min(-(-points // self.stride), int(self.buf_len[group]))
        idx = (self.buf_pos[group] - 1 - np.arange(k)) % self.buffer_size
        return self.buf[group, idx]

    def _follow_schedule(self, groups: IndexArray, times: FloatArray) -> None:
        fitted = self.fitted[groups]
        since = self.since_fit[groups]
        first = ~fitted & (self.buf_len[groups] >= self.min_fit)
        # while young, refit whenever the data learned since the last fit would double it
        due = fitted & (since >= np.minimum(self.refit_every, self.fit_size[groups] * self.stride))
        every = max(1, self.drift_window // 5)
        check = fitted & ~due & (since >= self.drift_window) & (since % every == 0)
        for g in _first_due(groups[first | due], first[first | due], since[first | due]):
            self._refit(int(g))
        for g in groups[check]:
            self._check_drift(int(g), float(times[g]))

    def _check_drift(self, group: int, time: float) -> None:
        monitor = self.monitors[group]
        if monitor is None or not monitor.calibrated:
            return
        report = monitor.check(self._recent(group, self.drift_window))
        if not report.drifted:
            return
        # a feature column c belongs to series c % dim; a series drifts as much as its worst
        per_series = report.psi.reshape(-1, self.dim).max(axis=0)
        series = np.unique(np.asarray(report.drifted) % self.dim)
        order = series[np.argsort(-per_series[series], kind="stable")]
        self.drift_events.append(
            DriftEvent(
                group=group,
                time=time,
                features=tuple(int(j) for j in order),
                magnitudes=tuple(float(per_series[j]) for j in order),
            )
        )
        self._refit(group)

    def _refit(self, group: int) -> None:
        size = int(self.buf_len[group])
        order = np.argsort(self.buf_step[group, :size], kind="stable")  # time order
        vectors = self.buf[group, order]
        monitor = DriftMonitor(threshold=self.drift_threshold)
        # small linear algebra: BLAS threads only add contention in a busy engine
        with _blas().limit(limits=1, user_api="blas"):
            self.models[group] = self._fit(group, vectors, self.buf_step[group, order])
            monitor.fit(vectors, block=-(-self.drift_window // self.stride))
        self.monitors[group] = monitor
        self.fitted[group] = True
        self.fits[group] += 1
        self.fit_size[group] = size
        self.since_fit[group] = 0

    def adapt(self, mask: BoolArray) -> None:
        """Accept a lasting deviation: the masked groups' locations restart quickly.

        Each series' running location/scale goes back to its warm-up pace (the next ~10
        learned points set the new level, without clipping); the model, fitted in
        standardised units, stays, so relations between the series learned so far still hold.
        """
        groups = np.flatnonzero(np.asarray(mask, dtype=bool))
        self.count[groups] = np.minimum(self.count[groups], _WARM)

    def grow(self, n: int) -> None:
        """Make room for more groups (untrained, without a model)."""
        extra = n - self.n
        super().grow(n)
        if extra > 0:
            self.models.extend([None] * extra)
            self.monitors.extend([None] * extra)

    def state_nbytes(self) -> int:
        """Array state including the fitted models and drift references."""
        total = super().state_nbytes()
        for obj in [*self.models, *self.monitors]:
            if obj is not None:
                total += sum(v.nbytes for v in vars(obj).values() if isinstance(v, np.ndarray))
        return total


def principal_axes(vectors: Float32Array) -> tuple[Float32Array, Float32Array]:
    """Mean and eigenvectors of the covariance of the rows (largest eigenvalue first)."""
    x = vectors.astype(np.float64)
    center = x.mean(axis=0)
    cov = np.cov(x - center, rowvar=False).reshape(x.shape[1], x.shape[1])
    _, axes = np.linalg.eigh(cov)
    return center.astype(np.float32), np.ascontiguousarray(axes[:, ::-1], dtype=np.float32)


#: Refits in one tick at most; the other due groups keep their turn for the next ticks.
MAX_REFITS_PER_TICK = 64


def _first_due(groups: IndexArray, first: BoolArray, since: NDArray[np.int64]) -> IndexArray:
    """The groups to refit this tick: first fits first (a group without a model has no
    opinion), then the longest overdue, ``MAX_REFITS_PER_TICK`` at most.

    Why: groups that start together reach each fit together (200, 400, 800 learned points),
    and a tick that refits them all holds the app's lock for all of them (1,000 services'
    aggregate records: 4.6 s at about 4 ms a refit, most of an hour for 20,000 with
    scikit-learn's forest). Spread over the next ticks, a tick refits for a quarter of a
    second at most; the last of 20,000 groups gets its first model about 50 minutes later
    at ten-second ticks. A count, not a time budget, so that a run is reproducible.
    """
    if groups.size <= MAX_REFITS_PER_TICK:
        return groups
    order = np.lexsort((-since, ~first))  # the last key sorts first
    return groups[order[:MAX_REFITS_PER_TICK]]


_CONTROLLER: list[ThreadpoolController] = []


def _blas() -> ThreadpoolController:
    """The process' thread pools, found once: ``threadpool_limits`` looks for them again on
    every call (it reads the process' memory map: 2 ms, as much as a refit itself)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]
