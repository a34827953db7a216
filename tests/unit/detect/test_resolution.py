"""The data's resolution floors the detectors' scales: counts near zero move in whole counts."""

from __future__ import annotations

import pickle

import numpy as np

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.resolution import Resolution

STEP = 300.0  # five-minute counts, as NAB's tweet volumes


def _flags(x: np.ndarray) -> np.ndarray:
    engine = BatchEngine(1, Settings())
    flagged = np.zeros(x.size, dtype=bool)
    for i, v in enumerate(x):
        flagged[i] = engine.step(np.array([STEP * i]), np.array([v])).series.flagged[0]
    return flagged


def _quiet_counts(seed: int, n: int = 4000) -> np.ndarray:
    """A low-traffic count: long runs of zeros, now and then a 1 (about one point in 200)."""
    rng = np.random.default_rng(seed)
    return rng.poisson(0.005, n).astype(float)


def test_the_quantum_is_the_smallest_step_and_at_most_one_for_counts() -> None:
    res = Resolution(n=3)
    for x in ([0.0, 5.0, 0.25], [0.0, 7.0, 0.5], [2.0, 7.0, 0.55]):
        res.learn(np.array(x), np.ones(3, dtype=bool))
    np.testing.assert_allclose(res.quantum, [2.0, 2.0, 0.05])
    assert res.integral.tolist() == [True, True, False]
    # a count's floor is (a share of) one count; a non-integral value gets the steps' only
    floor = res.floor(np.array([3.0, 7.5, 0.6]))
    np.testing.assert_allclose(floor, np.array([1.0, 2.0, 0.05]) * res.share)


def test_a_fresh_series_has_no_floor_until_it_moves_off_the_integers() -> None:
    res = Resolution(n=2)
    res.learn(np.array([0.0, 0.0]), np.ones(2, dtype=bool))
    # still all whole numbers: at most a count; a rate moving to 0.05 is not judged in counts
    np.testing.assert_allclose(res.floor(np.array([1.0, 0.05])), [res.share, 0.0])


def test_one_to_three_counts_off_a_flat_zero_do_not_alert() -> None:
    x = _quiet_counts(1)
    for i, v in ((1500, 1.0), (2100, 2.0), (2700, 3.0), (3300, 2.0)):
        x[i] = v
    flagged = _flags(x)
    assert not flagged.any(), np.flatnonzero(flagged)


def test_a_burst_of_counts_off_a_flat_zero_still_alerts() -> None:
    x = _quiet_counts(2)
    x[3000:3010] = 40.0
    flagged = _flags(x)
    assert flagged[3000]
    assert not flagged[:3000].any(), np.flatnonzero(flagged[:3000])


def test_a_rate_that_sat_at_zero_still_alerts_when_it_jumps() -> None:
    x = np.zeros(3000)
    x[2500:2510] = 0.05
    assert _flags(x)[2500]


def test_a_checkpoint_from_before_the_estimate_resumes() -> None:
    engine = BatchEngine(2, Settings())
    for i in range(5):
        engine.step(np.full(2, STEP * i), np.array([0.0, 1.0]))
    state = engine.series.__dict__.copy()
    del state["resolution"]
    old = engine.series.__class__.__new__(engine.series.__class__)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.resolution is not None and old.resolution.n == 2
    old.step(np.full(2, STEP * 5), np.array([0.0, 1.0]))
