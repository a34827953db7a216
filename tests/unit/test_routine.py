"""Routine excursions: the nightly cron spike stops paging; a new spike still pages."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.routine import RoutineMemory

DAY = 86_400.0
T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday


def minute_flags(x: np.ndarray) -> np.ndarray:
    """The default engine's flags over one-minute points from T0: ``x`` is (ticks,) for one
    series or (ticks, n) for n, and so are the flags."""
    values = x.reshape(x.shape[0], -1)
    n = values.shape[1]
    engine = BatchEngine(n, Settings(multivariate=()))
    flagged = np.zeros(values.shape, dtype=bool)
    for k in range(values.shape[0]):
        flagged[k] = engine.step(np.full(n, T0 + 60.0 * k), values[k]).series.flagged
    return flagged.reshape(x.shape)


def run(days: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Series 0: a spike every night near 03:05 (minute jitter). Series 1: the same, plus
    one spike at 15:00 on day 8, a time that never misbehaved."""
    rng = np.random.default_rng(11)
    ticks = days * 1440
    x = 100.0 + rng.normal(0.0, 2.0, (ticks, 2))
    for day in range(days):
        minute = day * 1440 + 185 + int(rng.integers(-10, 11))
        x[minute, :] += 60.0
    novel = 8 * 1440 + 900
    x[novel, 1] += 60.0
    return minute_flags(x), np.array([novel])


def test_nightly_spike_becomes_routine_and_a_new_spike_still_pages() -> None:
    flagged, novel = run()
    nights = [flagged[d * 1440 + 150 : d * 1440 + 220, 0].any() for d in range(10)]
    assert nights[2:].count(True) <= 1, nights  # from the third night on, it is routine
    assert flagged[novel[0], 1], "a spike at a time that never misbehaved still pages"


def test_memory_only_counts_earlier_days_and_needs_two_of_them() -> None:
    memory = RoutineMemory(n=1)
    idx = np.array([0])
    t = np.array([T0 + 3 * 3600.0])
    memory.learn(t, np.array([8.0]), idx)
    assert memory.routine(t + 600.0, idx)[0] == 0.0  # the same night: not routine yet
    # One earlier night is a coincidence, not a routine.
    assert memory.routine(t + DAY + 900.0, idx)[0] == 0.0
    memory.learn(t + DAY, np.array([6.0]), idx)
    third_night = memory.routine(t + 2 * DAY + 900.0, idx)[0]
    # Two earlier nights: the smaller of them, a day old, decayed with a 3-day half-life.
    assert third_night == pytest.approx(6.0 * 0.5 ** ((DAY + 900.0) / DAY / 3.0), rel=2e-3)
    assert memory.routine(t + 2 * DAY + 6 * 3600.0, idx)[0] == 0.0  # other times unaffected


def test_a_one_off_burst_does_not_hide_the_next_one_at_that_time() -> None:
    """Series 0: a spike at 10:00 on day 3, and an equal one at 10:00 on day 5. Once is a
    coincidence: the second still pages. (With one earlier day enough, it was discounted
    to nothing: on NAB, two labelled tweet bursts were missed this way.)"""
    rng = np.random.default_rng(3)
    ticks = 6 * 1440
    x = 100.0 + rng.normal(0.0, 2.0, ticks)
    first, second = 3 * 1440 + 600, 5 * 1440 + 602
    x[[first, second]] += 60.0
    flagged = minute_flags(x)
    assert flagged[first] and flagged[second]


def test_adopting_a_daily_period_does_not_page() -> None:
    """Two days in, the seasonal detector adopts the daily shape; the level detectors'
    input changes by the whole profile at that moment and must not read it as a shift."""
    rng = np.random.default_rng(5)
    ticks = 5 * 288  # five days at 5 minutes
    t = T0 + 300.0 * np.arange(ticks)
    # Peak at midnight, where the period is adopted (two days after the first point).
    x = 100.0 + 30.0 * np.cos(2 * np.pi * t / DAY)[:, None] + rng.normal(0, 1.0, (ticks, 3))
    engine = BatchEngine(3, Settings(multivariate=()))
    flagged = np.zeros((ticks, 3), dtype=bool)
    switched_at = np.full(3, -1)
    seasonal = engine.series.seasonal
    assert seasonal is not None
    for k in range(ticks):
        flagged[k] = engine.step(np.full(3, t[k]), x[k]).series.flagged
        switched_at = np.where((switched_at < 0) & (seasonal.model > 0), k, switched_at)
    assert (switched_at > 0).all(), "the daily period is adopted"
    for j in range(3):
        around = flagged[switched_at[j] - 12 : switched_at[j] + 288, j]
        assert not around.any(), f"series {j} paged around the model switch"


def test_a_nights_first_point_does_not_hide_the_earlier_nights() -> None:
    """The second point of a nightly job is as routine as its first: learning tonight's
    first point keeps the earlier nights' memory for the rest of tonight."""
    memory = RoutineMemory(n=1)
    idx = np.array([0])
    night1 = np.array([T0 + 22 * 3600.0])
    memory.learn(night1, np.array([6.0]), idx)
    memory.learn(night1 + DAY, np.array([6.0]), idx)
    night3 = night1 + 2 * DAY
    before = memory.routine(night3, idx)[0]
    assert before > 3.5  # night 1, two days old: the smaller of the two
    memory.learn(night3, np.array([6.0]), idx)  # tonight's first point
    assert memory.routine(night3 + 120.0, idx)[0] == pytest.approx(before, rel=1e-3)
    # Tonight's excursion joins the memory by tomorrow night, and the earlier ones stay.
    assert memory.routine(night3 + DAY, idx)[0] > 3.5
    # A first-time excursion still is not routine on its own night.
    other = np.array([T0 + 12 * 3600.0])
    memory.learn(other, np.array([9.0]), idx)
    assert memory.routine(other + 300.0, idx)[0] == 0.0


def run_job(days: int, lift: float, minutes: int) -> np.ndarray:
    """One series, calm (sd 2), with a job that lifts it by ``lift`` for ``minutes`` every
    night near 22:00 (the start jitters by up to ten minutes), from the third night on (a
    series alerts only once it is two days old)."""
    rng = np.random.default_rng(21)
    ticks = days * 1440
    x = 100.0 + rng.normal(0.0, 2.0, ticks)
    for day in range(2, days):
        start = day * 1440 + 1320 + int(rng.integers(-10, 11))
        x[start : start + minutes] += lift
    return minute_flags(x)


def test_a_nightly_ten_minute_job_pages_on_its_first_two_nights_only() -> None:
    """Every point of the job is routine from the third night on. The first two runs are
    news: once is a coincidence, twice a pattern. (Before the memory kept tonight apart
    from earlier nights, only the job's first minute was discounted: it paged on nights
    two and three, 20 and 11 points.)"""
    flagged = run_job(8, 30.0, 10)
    nights = [int(flagged[d * 1440 + 1290 : d * 1440 + 1380].sum()) for d in range(2, 8)]
    assert nights[0] > 0 and nights[1] > 0, "the first two runs of a job are news"
    assert nights[2:] == [0] * 4, nights


def test_a_job_that_jitters_across_a_half_hour_edge_is_routine_from_its_third_night() -> None:
    """A 3-minute job starting at 21:50 on odd nights and 22:05 on even ones: each night's
    excursion falls in one of two neighbouring half hours, and the two earlier nights that
    make it routine need not share one. (Read from the neighbours instead of folded into
    them, it paged on three nights: 3, 3, 3, then nothing.)"""
    rng = np.random.default_rng(21)
    days = 9
    ticks = days * 1440
    x = 100.0 + rng.normal(0.0, 2.0, ticks)
    for day in range(2, days):  # from the third night: a series alerts once two days old
        start = day * 1440 + (1310 if day % 2 else 1325)
        x[start : start + 3] += 30.0
    flagged = minute_flags(x)
    nights = [int(flagged[d * 1440 + 1290 : d * 1440 + 1380].sum()) for d in range(2, days)]
    assert nights[0] > 0 and nights[1] > 0, nights
    assert nights[2:] == [0] * 5, nights


def test_a_checkpoint_from_before_the_days_were_kept_apart_resumes() -> None:
    """Its single peak (tonight's excursion, where the old memory kept it) counts as the
    earlier days' memory, and the day's own starts empty: tomorrow is as routine as the old
    code said."""
    memory = RoutineMemory(n=2)
    idx = np.arange(2)
    t = np.full(2, T0 + 22 * 3600.0)
    memory.learn(t, np.array([6.0, 3.0]), idx)
    state = memory.__getstate__()
    # The layout the old code wrote: one float32 peak, no ``recent``, no ``second``.
    state["peak"] = state.pop("recent").astype(np.float32)
    del state["second"]
    old = RoutineMemory.__new__(RoutineMemory)
    old.__setstate__(state)
    assert old.recent.shape == old.peak.shape and not old.recent.any()
    expected = np.array([6.0, 3.0]) * 0.5 ** (1.0 / 3.0)  # a day later, 3-day half-life
    np.testing.assert_allclose(old.routine(t + DAY, idx), expected, rtol=1e-3)


def test_a_checkpoint_from_before_two_days_were_needed_resumes_as_routine() -> None:
    """Its one earlier-days memory made a time routine, and still does after the upgrade:
    a job the old code had learned does not page again."""
    memory = RoutineMemory(n=1)
    idx = np.array([0])
    t = np.array([T0 + 3 * 3600.0])
    memory.learn(t, np.array([8.0]), idx)
    memory.learn(t + DAY, np.array([8.0]), idx)  # moves night 1 into the earlier days
    state = memory.__getstate__()
    state["peak"] = np.maximum(state["peak"], state["second"]).astype(np.float32)
    del state["second"]
    old = RoutineMemory.__new__(RoutineMemory)
    old.__setstate__(state)
    assert old.peak.dtype == old.second.dtype == old.recent.dtype == np.float16
    assert old.routine(t + 2 * DAY, idx)[0] > 5.0
    # Pickled and grown like every other state.
    again = pickle.loads(pickle.dumps(old))
    again.grow(3)
    assert again.second.shape == (48, 3) and again.second.dtype == np.float16
    assert again.routine(t + 2 * DAY, idx)[0] == old.routine(t + 2 * DAY, idx)[0]
