"""An accumulating detector's statistic teaches its tail only after ``PROBATION`` calm points.

The level-shift statistic climbs over the points of a shift; learned at once, those points
taught its tail that shifts are normal before the shift could page. Each statistic of such a
row now waits ``PROBATION`` points of its series and is withdrawn if a would-be alert comes
first; a run's onset and every other row still learn at once (``Ensemble._learn_tails``).
"""

from __future__ import annotations

import pickle

import numpy as np

from anomalert.detect.calibrate import TailCalibrator
from anomalert.detect.engine import BatchEngine
from anomalert.detect.ensemble import PROBATION, Ensemble
from tests.support.checkpoints import restored_without

T0 = 1.7e9
FIVE_MINUTES = 300.0


def _ensemble(n: int) -> Ensemble:
    return BatchEngine(n).series


def _row(ens: Ensemble, name: str) -> int:
    index = next(i for i, d in enumerate(ens.detectors) if d.name == name)
    return int(ens._row_of[index])


def _moments(cal: TailCalibrator, row: int | None = None) -> np.ndarray:
    """A calibrator's four moments, of one row if it has rows."""
    arrays = (cal.weight, cal.exceed, cal.excess, cal.excess_sq)
    return np.stack([a if row is None else a[row] for a in arrays])


def test_a_statistic_waits_its_probation_and_a_would_be_alert_withdraws_it() -> None:
    """Every row is fed 7 at tick 0 and 0 after. The level-shift row: series 0 stays calm
    and learns its 7 exactly PROBATION ticks later; series 1 has a would-be alert at tick 2,
    which withdraws what it had waiting; on series 2 the 7 is a run's onset, learned at once.
    The rolling row learns everything at once, as before."""
    ens = _ensemble(3)
    ls, rolling = _row(ens, "level_shift"), _row(ens, "rolling")
    rows = ens.tails.rows
    assert rows is not None
    everyone = np.ones(3, dtype=bool)
    prior = float(ens.tails.excess[ls, 0])  # the prior's alone: nothing learned yet
    at_once = TailCalibrator(n=3)  # the rolling row, as it should learn
    delayed = TailCalibrator(n=3)  # the level-shift row, as it should learn
    for k in range(PROBATION + 3):
        stat = np.full((rows, 3), 7.0 if k == 0 else 0.0)
        held = np.array([False, k == 2, k == 0])
        calibrate = np.array([True, k != 2, True])  # series 2's tick 0: an onset
        ens._learn_tails(stat.copy(), calibrate, held, everyone)
        at_once.learn(stat[rolling], calibrate)
        delayed.learn(np.array([np.nan, np.nan, 7.0 if k == 0 else np.nan]), everyone)
        if k >= PROBATION:  # what waited since tick k - PROBATION, if still there
            first = k == PROBATION
            delayed.learn(
                np.array([7.0 if first else 0.0, np.nan, np.nan if first else 0.0]), everyone
            )
        if k == PROBATION - 1:
            assert ens.tails.excess[ls, 0] < prior + 0.1, "series 0's 7 is still waiting"
    for row, expected in ((rolling, at_once), (ls, delayed)):
        np.testing.assert_allclose(_moments(ens.tails, row), _moments(expected), rtol=1e-6)
    excess = ens.tails.excess[ls]
    assert excess[0] > prior + 4.9  # the calm series learned its excess of 5
    assert excess[1] < prior + 0.1  # withdrawn by the would-be alert
    assert excess[2] > prior + 4.9  # the onset, at once


def test_a_checkpoint_keeps_what_is_on_probation() -> None:
    """Stopped and resumed mid-probation, an ensemble scores on exactly as if it had not."""
    rng = np.random.default_rng(3)
    x = rng.normal(50.0, 1.0, (700, 2))
    x[400:, 1] += 8.0  # a shift, so the level-shift row has something to hold back
    t = T0 + FIVE_MINUTES * np.arange(700)
    whole, parts = _ensemble(2), _ensemble(2)
    scores = [whole.step(np.full(2, t[k]), x[k]).score for k in range(700)]
    for k in range(403):
        parts.step(np.full(2, t[k]), x[k])
    parts = pickle.loads(pickle.dumps(parts))
    resumed = [parts.step(np.full(2, t[k]), x[k]).score for k in range(403, 700)]
    np.testing.assert_array_equal(np.array(scores[403:]), np.array(resumed))


def test_a_checkpoint_from_before_the_probation_resumes_with_nothing_waiting() -> None:
    ens = _ensemble(2)
    for k in range(50):
        ens.step(np.full(2, T0 + FIVE_MINUTES * k), np.array([1.0, 2.0]))
    old = restored_without(ens, "pending", "probation_slot")
    assert old.pending.shape == (PROBATION, 1, 2) and np.isnan(old.pending).all()
    old.step(np.full(2, T0 + FIVE_MINUTES * 50), np.array([1.0, 2.0]))


def test_new_series_start_with_nothing_waiting() -> None:
    ens = _ensemble(2)
    for k in range(20):
        ens.step(np.full(2, T0 + FIVE_MINUTES * k), np.array([1.0, 2.0]))
    ens.grow(5)
    assert ens.pending.shape == (PROBATION, 1, 5)
    assert np.isnan(ens.pending[:, :, 2:]).all()
    ens.step(np.full(5, T0 + FIVE_MINUTES * 20), np.arange(5.0))


def test_a_series_probation_counts_its_own_points() -> None:
    """Ticks where a series has no point do not run its probation out: in a service each
    sender posts its own series, and a series' shift points were learned on the other
    senders' batches before its own next point came. Series 1 misses 20 ticks after a 7;
    it learns the 7 at its own PROBATION-th point after, as series 0 does without a gap."""
    ens = _ensemble(2)
    ls = _row(ens, "level_shift")
    rows = ens.tails.rows
    assert rows is not None
    prior = float(ens.tails.excess[ls, 0])
    both = np.ones(2, dtype=bool)
    calm = np.zeros(2, dtype=bool)
    ens._learn_tails(np.full((rows, 2), 7.0), both, calm, both)
    only_0 = np.array([True, False])
    for _ in range(20):
        stat = np.full((rows, 2), 0.0)
        stat[:, 1] = np.nan
        ens._learn_tails(stat, only_0, calm, only_0)
    assert ens.tails.excess[ls, 0] > prior + 4.9  # learned PROBATION points after the 7
    assert ens.tails.excess[ls, 1] < prior + 0.1  # still waiting: no point of its own yet
    for k in range(PROBATION):
        ens._learn_tails(np.full((rows, 2), 0.0), both, calm, both)
        learned = ens.tails.excess[ls, 1] > prior + 4.9
        assert learned == (k == PROBATION - 1), k


def test_a_checkpoint_from_before_per_series_probation_resumes_where_it_stood() -> None:
    """A checkpoint whose ring turned with the engine's ticks (``ticks``) resumes with every
    series at that slot, scoring on exactly as if it had not stopped."""
    rng = np.random.default_rng(4)
    x = rng.normal(50.0, 1.0, (700, 2))
    x[400:, 1] += 8.0
    t = T0 + FIVE_MINUTES * np.arange(700)
    whole, parts = _ensemble(2), _ensemble(2)
    scores = [whole.step(np.full(2, t[k]), x[k]).score for k in range(700)]
    for k in range(403):
        parts.step(np.full(2, t[k]), x[k])
    state = pickle.loads(pickle.dumps(parts)).__dict__
    assert state.pop("probation_slot").tolist() == [403 % PROBATION] * 2
    state["ticks"] = 403
    old = Ensemble.__new__(Ensemble)
    old.__setstate__(state)
    assert "ticks" not in vars(old)
    resumed = [old.step(np.full(2, t[k]), x[k]).score for k in range(403, 700)]
    np.testing.assert_array_equal(np.array(scores[403:]), np.array(resumed))
