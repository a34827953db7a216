"""An accepted change's first point is capped in the tails (``detect/onsets.py``)."""

from __future__ import annotations

import copy

import numpy as np

from anomalert.detect.calibrate import TailCalibrator
from anomalert.detect.engine import BatchEngine
from anomalert.detect.onsets import ONSET_P, OnsetMemory
from tests.support.tails import gaussian_tails

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0


def _moments(cal: TailCalibrator) -> np.ndarray:
    return np.stack([cal.weight, cal.exceed, cal.excess, cal.excess_sq]).astype(np.float64)


def test_a_huge_learned_statistic_is_capped_where_the_tail_without_it_says_p() -> None:
    """Series 0 learned 30 last: afterwards its tail is the one that learned the level
    whose p-value, on the tail before the 30, is ONSET_P. Series 1 learned 4 (under that
    level: unchanged); series 2 learned nothing (NaN: unchanged)."""
    before = gaussian_tails()
    learned = copy.deepcopy(before)
    learned.learn(np.array([30.0, 4.0, 1.0]), np.array([True, True, False]))
    assert learned.tail()[0][0] > 0.3  # one 30 among ~650 exceedances: at the cap
    capped = copy.deepcopy(learned)
    capped.cap_learned(np.array([[30.0, 4.0, np.nan]]), np.arange(3), ONSET_P)
    # The level: where the tail before the 30 gives ONSET_P (after one decay step).
    lo, hi = before.z0, 30.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        p = float(before.p_value(np.array([mid, 0.0, 0.0]))[0])
        lo, hi = (mid, hi) if p > ONSET_P else (lo, mid)
    expected = copy.deepcopy(before)
    expected.learn(np.array([0.5 * (lo + hi), 4.0, 1.0]), np.array([True, True, False]))
    np.testing.assert_allclose(_moments(capped), _moments(expected), rtol=1e-4)
    np.testing.assert_array_equal(_moments(capped)[:, 1:], _moments(learned)[:, 1:])
    assert capped.tail()[0][0] < 0.1  # one 6 among them: barely heavier than before
    assert 5.0 < 0.5 * (lo + hi) < 12.0  # far beyond what pages, far below the 30


def test_the_memory_forgets_and_caps_only_what_it_was_given() -> None:
    cal = gaussian_tails(n=2)
    cal.learn(np.array([30.0, 30.0]), np.ones(2, dtype=bool))
    memory = OnsetMemory(n=2, rows=1)
    memory.remember(np.array([[30.0, 30.0]]), np.array([True, True]))
    memory.forget(np.array([False, True]))
    heavy = cal.tail()[0].copy()
    memory.cap(cal, np.array([True, True]), np.zeros(2, dtype=bool))
    assert cal.tail()[0][0] < heavy[0] and cal.tail()[0][1] == heavy[1]
    assert np.isnan(memory.stat).all()  # used once
    memory.cap(cal, np.array([True, False]), np.zeros(2, dtype=bool))  # nothing left: no-op


def _engine_after(x: np.ndarray) -> BatchEngine:
    engine = BatchEngine(x.shape[1])
    for k in range(x.shape[0]):
        engine.step(np.full(x.shape[1], T0 + MIN * k), x[k])
    return engine


def test_an_accepted_step_leaves_a_lighter_tail_than_a_spike_of_the_same_size() -> None:
    """Series 0 steps up by 60 for good at noon on day 3 (accepted); series 1 spikes by 60
    once at the same time (a run of one point, not accepted): the spike's onset is learned
    whole, a recurring spike must become normal; the step's is capped."""
    at = 3 * 1440 + 12 * 60
    x = 20.0 + np.random.default_rng(1).normal(0.0, 2.0, (at + 90, 2))
    x[at:, 0] += 60.0
    x[at, 1] += 60.0
    engine = _engine_after(x)
    ens = engine.series
    rolling = int(ens._row_of[0])
    shape, _ = ens.tails.tail()
    assert shape[rolling, 1] > 0.3  # the spike: at or near the cap (0.35)
    assert shape[rolling, 0] < 0.25


def test_the_state_stays_within_two_kilobytes_per_series() -> None:
    engine = BatchEngine(100)
    assert engine.series.state_nbytes() / 100 <= 2048
