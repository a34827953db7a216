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

The forest is grown and walked by compiled loops over flat node arrays (``grow_forest``:
scikit-learn's algorithm without its per-tree Python machinery, which made a fit cost
130-160 ms), so a refit costs a few milliseconds, ``observe`` a few microseconds, and the
detector pickles small. Fits run with BLAS limited to one thread (their linear algebra is
small; extra threads only fight the engine's own work for the cores).

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
from anomalert.detect.jit import kernel

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
        sums = _path_sums(
            np.ascontiguousarray(vectors, dtype=np.float32),
            self.feature,
            self.threshold,
            self.left,
            self.right,
            self.path,
            self.roots,
        )
        return np.asarray(2.0 ** (-sums / self.norm), dtype=np.float64)

    def score_one(self, vector: Float32Array) -> float:
        """The anomaly score of one vector (the per-tick path)."""
        return float(self.scores(np.reshape(vector, (1, -1)))[0])


def _average_path_length(n: FloatArray) -> FloatArray:
    """c(n): the average path length of an unsuccessful search in a BST of n points."""
    n = np.asarray(n, dtype=np.float64)
    out = np.where(n == 2, 1.0, 0.0)
    big = n > 2
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + np.euler_gamma) - 2.0 * (nb - 1.0) / nb
    return out


def grow_forest(vectors: Float32Array, n_trees: int, max_samples: int, seed: int) -> _Forest:
    """An isolation forest (Liu, Ting and Zhou's, as scikit-learn grows it) on the rows of
    ``vectors``, already flattened for scoring.

    Why not scikit-learn's ``IsolationForest``: its trees are cheap, its machinery is not.
    Each fit paid about 2 ms of Python per tree (parameter checks, cloning, seeding a
    ``RandomState`` five times), 130-160 ms for 64 trees whatever the data, where the
    trees themselves take a millisecond. Groups that start together refit together (at 200,
    400 and 800 learned points), so the service's aggregate records of 100 services stalled
    one tick for 16 s under the app's lock, and every SMD machine spent about 40 % of its
    time in fits. The same algorithm, compiled: each tree is grown on ``max_samples`` rows
    drawn without replacement, each node splits on a feature drawn at random among those
    not constant in it, at a threshold drawn uniformly between their least and greatest
    value, down to one row or ``ceil(log2(max_samples))`` levels; a leaf's path length is
    its depth plus c(rows left in it). Scores follow scikit-learn's on the same data
    (``tests/unit/test_forest_patterns.py``), not bit for bit: the random draws differ.
    """
    samples = max(1, min(max_samples, vectors.shape[0]))
    feature, threshold, left, right, path, roots, depth = _grow(
        np.ascontiguousarray(vectors, dtype=np.float32), n_trees, samples, seed
    )
    c = float(_average_path_length(np.array([samples]))[0])
    return _Forest(
        feature=feature,
        threshold=threshold,
        left=left,
        right=right,
        path=path,
        roots=roots,
        depth=depth,
        norm=n_trees * c if c > 0 else 1.0,
    )


@kernel
def _path_sums(
    vectors: Float32Array,
    feature: IndexArray,
    threshold: FloatArray,
    left: IndexArray,
    right: IndexArray,
    path: FloatArray,
    roots: IndexArray,
) -> FloatArray:
    """Per row, the sum over the trees of the path length to its leaf (a leaf is its own
    child). Compiled: walked with numpy, one fancy-indexing step per level for all trees,
    scoring cost 80 µs a tick per group and, over a training set at each refit, more than
    growing the forest."""
    out = np.zeros(vectors.shape[0])
    for i in range(vectors.shape[0]):
        total = 0.0
        for r in range(roots.size):
            node = roots[r]
            while left[node] != node:
                node = left[node] if vectors[i, feature[node]] <= threshold[node] else right[node]
            total += path[node]
        out[i] = total
    return out


@kernel
def _leaf_path(depth: int, rows: int) -> float:
    """A leaf's path length: its depth plus c(rows), the average depth a search for one of
    the rows it stopped separating would have gone on (``_average_path_length``)."""
    if rows <= 1:
        return float(depth)
    if rows == 2:
        return depth + 1.0
    return depth + 2.0 * (np.log(rows - 1.0) + np.euler_gamma) - 2.0 * (rows - 1.0) / rows


@kernel
def _grow(
    vectors: Float32Array, n_trees: int, samples: int, seed: int
) -> tuple[IndexArray, FloatArray, IndexArray, IndexArray, FloatArray, IndexArray, int]:
    """``grow_forest``'s trees as node arrays, all trees side by side (``_Forest``)."""
    m, f = vectors.shape
    limit = 1
    while (1 << limit) < samples:
        limit += 1
    per_tree = 2 * samples  # at most samples leaves: 2 * samples - 1 nodes
    cap = n_trees * per_tree
    feature = np.zeros(cap, dtype=np.intp)
    threshold = np.full(cap, np.inf)
    left = np.zeros(cap, dtype=np.intp)
    right = np.zeros(cap, dtype=np.intp)
    path = np.zeros(cap)
    roots = np.zeros(n_trees, dtype=np.intp)
    pool = np.arange(m)
    rows = np.zeros(samples, dtype=np.intp)
    order = np.arange(f)
    stack_node = np.zeros(per_tree, dtype=np.intp)
    stack_lo = np.zeros(per_tree, dtype=np.intp)
    stack_hi = np.zeros(per_tree, dtype=np.intp)
    stack_depth = np.zeros(per_tree, dtype=np.intp)
    np.random.seed(seed)
    count = 0
    deepest = 0
    for tree in range(n_trees):
        for i in range(samples):  # drawn without replacement (a partial shuffle)
            j = i + np.random.randint(0, m - i)
            pool[i], pool[j] = pool[j], pool[i]
            rows[i] = pool[i]
        roots[tree] = count
        stack_node[0], stack_lo[0], stack_hi[0], stack_depth[0] = count, 0, samples, 0
        count += 1
        top = 1
        while top > 0:
            top -= 1
            node, lo, hi, d = stack_node[top], stack_lo[top], stack_hi[top], stack_depth[top]
            split = -1
            low = high = 0.0
            if hi - lo > 1 and d < limit:
                remaining = f
                while remaining > 0 and split < 0:  # features drawn without replacement
                    k = np.random.randint(0, remaining)
                    candidate = order[k]
                    order[k], order[remaining - 1] = order[remaining - 1], order[k]
                    remaining -= 1
                    low = high = float(vectors[rows[lo], candidate])
                    for i in range(lo + 1, hi):
                        v = float(vectors[rows[i], candidate])
                        low = min(low, v)
                        high = max(high, v)
                    if high > low:
                        split = candidate
            if split < 0:
                left[node] = right[node] = node
                path[node] = _leaf_path(d, hi - lo)
                deepest = max(deepest, d)
                continue
            cut = low + np.random.random() * (high - low)
            if cut >= high:  # rounding: keep a row on each side
                cut = low
            i, j = lo, hi - 1
            while i <= j:
                if vectors[rows[i], split] <= cut:
                    i += 1
                else:
                    rows[i], rows[j] = rows[j], rows[i]
                    j -= 1
            feature[node], threshold[node] = split, cut
            left[node], right[node] = count, count + 1
            stack_node[top], stack_lo[top], stack_hi[top], stack_depth[top] = count, lo, i, d + 1
            stack_node[top + 1], stack_lo[top + 1] = count + 1, i
            stack_hi[top + 1], stack_depth[top + 1] = hi, d + 1
            top += 2
            count += 2
    return (
        feature[:count].copy(),
        threshold[:count].copy(),
        left[:count].copy(),
        right[:count].copy(),
        path[:count].copy(),
        roots,
        deepest,
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
    refit takes a few milliseconds at 38 series (``grow_forest``; 130-160 ms with
    scikit-learn's estimator).
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
        center, rotation = principal_axes(vectors)
        rotated = np.asarray((vectors - center) @ rotation, dtype=np.float32)
        forest = grow_forest(rotated, self.n_estimators, self.max_samples, self.seed)
        train = forest.scores(rotated)
        median = float(np.median(train))
        mad = max(float(np.median(np.abs(train - median))), _MAD_FLOOR)
        return _Model(center, rotation, forest, median, mad)

    def _score(self, rows: Rows, vectors: Float32Array) -> tuple[FloatArray, IndexArray]:
        models: list[_Model] = [self.models[g] for g in rows.groups.tolist()]
        stat = np.array([model.stat(v) for model, v in zip(models, vectors, strict=True)])
        return stat, np.argmax(np.abs(rows.z), axis=1).astype(np.intp)
