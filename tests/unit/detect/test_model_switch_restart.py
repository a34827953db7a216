"""Taking a richer seasonal model, a series' deseasonalised detectors relearn their input.

On a growing series the day profile holds the slow level's lag behind the growth at each
time of day, so the values minus the profile step differently from point to point than the
raw growth did; told only the offset at the switch, the rolling detector's level and step,
learned on the raw growth, mispredicted the new input more every point and paged: a
cumulative count of orders (a daily rate read as a running total) on every seed at
five-minute, fifteen-minute and hourly resolution, a perfect ramp at five minutes ("v 1,253,
a sudden rise from the previous point, 11.7σ beyond its usual point-to-point change"), a
quadratic growth with noise on each of six seeds. Since the switch restarts them as an
accepted shift does, on a series that climbs by more than its step noise every point
(``Ensemble._follow_model_switch``, ``RollingDetector.drifting``).
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.robust import WARM_RESTART
from anomalert.detect.rolling import RollingDetector
from anomalert.detect.seasonal import DAILY, DAY, FLAT, SeasonalDetector

START = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday


def run(x: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Alerts (runs of flagged points) per series and each series' final model, for ``x``
    (points x series) through one engine."""
    rows, n = x.shape
    engine = BatchEngine(n, Settings())
    seasonal = next(d for d in engine.series.detectors if isinstance(d, SeasonalDetector))
    alerts = np.zeros(n, dtype=int)
    before = np.zeros(n, dtype=bool)
    for k in range(rows):
        flagged = engine.step(np.full(n, START + k * step), x[k]).series.flagged
        alerts += flagged & ~before
        before = flagged
    return alerts, seasonal.model.copy()


def cumulative_orders(step: float, days: int, seeds: int) -> np.ndarray:
    """Running totals of Poisson orders whose rate follows the day (20 +- 15 a minute)."""
    t = START + np.arange(int(days * DAY / step)) * step
    hour = (t % DAY) / 3600.0
    rate = (20.0 + 15.0 * np.sin(2.0 * np.pi * (hour - 9.0) / 24.0)) * step / 60.0
    rng = np.random.default_rng(7)
    counts = rng.poisson(np.maximum(rate, 0.1)[:, None], (t.size, seeds))
    return np.cumsum(counts, axis=0).astype(float)


@pytest.mark.parametrize("step", [300.0, 900.0, 3600.0])
def test_a_running_total_of_a_daily_rate_takes_its_model_quietly(step: float) -> None:
    alerts, model = run(cumulative_orders(step, 21, 4), step)
    assert (model != FLAT).all(), model  # the switch this is about did happen
    assert alerts.sum() <= 1, alerts  # before: one page per series (12 of 12)


def test_perfect_ramps_and_growth_with_noise_stay_quiet() -> None:
    step = 300.0
    rows = int(14 * DAY / step)
    i = np.arange(rows, dtype=float)
    ramps = 5.0 + i[:, None] * np.array([1.0, 0.37, 4096.0, 1.0 / step])  # index, bytes, clock
    rng = np.random.default_rng(0)
    growth = ((i / rows) ** 2 * 1e4)[:, None] + rng.normal(0.0, 1.0, (rows, 4))
    alerts, model = run(np.hstack([ramps, growth]), step)
    assert alerts.tolist() == [0] * 8  # before: every one paged once
    assert (model != FLAT).any()


def test_a_daily_shape_on_a_growing_series_is_unchanged() -> None:
    step, rows = 300.0, int(6 * DAY / 300.0)
    rng = np.random.default_rng(1)
    t = START + np.arange(rows) * step
    shape = 30.0 * np.sin(2.0 * np.pi * (t % DAY) / DAY)
    growth = np.array([0.0, 5.0, 20.0])  # per day, on a level of 100
    x = 100.0 + np.outer((t - START) / DAY, growth) + shape[:, None]
    x += rng.normal(0.0, 2.0, x.shape)
    alerts, model = run(x, step)
    assert alerts.sum() == 0 and (model == DAILY).all(), (alerts, model)


def test_only_a_drifting_series_restarts_and_only_the_first_time() -> None:
    step = 300.0
    rows = int(5 * DAY / step)
    t = START + np.arange(rows) * step
    rng = np.random.default_rng(2)
    shaped = 100.0 + 30.0 * np.sin(2.0 * np.pi * (t % DAY) / DAY) + rng.normal(0, 1, rows)
    running_total = cumulative_orders(step, 5, 1)[:, 0]
    engine = BatchEngine(2, Settings())
    ens = engine.series
    seasonal = next(d for d in ens.detectors if isinstance(d, SeasonalDetector))
    rolling = next(d for d in ens.detectors if isinstance(d, RollingDetector))
    counts_at_switch = [np.nan, np.nan]
    for k in range(rows):
        before = seasonal.model.copy()
        engine.step(np.full(2, t[k]), np.array([running_total[k], shaped[k]]))
        for j in (0, 1):
            if np.isnan(counts_at_switch[j]) and seasonal.model[j] != before[j]:
                counts_at_switch[j] = rolling.count[j]
    assert seasonal.model.tolist() == [DAILY, DAILY]
    assert counts_at_switch[0] <= WARM_RESTART + 1  # relearning at warm-up speed
    assert counts_at_switch[1] > 100 * WARM_RESTART  # a daily shape keeps its levels
    # Dropping the model (or taking it back later) is no first time: nothing restarts.
    counted = rolling.count.copy()
    seasonal.model[:] = FLAT
    later = np.full(2, t[-1] + step)
    ens._follow_model_switch(later, seasonal.component(later), np.array([DAILY, DAILY]))
    np.testing.assert_array_equal(rolling.count, counted)
