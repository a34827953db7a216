"""The compiled loops of the calibrator and the ensemble give numpy's numbers bit for bit."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from anomalert.detect.ensemble import _most_surprising


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def test_most_surprising_is_the_first_smallest_times_the_voters() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    stats = np.abs(rng.standard_t(2, (4, n))) * 2.0
    stats[rng.random(stats.shape) < 0.2] = np.nan
    calibrated = np.minimum(np.exp(-stats[:3]), 1.0)
    calibrated[:, :50] = 0.25  # ties: the first detector with the smallest wins
    own = ndtr(-stats[3:])
    row_of = np.array([2, 0, 3, 1], dtype=np.intp)  # detector d's row
    p, winner, candidates = _most_surprising(calibrated, own, row_of, 1e-3)

    rows = np.concatenate([calibrated, own])[row_of]  # in detector order
    voters = np.maximum((rows < 1.0).sum(axis=0), 1)
    filled = np.where(np.isnan(rows), 1.0, rows)
    expected = np.minimum(filled.min(axis=0) * voters, 1.0)
    assert _bits(p) == _bits(expected)
    assert winner.dtype == np.int8
    np.testing.assert_array_equal(winner, filled.argmin(axis=0))
    np.testing.assert_array_equal(candidates, np.flatnonzero(expected <= 1e-3))
