"""One probability for a row of several series: a file's columns, a service's metrics.

Two kinds of evidence make a row unusual: one column far out, or several columns somewhat
out at once (a server under strain moves CPU, load and network together). The first is the
smallest p-value with a Bonferroni correction; the second is the k-th smallest, which under
independence is at most ``C(m, k) * p_(k) ** k``. The row takes the better of k = 1 and 2
(times 2 for having looked twice). The multivariate detectors' p-value, evidence of another
kind (an unusual combination), joins by Fisher's method.

>>> round(float(columns_p(np.array([[1e-6, 0.5, 0.5]]))[0]), 8)
6e-06
>>> float(columns_p(np.array([[1e-3, 1e-3, 0.5]]))[0]) < 6e-3
True
>>> round(float(fisher(np.array([0.01]), np.array([0.01]))[0]), 5)
0.00102
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import FloatArray

#: Up to how many columns agreeing are looked for.
MAX_AGREEING = 2


def columns_p(p: FloatArray) -> FloatArray:
    """Row p-values from a (rows, columns) array of column p-values (1 = no opinion)."""
    m = np.maximum((p < 1.0).sum(axis=1), 1)
    k_max = min(MAX_AGREEING, p.shape[1])
    ordered = np.sort(p, axis=1) if k_max > 1 else p.min(axis=1, keepdims=True)
    best = ordered[:, 0] * m
    looks = 1
    for k in range(2, k_max + 1):
        usable = m >= k
        combos = _choose(m, k)
        best = np.where(usable, np.minimum(best, combos * ordered[:, k - 1] ** k), best)
        looks = k
    return np.minimum(best * np.where(m >= 2, looks, 1), 1.0)


def fisher(a: FloatArray, b: FloatArray) -> FloatArray:
    """Fisher's combination of two independent p-values: q (1 - ln q) with q = a b."""
    q = np.maximum(a * b, 1e-300)
    return np.minimum(q * (1.0 - np.log(q)), 1.0)


def _choose(m: np.ndarray, k: int) -> FloatArray:
    out = np.ones(m.shape, dtype=float)
    for i in range(k):
        out *= np.maximum(m - i, 0) / (i + 1)
    return out
