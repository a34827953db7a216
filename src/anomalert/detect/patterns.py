"""Behaviour patterns of a service: did it leave the shapes it usually moves in?

Each tick a group (one service's ``dim`` series) gets a *window signature*: for each series,
over the last ``window`` values standardised by its robust running location/scale (the same
as ``forest``):

- ``mean_j``: the mean standardised value over the window;
- ``rise_j``: the least-squares slope over the window times ``window - 1`` (how far the
  series climbed or fell across the window, in scales).

So ``2 * dim`` features, blocks ``[mean_0.., rise_0..]``, clipped to ±20; missing values are
imputed with the running location. Learned signatures (every ``stride``-th learned point,
so 2,000 buffered signatures cover 10,000 points at the default stride 5) go into a bounded
per-group buffer; on the refit schedule (see ``forest.BufferedDetector``: first at
``min_fit`` buffered signatures, then whenever the training set would double, at most every
``refit_every`` learned points, and on drift) DBSCAN clusters them.

Clustering happens in whitened coordinates: the buffered signatures' principal axes, each
scaled to unit spread (spreads below 0.1 scale are floored so near-constant directions are
not blown up). The metrics of one service move together, so in raw signature units a
pattern where one of them stops following the others is a small step off a diagonal; whitened,
it is a step along an axis that normally hardly moves, as far as any other departure.

Two signatures of overlapping windows are close because they share points, not because
they show the same pattern, so pairs learned less than ``window`` points apart are never
neighbours: they are left out of the k-distance, of DBSCAN (a precomputed distance matrix
where such pairs are "infinitely" far) and of the nearest-core search at observe time.

Choice of ``eps``: each signature's distance to its ``min_samples``-th nearest
non-overlapping neighbour (the k-distance) is computed, and eps is its ``eps_quantile``
quantile (0.9 by default): the elbow of the sorted k-distance curve, taken where about 90 %
of the buffered signatures sit in dense regions (these become DBSCAN's core samples) and the
sparsest 10 % are left as the tail.

The statistic is the (whitened) distance from the current signature to the nearest core
sample, divided by eps: typical in-pattern points score at most about 1, a service that left
all its usual patterns scores well above. ``detail`` is the series that contributes most to
that squared distance (its mean and rise, through the whitening metric); the band is that
series' running location ± 3 scales.

>>> import numpy as np
>>> rng = np.random.default_rng(2)
>>> det = PatternDetector(dim=2, window=10, stride=2, min_fit=100, refit_every=400)
>>> for i in range(400):
...     x = rng.normal(size=(1, 2)) * 0.3 + np.sin(i / 8.0)
...     det.learn(np.array([float(i)]), x, np.array([True]))
>>> normal = det.observe(np.array([400.0]), np.array([[np.sin(50.0), np.sin(50.0)]]))
>>> broken = det.observe(np.array([400.0]), np.array([[np.sin(50.0), 12.0]]))
>>> bool(normal.stat[0] < 2.0), bool(broken.stat[0] > 3.0), int(broken.detail[0])
(True, True, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.base import FloatArray
from anomalert.detect.buffered import (
    Z_CLIP,
    BufferedDetector,
    Float32Array,
    IndexArray,
    Rows,
    principal_axes,
)

_FAR = 1e30  # "infinitely far" in the precomputed distance matrix (sklearn wants finite values)
_EPS_FLOOR = 1e-3  # a buffer of identical signatures still gets a usable radius
_SPREAD_FLOOR = 0.1  # in scales: directions that hardly vary are not blown up to unit spread


@dataclass(frozen=True)
class _Patterns:
    """One group's patterns: the whitening of its signatures, DBSCAN's core samples in
    whitened coordinates (with the step each was learned at) and eps."""

    center: Float32Array
    axes: Float32Array  # principal axes of the buffered signatures (columns)
    spread: Float32Array  # their standard deviations, floored
    cores: Float32Array
    core_sq: Float32Array
    core_step: NDArray[np.int64]
    eps: float
    n_patterns: int

    def whiten(self, vectors: Float32Array) -> Float32Array:
        """Coordinates along the principal axes, in units of their spread."""
        return np.asarray((vectors - self.center) @ self.axes / self.spread, dtype=np.float32)

    def contributions(self, gap: Float32Array) -> FloatArray:
        """Each signature feature's share of the squared whitened distance ``|gap|^2``.

        With Δ the gap in signature units and M the whitening metric, |gap|^2 = Δ·MΔ, so
        feature j contributes Δ_j (MΔ)_j (the shares sum to |gap|^2; one may be negative).
        """
        gap64 = gap.astype(np.float64)
        delta = (gap64 * self.spread) @ self.axes.T
        metric_delta = (gap64 / self.spread) @ self.axes.T
        return np.asarray(delta * metric_delta, dtype=np.float64)


@cache
def _rise_weights(window: int) -> FloatArray:
    """Weights whose dot product with a window is its least-squares slope times window - 1."""
    steps = np.arange(window, dtype=np.float64)
    centred = steps - steps.mean()
    weights = centred / np.sum(centred**2) * (window - 1)
    weights.flags.writeable = False
    return weights


def _pairwise(vectors: Float32Array) -> FloatArray:
    x = vectors.astype(np.float64)
    sq = np.einsum("ij,ij->i", x, x)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    return np.asarray(np.sqrt(np.maximum(d2, 0.0)), dtype=np.float64)


class PatternDetector(BufferedDetector):
    """DBSCAN over window signatures: distance to the usual patterns, in units of eps.

    ``window``: points summarised by a signature (and the minimum gap between two
    signatures that may count as neighbours). ``stride``: buffer every stride-th learned
    signature. ``min_samples``: DBSCAN's neighbourhood size (also the k of the k-distance).
    ``eps_quantile``: quantile of the k-distances taken as eps. ``buffer_size``, ``min_fit``:
    in buffered signatures; ``refit_every``, ``drift_window``: in learned points (see
    ``forest.BufferedDetector``). ``seed`` is accepted so every multivariate detector has
    the same constructor; DBSCAN is deterministic and uses no randomness.

    Refit cost grows with ``buffer_size`` squared (a dense distance matrix): about 0.2 s at
    2,000 signatures of 76 features.
    """

    name: ClassVar[str] = "patterns"

    def __init__(
        self,
        n: int = 1,
        dim: int = 1,
        window: int = 30,
        stride: int = 5,
        halflife: float = 1000.0,
        buffer_size: int = 2000,
        min_fit: int = 200,
        refit_every: int = 2500,
        drift_window: int = 1000,
        drift_threshold: float = 0.5,
        min_samples: int = 10,
        eps_quantile: float = 0.9,
        seed: int = 0,
    ) -> None:
        if stride < 1:
            raise ValueError(f"stride must be positive, got {stride}")
        if not 0.0 < eps_quantile <= 1.0:
            raise ValueError(f"eps_quantile must be in (0, 1], got {eps_quantile}")
        self.stride = stride
        self.min_samples = min_samples
        self.eps_quantile = eps_quantile
        self.seed = seed
        super().__init__(
            n,
            dim,
            window,
            halflife,
            buffer_size,
            min_fit,
            refit_every,
            drift_window,
            drift_threshold,
        )

    @property
    def n_features(self) -> int:
        """Two features per series: window mean and rise."""
        return 2 * self.dim

    def _featurize(self, rows: Rows) -> Float32Array:
        hist = self.hist[rows.groups]  # (g, window - 1, dim)
        loc, scale = rows.loc[:, None, :], rows.scale[:, None, :]
        zw = np.concatenate([(hist - loc) / scale, rows.z[:, None, :]], axis=1)
        mean = zw.mean(axis=1)
        rise = np.einsum("w,gwd->gd", _rise_weights(self.window), zw)
        v = np.concatenate([mean, rise], axis=1)
        return np.minimum(np.maximum(v, -Z_CLIP), Z_CLIP).astype(np.float32)

    def _fit(self, group: int, vectors: Float32Array, steps: NDArray[np.int64]) -> _Patterns:
        from sklearn.cluster import DBSCAN

        center, axes = principal_axes(vectors)
        spread = np.maximum(((vectors - center) @ axes).std(axis=0), _SPREAD_FLOOR)
        white = np.asarray((vectors - center) @ axes / spread, dtype=np.float32)
        dist = _pairwise(white)
        dist[np.abs(steps[:, None] - steps[None, :]) < self.window] = _FAR
        k = min(self.min_samples, white.shape[0] - 1)
        kdist = np.partition(dist, k - 1, axis=1)[:, k - 1]
        finite = kdist[kdist < _FAR]
        eps = float(np.quantile(finite, self.eps_quantile)) if finite.size else _EPS_FLOOR
        eps = max(eps, _EPS_FLOOR)
        db = DBSCAN(eps=eps, min_samples=k, metric="precomputed").fit(dist)
        core = np.asarray(db.core_sample_indices_, dtype=np.intp)
        cores = np.ascontiguousarray(white[core])
        labels = np.asarray(db.labels_)
        return _Patterns(
            center=center,
            axes=axes,
            spread=spread.astype(np.float32),
            cores=cores,
            core_sq=np.einsum("ij,ij->i", cores, cores),
            core_step=steps[core].copy(),
            eps=eps,
            n_patterns=int(labels.max() + 1) if labels.size else 0,
        )

    def _score(self, rows: Rows, vectors: Float32Array) -> tuple[FloatArray, IndexArray]:
        stat = np.full(rows.groups.size, np.nan)
        feature = np.zeros(rows.groups.size, dtype=np.intp)
        for i, g in enumerate(rows.groups):
            model: _Patterns = self.models[g]
            v = model.whiten(vectors[i])
            d2 = model.core_sq - 2.0 * (model.cores @ v) + np.dot(v, v)
            # cores whose window overlaps the current one are not independent evidence
            d2[model.core_step > self.steps[g] - self.window] = np.inf
            if not np.isfinite(d2).any():
                continue
            nearest = int(np.argmin(d2))
            stat[i] = np.sqrt(max(float(d2[nearest]), 0.0)) / model.eps
            share = model.contributions(v - model.cores[nearest])
            feature[i] = int(np.argmax(share.reshape(-1, self.dim).sum(axis=0)))
        return stat, feature
