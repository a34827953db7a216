"""A run accepted as the new normal on a series with a period is learned after the fact.

Flagged points teach no detector; when a run lasts ``accept_after`` points it is accepted and
the levels restart, and until 2026-12-05 (fourteenth session) its points were never learned:
on a weekday-only business-hours series the first hour of every Saturday (the whole run at
two-minute points) reached no profile and Saturday 09:00 paged every week. The ensemble now
keeps each series' last ``accept_after`` values (``Ensemble.recent``) and the seasonal
detector learns an accepted run on a periodic series (``SeasonalDetector.learn_run``).
"""

from __future__ import annotations

import pickle

import numpy as np

from anomalert.detect.engine import BatchEngine
from anomalert.detect.seasonal import SeasonalDetector
from tests.support.checkpoints import restored_without

T0 = 1_767_571_200.0  # a Monday, 00:00 UTC
FIVE_MINUTES = 300.0
DAY = 86_400.0


def _wave(points: int, series: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    t = T0 + FIVE_MINUTES * np.arange(points)
    shape = 50.0 + 20.0 * np.sin(2 * np.pi * (t % DAY) / DAY)
    noise = np.random.default_rng(seed).normal(0.0, 1.0, (points, series))
    return t, shape[:, None] + noise


def _state(det: SeasonalDetector) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(det).items() if isinstance(v, np.ndarray) and k[0] != "_"}


def test_a_run_learned_after_the_fact_is_learned_as_its_points_would_have_been() -> None:
    t, x = _wave(4 * 288 + 12, 3)
    x[-12:, 1] -= 30.0  # the run: flagged, not learned as it came
    later, now = SeasonalDetector(3), SeasonalDetector(3)
    for k in range(4 * 288):
        for det in (later, now):
            det.learn(np.full(3, t[k]), x[k], np.ones(3, dtype=np.bool_))
    held = np.zeros(3, dtype=np.bool_)
    for k in range(4 * 288, t.size):
        later.learn(np.full(3, t[k]), x[k], held)
        now.learn(np.full(3, t[k]), x[k], np.array([False, True, False]))
    assert (later.model != 0).all(), "the daily model is in use"
    later.learn_run(np.array([1]), np.full(3, t[-1]), x[-12:, [1]])
    want, got = _state(now), _state(later)
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_missing_values_of_a_run_teach_nothing() -> None:
    t, x = _wave(3 * 288, 2)
    det = SeasonalDetector(2)
    for k in range(t.size):
        det.learn(np.full(2, t[k]), x[k], np.ones(2, dtype=np.bool_))
    before = {k: v.copy() for k, v in _state(det).items()}
    det.learn_run(np.array([0, 1]), np.full(2, t[-1] + 600.0), np.full((5, 2), np.nan))
    for name, value in _state(det).items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_an_accepted_run_teaches_the_profile_where_it_happened() -> None:
    """Four days of a daily wave, then every afternoon 30 lower from day 4: the first
    afternoon is accepted after ``accept_after`` points, and the day profile has learned
    its first hours (without the run, they stay where the wave put them)."""
    t, x = _wave(6 * 288, 2)
    hour = (t % DAY) / 3600.0
    afternoon = (t >= T0 + 4 * DAY) & (hour >= 13.0) & (hour < 19.0)
    x[afternoon, 1] -= 30.0
    engine = BatchEngine(2)
    accepted = []
    for k in range(4 * 288 + 13 * 12 + 30):  # to just after the first acceptance
        step = engine.step(np.full(2, t[k]), x[k])
        if step.series.adapted.any():
            accepted.append((k, np.flatnonzero(step.series.adapted).tolist()))
    assert accepted and accepted[-1][1] == [1], accepted
    seasonal = engine.series.seasonal
    assert seasonal is not None and (seasonal.model != 0).all()
    bins = slice(13 * 4, 15 * 4)  # 13:00-15:00, the run's quarter hours
    gap = seasonal.day[bins, 1] - seasonal.day[bins, 0]
    assert gap.mean() < -1.0, gap  # learned a drop there ...
    assert np.isnan(engine.series.recent).sum() == 0  # ... and the ring holds values


def test_a_checkpoint_mid_run_scores_on_as_if_it_had_not_stopped() -> None:
    t, x = _wave(5 * 288, 2, seed=4)
    x[4 * 288 + 150 :, 1] -= 25.0  # a lasting drop, accepted after 30 points
    whole, parts = BatchEngine(2).series, BatchEngine(2).series
    scores = [whole.step(np.full(2, t[k]), x[k]).score for k in range(t.size)]
    cut = 4 * 288 + 165  # inside the run
    for k in range(cut):
        parts.step(np.full(2, t[k]), x[k])
    parts = pickle.loads(pickle.dumps(parts))
    resumed = [parts.step(np.full(2, t[k]), x[k]).score for k in range(cut, t.size)]
    np.testing.assert_array_equal(np.array(scores[cut:]), np.array(resumed))


def test_a_checkpoint_from_before_resumes_with_nothing_to_learn() -> None:
    ens = BatchEngine(2).series
    for k in range(50):
        ens.step(np.full(2, T0 + FIVE_MINUTES * k), np.array([1.0, 2.0]))
    old = restored_without(ens, "recent")
    assert old.recent.shape == (ens.accept_after, 2) and np.isnan(old.recent).all()
    old.step(np.full(2, T0 + FIVE_MINUTES * 50), np.array([1.0, 2.0]))


def test_new_series_start_with_an_empty_ring() -> None:
    ens = BatchEngine(2).series
    for k in range(40):
        ens.step(np.full(2, T0 + FIVE_MINUTES * k), np.array([1.0, 2.0]))
    ens.grow(4)
    assert ens.recent.shape == (ens.accept_after, 4)
    assert np.isnan(ens.recent[:, 2:]).all() and not np.isnan(ens.recent[:, :2]).any()


def test_take_and_put_move_the_series_along_each_arrays_own_axis() -> None:
    """``ArrayState.take``/``put``, which ``learn_run`` works through: profiles keep the
    series on their last axis (``series_last``), the rest on their first."""
    t, x = _wave(2 * 288, 3)
    det = SeasonalDetector(3)
    for k in range(t.size):
        det.learn(np.full(3, t[k]), x[k], np.ones(3, dtype=np.bool_))
    part = det.take(np.array([2, 0]))
    assert part.n == 2 and part.day.shape == (det.day_bins, 2) and part.level.shape == (2,)
    np.testing.assert_array_equal(part.week[:, 0], det.week[:, 2])
    np.testing.assert_array_equal(part.var[:, 1], det.var[:, 0])
    part.level += 1.0
    part.day[:, 0] = 7.0
    before = {k: v.copy() for k, v in _state(det).items()}
    det.put(np.array([2, 0]), part)
    assert det.level[2] == before["level"][2] + 1.0 and det.level[1] == before["level"][1]
    assert (det.day[:, 2] == 7.0).all()
    np.testing.assert_array_equal(det.day[:, :2], before["day"][:, :2])
