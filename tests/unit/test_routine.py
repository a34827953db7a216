"""Routine excursions: the nightly cron spike stops paging; a new spike still pages."""

from __future__ import annotations

import numpy as np

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.routine import RoutineMemory

DAY = 86_400.0
T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday


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
    engine = BatchEngine(2, Settings(multivariate=()))
    flagged = np.zeros((ticks, 2), dtype=bool)
    for k in range(ticks):
        flagged[k] = engine.step(np.full(2, T0 + 60.0 * k), x[k]).series.flagged
    return flagged, np.array([novel])


def test_nightly_spike_becomes_routine_and_a_new_spike_still_pages() -> None:
    flagged, novel = run()
    nights = [flagged[d * 1440 + 150 : d * 1440 + 220, 0].any() for d in range(10)]
    assert nights[2:].count(True) <= 1, nights  # from the third night on, it is routine
    assert flagged[novel[0], 1], "a spike at a time that never misbehaved still pages"


def test_memory_only_counts_earlier_days() -> None:
    memory = RoutineMemory(n=1)
    idx = np.array([0])
    t = np.array([T0 + 3 * 3600.0])
    memory.learn(t, np.array([8.0]), idx)
    assert memory.routine(t + 600.0, idx)[0] == 0.0  # the same night: not routine yet
    next_night = memory.routine(t + DAY + 900.0, idx)[0]
    assert 5.0 < next_night < 8.0  # a day later, decayed with a 3-day half-life
    assert memory.routine(t + DAY + 6 * 3600.0, idx)[0] == 0.0  # other times unaffected


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
