"""Feature drift: has what comes in moved away from what the model was fitted on?

A model fitted on a window of feature vectors (its *reference*) is only as good as the
resemblance between that window and what arrives now. ``DriftMonitor`` keeps a compact
summary of the reference, per feature the decile edges and the share of reference points in
each bin, and compares a recent window against it with the population stability index

    PSI = sum over bins b of (p_recent[b] - p_ref[b]) * ln(p_recent[b] / p_ref[b])

one number per feature, 0 when the two histograms agree. The usual reading for large
independent samples: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a significant
one; the default threshold here is 0.5 because windows of a few hundred autocorrelated
points are noisier than that.
Shares are floored at 1e-3 so an empty bin does not blow up the logarithm; bins whose edges
coincide (a discrete or constant feature) are empty on both sides and add nothing.

Metrics are autocorrelated, so a few hundred consecutive points hold far fewer independent
ones and their PSI is noisy even when nothing changed (a slow daily cycle does the same).
Given ``block``, the recent-window size, ``fit`` therefore also measures that noise on the
reference itself: it slides a block of that size over the reference (rows in time order, a
quarter block at a time) and takes each block's PSI against the rest of the reference. A
feature has drifted when its PSI exceeds both ``threshold`` and ``margin`` (3) times the
largest of those in-reference PSIs: the recent window must differ from the reference clearly
more than any stretch of the reference differed from the rest of it.

Cost: ``fit`` sorts the reference once (O(m log m) per feature); ``check`` is
O(window × features × bins), about a millisecond for 500 × 100 features.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> monitor = DriftMonitor()
>>> monitor.fit(rng.normal(size=(2000, 2)), block=500)
>>> monitor.check(rng.normal(size=(500, 2))).drifted
()
>>> shifted = rng.normal(size=(500, 2)) + np.array([0.0, 1.5])
>>> report = monitor.check(shifted)
>>> report.drifted, bool(report.psi[1] > 1.0)
((1,), True)

A detector that uses the monitor records what it found as ``DriftEvent`` values, so drift is
reported to the people reading alerts rather than silently absorbed by a refit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

_FLOOR = 1e-3


@dataclass(frozen=True)
class DriftReport:
    """Per-feature PSI of one recent window against the reference, and what crossed."""

    psi: FloatArray
    limit: FloatArray
    drifted: tuple[int, ...]
    """Indices of the features whose PSI is above their limit, largest PSI first."""

    @property
    def magnitude(self) -> float:
        """The largest PSI of any feature (0 if there is none)."""
        return float(np.max(self.psi)) if self.psi.size else 0.0


@dataclass(frozen=True)
class DriftEvent:
    """A detector noticed that one group's inputs drifted away from its model's reference.

    ``features`` are indices of the group's series (its metrics), most drifted first, with
    their PSI in ``magnitudes``; ``magnitude`` is the largest. ``time`` is the time of the
    point that completed the drifted window. The detector refits right after.
    """

    group: int
    time: float
    features: tuple[int, ...]
    magnitudes: tuple[float, ...]

    @property
    def magnitude(self) -> float:
        """The largest per-feature PSI of the event."""
        return max(self.magnitudes, default=0.0)


class DriftMonitor:
    """Compares recent windows of feature vectors with a reference window, per feature.

    ``bins`` quantile bins of the reference (deciles by default); a feature has drifted when
    its PSI exceeds ``threshold`` and ``margin`` times the reference's own block-to-rest PSI
    (see the module docstring). Holds only arrays, so it pickles and copies cheaply.
    """

    def __init__(self, bins: int = 10, threshold: float = 0.5, margin: float = 3.0) -> None:
        if bins < 2:
            raise ValueError(f"bins must be at least 2, got {bins}")
        self.bins = bins
        self.threshold = threshold
        self.margin = margin
        self.edges: FloatArray | None = None
        self.reference: FloatArray | None = None
        self.limit: FloatArray | None = None
        self.calibrated = False

    @property
    def fitted(self) -> bool:
        """Whether a reference has been taken."""
        return self.edges is not None

    def fit(self, reference: NDArray[np.floating], block: int = 0) -> None:
        """Take the reference window, shape (m, k), rows in time order, all finite.

        With ``block`` > 0 and at least two blocks in the reference, the per-feature limit
        also covers the PSI that blocks of that many consecutive rows (sliding by a quarter
        block) show against the rest, and ``calibrated`` is true.
        """
        ref = np.asarray(reference, dtype=np.float64)
        if ref.ndim != 2 or ref.shape[0] == 0:
            raise ValueError(f"reference must be a non-empty (m, k) array, got {ref.shape}")
        m, k = ref.shape
        qs = np.linspace(0.0, 1.0, self.bins + 1)[1:-1]
        self.edges = np.quantile(ref, qs, axis=0).T.copy()  # (k, bins - 1)
        bins = self._bins(ref)
        total = self._count(bins)
        self.reference = _shares(total, m)
        noise = np.zeros(k)
        self.calibrated = block > 0 and 2 * block <= m
        if self.calibrated:
            for start in range(0, m - block + 1, max(1, block // 4)):
                part = self._count(bins[start : start + block])
                psi = _psi(_shares(part, block), _shares(total - part, m - block))
                noise = np.maximum(noise, psi)
        self.limit = np.maximum(self.threshold, self.margin * noise)

    def psi(self, recent: NDArray[np.floating]) -> FloatArray:
        """PSI of each feature of ``recent`` (shape (r, k)) against the reference."""
        if self.reference is None:
            raise RuntimeError("DriftMonitor.fit must be called before psi/check")
        cur = np.asarray(recent, dtype=np.float64)
        return _psi(_shares(self._count(self._bins(cur)), cur.shape[0]), self.reference)

    def check(self, recent: NDArray[np.floating]) -> DriftReport:
        """Which features of ``recent`` drifted, with the PSI and limit of every feature."""
        psi = self.psi(recent)
        assert self.limit is not None
        over = np.flatnonzero(psi > self.limit)
        order = over[np.argsort(-psi[over], kind="stable")]
        return DriftReport(psi=psi, limit=self.limit, drifted=tuple(int(i) for i in order))

    def _bins(self, x: FloatArray) -> NDArray[np.int64]:
        """Bin of each value, offset by feature (feature j's bins are j * bins + 0..bins-1)."""
        assert self.edges is not None
        # bin = how many edges lie strictly below the value (0 .. bins-1)
        idx = np.sum(x[:, :, None] > self.edges[None, :, :], axis=2)
        return np.asarray(idx + self.bins * np.arange(x.shape[1])[None, :], dtype=np.int64)

    def _count(self, bins: NDArray[np.int64]) -> NDArray[np.int64]:
        """Rows in each bin, per feature: shape (k, bins)."""
        k = bins.shape[1]
        return np.bincount(bins.ravel(), minlength=k * self.bins).reshape(k, self.bins)


def _shares(counts: NDArray[np.int64], total: int) -> FloatArray:
    return np.maximum(counts / max(total, 1), _FLOOR)


def _psi(current: FloatArray, reference: FloatArray) -> FloatArray:
    psi = np.sum((current - reference) * np.log(current / reference), axis=1)
    return np.asarray(psi, dtype=np.float64)
