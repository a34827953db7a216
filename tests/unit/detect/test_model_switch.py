"""When the seasonal detector takes a richer model, what was learned under the old one
stops weighing on the new one: the seasonal row's tail goes back to the prior (from the
flat model) or becomes a prior-sized first guess (daily to weekly), and the routine memory
of surprising times of day is held at two alerts' worth (it was cleared until 2026-12-05)."""

from __future__ import annotations

import numpy as np

from anomalert.detect.calibrate import TailCalibrator
from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.routine import RoutineMemory
from anomalert.detect.seasonal import DAILY, DAY, FLAT


def _heavy(cal: TailCalibrator, rng: np.random.Generator, points: int) -> None:
    shape = (cal.rows, cal.n) if cal.rows else (cal.n,)
    for _ in range(points):
        cal.learn(np.abs(rng.standard_t(2, shape)) * 2.0, np.ones(cal.n, dtype=bool))


def test_shrink_keeps_the_tail_but_lets_it_count_as_a_prior() -> None:
    rng = np.random.default_rng(0)
    cal = TailCalibrator(n=3, rows=2)
    _heavy(cal, rng, 3000)
    stat = np.full((2, 3), 6.0)
    before = cal.p_value(stat)
    weight, exceed = cal.weight.copy(), cal.exceed.copy()
    mask = np.array([True, False, True])
    cal.shrink(mask, cal.prior_weight, row=1)
    after = cal.p_value(stat)
    np.testing.assert_allclose(after, before, rtol=1e-5)  # the same estimate...
    assert (cal.weight[1, mask] <= cal.prior_weight * 1.0001).all()  # ...worth a prior
    assert (cal.exceed[1, mask] <= cal.prior_weight * cal.prior_rate * 1.0001).all()
    np.testing.assert_array_equal(cal.weight[0], weight[0])  # other rows untouched
    np.testing.assert_array_equal(cal.weight[1, ~mask], weight[1, ~mask])
    np.testing.assert_array_equal(cal.exceed[1, ~mask], exceed[1, ~mask])

    # Fed light-tailed statistics, the shrunk series forget the heavy tail within a few
    # hundred points; the others keep it.
    for _ in range(500):
        cal.learn(np.abs(rng.normal(size=(2, 3))), np.ones(3, dtype=bool))
    p = cal.p_value(stat)
    assert p[1, 0] < 0.1 * p[1, 1] and p[1, 2] < 0.1 * p[1, 1], p


def test_reset_puts_only_the_masked_series_of_one_row_back_to_the_prior() -> None:
    rng = np.random.default_rng(1)
    cal = TailCalibrator(n=3, rows=2)
    fresh = TailCalibrator(n=3, rows=2)
    _heavy(cal, rng, 3000)
    learned = [a.copy() for a in (cal.weight, cal.exceed, cal.excess, cal.excess_sq)]
    mask = np.array([False, True, False])
    cal.reset(mask, row=0)
    for now, before, prior in zip(
        (cal.weight, cal.exceed, cal.excess, cal.excess_sq),
        learned,
        (fresh.weight, fresh.exceed, fresh.excess, fresh.excess_sq),
        strict=True,
    ):
        assert now[0, 1] == prior[0, 1]
        np.testing.assert_array_equal(now[0, ~mask], before[0, ~mask])
        np.testing.assert_array_equal(now[1], before[1])
    shape, _ = cal.tail()
    assert shape[0, 1] < 1e-3 and shape[1, 1] > 0.1  # the prior's exponential tail again


def test_cap_holds_only_the_masked_series_at_the_given_surprise() -> None:
    memory = RoutineMemory(n=2)
    t = np.array([3 * 3600.0, 3 * 3600.0])
    memory.learn(t, np.array([9.0, 9.0]), np.arange(2))
    memory.learn(t + DAY, np.array([9.0, 9.0]), np.arange(2))  # routine takes two nights
    memory.cap(np.array([True, False]), 4.0)
    routine = memory.routine(t + 2 * DAY, np.arange(2))
    # The first night's 9 two days on, 5.67 (half-life three days); held at 4 a day before.
    expected = np.array([4.0 * 0.5 ** (1.0 / 3.0), 9.0 * 0.5 ** (2.0 / 3.0)])
    np.testing.assert_allclose(routine, expected, rtol=2e-3)


def test_a_switch_to_the_daily_model_resets_the_seasonal_tail_and_caps_the_routine() -> None:
    """A square daily wave is scored as flat for its first two days: its 09:00 edge is a huge
    surprise, which fattens the seasonal row's tail and makes 09:00 look routine. Once the
    daily model is taken, the tail goes back to the prior and the routine memory is held at
    two alerts' worth (p = 1e-4: 4 in -log10 units, twice), not cleared: the new model does
    not know the edges yet."""
    step = 300.0
    t = 1_396_310_400.0 + step * np.arange(int(3 * DAY / step))
    hour = (t % DAY) / 3600.0
    x = np.where((hour >= 9) & (hour < 19), 80.0, 20.0)
    x = x + np.random.default_rng(2).normal(0.0, 2.0, t.size)
    ens = BatchEngine(1).series
    assert ens.seasonal is not None and ens.routine is not None
    row = ens._rows()[0].index(ens.detectors.index(ens.seasonal))
    switched_at = None
    for i in range(t.size):
        before = int(ens.seasonal.model[0])
        ens.step(t[i : i + 1], x[i : i + 1])
        if before == FLAT and ens.seasonal.model[0] == DAILY:
            switched_at = i
            weight = float(ens.tails.weight[row, 0])
            exceed = float(ens.tails.exceed[row, 0])
            shape = float(ens.tails.tail()[0][row, 0])
            memory = ens.routine
            peaks = max(float(a[:, 0].max()) for a in (memory.peak, memory.second, memory.recent))
            break
    assert switched_at is not None, "the daily model was never taken"
    assert weight <= ens.tails.prior_weight * 1.0001
    assert exceed <= ens.tails.prior_weight * ens.tails.prior_rate * 1.0001
    assert shape < 1e-3  # the prior's, not the heavy one of the edges scored as flat
    assert peaks == 8.0  # the edges' surprise (28 in -log10 units), held at two alerts'


def test_an_accepted_departure_from_the_daily_shape_keeps_the_daily_model() -> None:
    """A weekday-only business-hours plateau: its first Saturday pages (the daily model
    expects the plateau), and after 30 flagged points it is accepted as the new normal.
    The seasonal detector's level restarts then, but its choice of model does not: the
    daily shape still holds on Monday. (When the model choice restarted at warm-up speed
    too, a few flat Saturday minutes flipped the series to the flat model and back four
    times, and it held the flat one from Saturday evening to Thursday.)"""
    days = 10
    ticks = days * 1440
    rng = np.random.default_rng(8)
    t0 = 1_767_571_200.0  # a Monday, 00:00 UTC
    t = t0 + 60.0 * np.arange(ticks)
    hour = ((t - t0) % DAY) / 3600.0
    weekday = ((t - t0) // DAY) % 7 < 5
    x = 100.0 + 30.0 * ((hour >= 9) & (hour < 17) & weekday) + rng.normal(0.0, 2.0, ticks)
    engine = BatchEngine(1, Settings(multivariate=()))
    seasonal = engine.series.seasonal
    assert seasonal is not None
    models = np.zeros(ticks, dtype=int)
    flagged = np.zeros(ticks, dtype=bool)
    for k in range(ticks):
        flagged[k] = engine.step(t[k : k + 1], x[k : k + 1]).series.flagged[0]
        models[k] = seasonal.model[0]
    saturday = 5 * 1440 + 9 * 60
    assert flagged[saturday : saturday + 30].all(), "the first flat Saturday morning pages"
    assert (models[2 * 1440 :] == DAILY).all(), np.unique(models[2 * 1440 :])
    assert not flagged[saturday + 30 :].any(), np.flatnonzero(flagged[saturday + 30 :])
