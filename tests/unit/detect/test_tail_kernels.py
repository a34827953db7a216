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
    none = np.zeros(n, dtype=np.bool_)
    p, winner, candidates = _most_surprising(calibrated, own, row_of, 1e-3, -1, none)

    rows = np.concatenate([calibrated, own])[row_of]  # in detector order
    voters = np.maximum((rows < 1.0).sum(axis=0), 1)
    filled = np.where(np.isnan(rows), 1.0, rows)
    expected = np.minimum(filled.min(axis=0) * voters, 1.0)
    assert _bits(p) == _bits(expected)
    assert winner.dtype == np.int8
    np.testing.assert_array_equal(winner, filled.argmin(axis=0))
    np.testing.assert_array_equal(candidates, np.flatnonzero(expected <= 1e-3))


def test_a_periodic_series_gives_its_seasonal_detector_half_the_budget() -> None:
    """Weighted Bonferroni: the seasonal detector's p times 2, the others' times 2 (m - 1),
    where the series is periodic and the seasonal detector has an opinion; else times m."""
    rng = np.random.default_rng(1)
    n = 2000
    stats = np.abs(rng.standard_t(2, (3, n))) * 2.0
    stats[rng.random(stats.shape) < 0.2] = np.nan
    calibrated = np.minimum(np.exp(-stats), 1.0)
    row_of = np.array([0, 1, 2], dtype=np.intp)
    periodic = rng.random(n) < 0.5
    p, winner, candidates = _most_surprising(calibrated, calibrated[:0], row_of, 1e-3, 1, periodic)

    has = calibrated < 1.0
    m = np.maximum(has.sum(axis=0), 1).astype(float)
    lead = periodic & has[1] & (m >= 2)
    factor = np.where(lead, 2.0 * (m - 1.0), m) * np.ones((3, 1))
    factor[1] = np.where(lead, 2.0, m)
    weighted = np.where(np.isnan(calibrated), np.inf, calibrated * factor)
    expected = np.minimum(weighted.min(axis=0), 1.0)
    assert _bits(p) == _bits(expected)
    np.testing.assert_array_equal(winner, weighted.argmin(axis=0))
    np.testing.assert_array_equal(candidates, np.flatnonzero(expected <= 1e-3))
    # A seasonal p of 4e-5 among three opinions: a would-be alert at 1e-4 only where the
    # series is periodic (8e-5, against 1.2e-4 with equal shares).
    one = np.array([[0.5], [4e-5], [0.5]])
    q, won, alerts = _most_surprising(one, one[:0], row_of, 1e-4, 1, np.array([True]))
    assert (q[0], won[0], alerts.tolist()) == (8e-5, 1, [0])
    q, won, alerts = _most_surprising(one, one[:0], row_of, 1e-4, 1, np.array([False]))
    assert np.isclose(q[0], 1.2e-4) and alerts.tolist() == []
