"""Isolation Forest over windowed features of one service's metrics (multivariate).

Each group is one service: ``dim`` aligned series (latency, error rate, CPU, ...). Every tick
each series j becomes three features, standardised by a robust running location/scale of
that series (``loc_j``, ``scale_j``: Huber-clipped exponentially weighted mean and mean
absolute deviation, half-life ``halflife`` learned points):

- ``z_j``: the current value, ``(x_j - loc_j) / scale_j``;
- ``m_j``: the mean of the last ``window`` standardised values (the current one included);
- ``d_j``: the first difference, ``(x_j - x_j[t-1]) / scale_j``.

So a group of ``dim`` series gives ``3 * dim`` features, laid out in blocks
``[z_0..z_{dim-1}, m_0.., d_0..]`` and clipped to ±20. A missing value is imputed with the
running location (z = 0); a row with no finite value has no opinion (NaN). Like the
location/scale, the window holds learned rows only: a stretch the caller refuses to learn
shows as the current row against the last learned ones.

The learned feature vectors (``learn`` with mask true, so never what the caller flagged)
go into a bounded ring buffer per group (``buffer_size`` vectors, float32). The forest is
fitted on that buffer once it holds ``min_fit`` vectors, again whenever its training set
would double (200, 400, 800, ...) and then every ``refit_every`` learned points, and at
once when a ``drift.DriftMonitor`` finds that the last ``drift_window`` vectors no longer
look like the ones the forest was fitted on; each such refit is recorded in
``drift_events``. Before the first fit the statistic is NaN.

The forest is grown on the training vectors rotated onto their principal axes (PCA of the
buffer, all components kept). Isolation trees cut one axis at a time, so in the raw features
a broken relation between metrics (one service metric no longer following the others, each
value in its usual range) sits in a thin diagonal gap that axis-parallel cuts barely reach;
along the principal axes it is an extreme value on a low-variance axis, isolated in a cut or
two. On stationary data this also makes the statistic close to half-normal.

The statistic is the Isolation Forest anomaly score ``2 ** (-E[path] / c(max_samples))``
standardised against the scores of the forest's own training set:
``max(0, (score - median) / (1.4826 * MAD))``: 0 for the typical half of normal points and
roughly half-normal above, so a calibrator can learn the tail; it is not thresholded here.
The band is that of the series with the largest robust |z| (``detail`` is its index).

Scoring is done on arrays extracted from the fitted trees (all trees walked together, one
numpy step per level), so ``observe`` costs tens of microseconds, not sklearn's per-call
overhead; the sklearn estimator itself is not kept, so the detector pickles small. Fits run
with BLAS limited to one thread (their linear algebra is small; extra threads only fight
the engine's own work for the cores).

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> det = ForestDetector(dim=2, min_fit=50, refit_every=100, n_estimators=20)
>>> for i in range(120):
...     x = rng.normal(size=(1, 2))
...     frame = det.observe(np.array([float(i)]), x)
...     det.learn(np.array([float(i)]), x, np.array([True]))
>>> bool(np.isfinite(frame.stat[0])), int(frame.kind[0])
(True, 6)
>>> out = det.observe(np.array([120.0]), np.array([[0.0, 9.0]]))
>>> bool(out.stat[0] > 3.0), int(out.detail[0])
(True, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

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

_MAD_TO_SIGMA = 1.4826
_MAD_FLOOR = 1e-3  # in Isolation Forest score units (scores lie in (0, 1))


@dataclass(frozen=True)
class _Forest:
    """A fitted isolation forest flattened into node arrays (all trees side by side).

    Leaves point to themselves, with threshold +inf, so walking ``depth`` levels from the
    roots lands every input on its leaf; ``path`` at a leaf is its depth plus the average
    path length of the training samples left in it (as sklearn computes it).
    """

    feature: IndexArray
    threshold: FloatArray
    left: IndexArray
    right: IndexArray
    path: FloatArray
    roots: IndexArray
    depth: int
    norm: float  # number of trees * c(max_samples)

    def scores(self, vectors: Float32Array) -> FloatArray:
        """Isolation Forest anomaly scores (higher is more anomalous) of rows of vectors."""
        rows = np.arange(vectors.shape[0])[:, None]
        node = np.broadcast_to(self.roots, (vectors.shape[0], self.roots.size))
        for _ in range(self.depth):
            go_left = vectors[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return np.asarray(2.0 ** (-self.path[node].sum(axis=1) / self.norm), dtype=np.float64)

    def score_one(self, vector: Float32Array) -> float:
        """The anomaly score of one vector (the per-tick path, fewer index steps)."""
        node = self.roots
        for _ in range(self.depth):
            go_left = vector[self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return float(2.0 ** (-self.path[node].sum() / self.norm))


def _average_path_length(n: FloatArray) -> FloatArray:
    """c(n): the average path length of an unsuccessful search in a BST of n points."""
    n = np.asarray(n, dtype=np.float64)
    out = np.where(n == 2, 1.0, 0.0)
    big = n > 2
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + np.euler_gamma) - 2.0 * (nb - 1.0) / nb
    return out


def flatten_forest(estimator: Any) -> _Forest:
    """Node arrays of a fitted ``sklearn.ensemble.IsolationForest``, scoring as it does."""
    feats, thrs, lefts, rights, paths, roots = [], [], [], [], [], []
    offset = 0
    depth = 0
    n_features = int(estimator.n_features_in_)
    for tree, features in zip(estimator.estimators_, estimator.estimators_features_, strict=True):
        t = tree.tree_
        leaf = t.children_left == -1
        own = np.arange(t.node_count) + offset
        feature = t.feature.astype(np.intp)
        if len(features) != n_features:  # trees fitted on a feature subset
            feature = np.asarray(features, dtype=np.intp)[np.maximum(feature, 0)]
        feats.append(np.where(leaf, 0, feature))
        thrs.append(np.where(leaf, np.inf, t.threshold))
        lefts.append(np.where(leaf, own, t.children_left + offset))
        rights.append(np.where(leaf, own, t.children_right + offset))
        node_depth = t.compute_node_depths().astype(np.float64)  # root has depth 1
        paths.append(node_depth + _average_path_length(t.n_node_samples) - 1.0)
        roots.append(offset)
        offset += t.node_count
        depth = max(depth, int(t.max_depth))
    c = float(_average_path_length(np.array([estimator.max_samples_]))[0])
    return _Forest(
        feature=np.concatenate(feats).astype(np.intp),
        threshold=np.concatenate(thrs).astype(np.float64),
        left=np.concatenate(lefts).astype(np.intp),
        right=np.concatenate(rights).astype(np.intp),
        path=np.concatenate(paths),
        roots=np.asarray(roots, dtype=np.intp),
        depth=depth,
        norm=len(roots) * c if c > 0 else 1.0,
    )


@dataclass(frozen=True)
class _Model:
    """One group's model: the principal axes of its training set, the forest fitted on the
    rotated vectors, and the median/MAD of the forest's scores on that training set."""

    center: Float32Array
    rotation: Float32Array  # columns: principal axes, largest variance first
    forest: _Forest
    median: float
    mad: float

    def rotate(self, vectors: Float32Array) -> Float32Array:
        """Coordinates of vectors along the principal axes."""
        return np.asarray((vectors - self.center) @ self.rotation, dtype=np.float32)

    def stat(self, vector: Float32Array) -> float:
        """Robust z of the vector's anomaly score against the training scores, floored at 0."""
        score = self.forest.score_one(self.rotate(vector))
        return max(0.0, (score - self.median) / (_MAD_TO_SIGMA * self.mad))


class ForestDetector(BufferedDetector):
    """Isolation Forest over windowed, robustly standardised features of each group.

    ``window``: points in the window mean (the current one included). ``halflife``: learned
    points over which the running location/scale forget half their weight.
    ``buffer_size``: learned vectors kept per group (the training set, float32).
    ``min_fit``: vectors needed for the first fit (NaN stat before). ``refit_every``: learned
    points between scheduled refits. ``drift_window``/``drift_threshold``: recent points
    compared with the training set, and the PSI above which a feature has drifted.
    ``n_estimators``/``max_samples``: forest size and per-tree subsample. ``seed``: the
    forest's random_state (every fit uses it, so runs are reproducible).

    Memory per group: ``buffer_size * 3 * dim * 4`` bytes of buffer (2,000 x 38 series:
    0.9 MB) plus the model (trees, rotation, drift reference): about 1 MB in all. Time: a
    refit takes about 0.1 s at 38 series; a whole SMD machine (47,000 rows of 38 series,
    about 70 fits) about 12 s on one core.
    """

    name: ClassVar[str] = "forest"

    def __init__(
        self,
        n: int = 1,
        dim: int = 1,
        window: int = 5,
        halflife: float = 1000.0,
        buffer_size: int = 2000,
        min_fit: int = 200,
        refit_every: int = 1000,
        drift_window: int = 500,
        drift_threshold: float = 0.5,
        n_estimators: int = 64,
        max_samples: int = 256,
        seed: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
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
        """Three features per series: z, window mean, first difference."""
        return 3 * self.dim

    def _featurize(self, rows: Rows) -> Float32Array:
        hist = self.hist[rows.groups]
        mean = (hist[:, 1 - self.window :].sum(axis=1) + rows.x_imp) / self.window
        m = (mean - rows.loc) / rows.scale
        d = (rows.x_imp - hist[:, -1]) / rows.scale
        v = np.concatenate([rows.z, m, d], axis=1)
        return np.minimum(np.maximum(v, -Z_CLIP), Z_CLIP).astype(np.float32)

    def _fit(self, group: int, vectors: Float32Array, steps: NDArray[np.int64]) -> _Model:
        from sklearn.ensemble import IsolationForest

        center, rotation = principal_axes(vectors)
        rotated = np.asarray((vectors - center) @ rotation, dtype=np.float32)
        estimator = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, vectors.shape[0]),
            random_state=self.seed,
        ).fit(rotated)
        forest = flatten_forest(estimator)
        train = forest.scores(rotated)
        median = float(np.median(train))
        mad = max(float(np.median(np.abs(train - median))), _MAD_FLOOR)
        return _Model(center, rotation, forest, median, mad)

    def _score(self, rows: Rows, vectors: Float32Array) -> tuple[FloatArray, IndexArray]:
        models: list[_Model] = [self.models[g] for g in rows.groups.tolist()]
        stat = np.array([model.stat(v) for model, v in zip(models, vectors, strict=True)])
        return stat, np.argmax(np.abs(rows.z), axis=1).astype(np.intp)
