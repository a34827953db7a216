"""One calibrator over several detectors' rows gives each row's numbers exactly."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from anomalert.detect.calibrate import TailCalibrator
from anomalert.detect.engine import BatchEngine, Settings


def _stats(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Half-normal-like statistics with heavy outliers and missing values."""
    stat = np.abs(rng.standard_t(3, shape))
    stat[rng.random(shape) < 0.05] = np.nan
    return stat


def test_rows_match_one_calibrator_per_row_bitwise() -> None:
    rng = np.random.default_rng(0)
    rows, n = 3, 50
    stacked = TailCalibrator(n=n, rows=rows)
    single = [TailCalibrator(n=n) for _ in range(rows)]
    for _ in range(400):
        stat = _stats(rng, (rows, n))
        mask = rng.random(n) < 0.95
        p = stacked.p_value(stat)
        first = stacked.p_value(stat[:2], 2)
        for r, cal in enumerate(single):
            alone = cal.p_value(stat[r])
            np.testing.assert_array_equal(p[r], alone)
            if r < 2:
                np.testing.assert_array_equal(first[r], alone)
            cal.learn(stat[r], mask)
        stacked.learn(stat, mask)
    shape, scale = stacked.tail()
    for r, cal in enumerate(single):
        np.testing.assert_array_equal(shape[r], cal.tail()[0])
        np.testing.assert_array_equal(scale[r], cal.tail()[1])


def test_a_row_with_a_cap_of_its_own_matches_a_calibrator_with_that_cap() -> None:
    """``row_caps``: one row of a stacked calibrator (the seasonal detector's) keeps a lighter
    shape cap than the others; its numbers are a lone calibrator's with that cap."""
    rng = np.random.default_rng(1)
    rows, n = 3, 40
    stacked = TailCalibrator(n=n, rows=rows, max_shape=0.35, row_caps={1: 0.25})
    single = [TailCalibrator(n=n, max_shape=cap) for cap in (0.35, 0.25, 0.35)]
    for _ in range(300):
        stat = _stats(rng, (rows, n)) * 3.0  # heavy enough to reach either cap
        mask = rng.random(n) < 0.95
        p = stacked.p_value(stat)
        for r, cal in enumerate(single):
            np.testing.assert_array_equal(p[r], cal.p_value(stat[r]))
            cal.learn(stat[r], mask)
        stacked.learn(stat, mask)
    shape = stacked.tail()[0]
    assert shape[1].max() == np.float32(0.25) and shape[0].max() == np.float32(0.35)
    assert stacked.clone(n=2).row_caps == {1: 0.25}


def test_a_row_keeps_its_own_cap_only_on_the_series_named() -> None:
    """``own_caps``: where it is False, the row with a cap of its own takes the common cap
    (the seasonal detector's residual on a series without a period); elsewhere, and on
    the other rows, nothing changes."""
    rng = np.random.default_rng(2)
    rows, n = 3, 40
    stacked = TailCalibrator(n=n, rows=rows, max_shape=0.35, row_caps={1: 0.25})
    common = TailCalibrator(n=n, rows=rows, max_shape=0.35)
    own = np.arange(n) % 2 == 0
    for _ in range(300):
        stat = _stats(rng, (rows, n)) * 3.0
        mask = rng.random(n) < 0.95
        p = stacked.p_value(stat, own_caps=own)
        np.testing.assert_array_equal(p[:, own], stacked.p_value(stat)[:, own])
        np.testing.assert_array_equal(p[:, ~own], common.p_value(stat)[:, ~own])
        stacked.learn(stat, mask)
        common.learn(stat, mask)
    # The tails are heavy enough for the caps to matter: p differs where the cap does.
    stat = np.full((rows, n), 40.0)
    lifted = stacked.p_value(stat, own_caps=np.zeros(n, dtype=bool))[1]
    assert (lifted > stacked.p_value(stat)[1]).any()
    shape = stacked.tail(own_caps=own)[0]
    np.testing.assert_array_equal(shape[:, own], stacked.tail()[0][:, own])
    np.testing.assert_array_equal(shape[:, ~own], common.tail()[0][:, ~own])


def test_a_series_outside_own_caps_is_heavy_even_where_every_row_cap_is_light() -> None:
    """Every row capped at 0 (exponential): a series that does not take the row caps still
    gets the common cap's generalised Pareto, not the exponential tail."""
    rng = np.random.default_rng(3)
    n = 8
    light = TailCalibrator(n=n, rows=2, max_shape=0.35, row_caps={0: 0.0, 1: 0.0})
    common = TailCalibrator(n=n, rows=2, max_shape=0.35)
    for _ in range(300):
        stat = _stats(rng, (2, n)) * 3.0
        light.learn(stat, np.ones(n, dtype=bool))
        common.learn(stat, np.ones(n, dtype=bool))
    stat = np.full((2, n), 40.0)
    none = np.zeros(n, dtype=bool)
    np.testing.assert_array_equal(light.p_value(stat, own_caps=none), common.p_value(stat))
    assert (light.p_value(stat) < common.p_value(stat)).all()


def test_own_caps_of_the_wrong_length_is_a_clear_error() -> None:
    """The compiled loops index ``own_caps`` by series without a bounds check: a mask of
    another length must be refused by name, not read past its end."""
    cal = TailCalibrator(n=4, rows=2, row_caps={1: 0.25})
    stat = np.ones((2, 4))
    for bad in (np.ones(3, dtype=bool), np.ones((2, 4), dtype=bool)):
        with pytest.raises(ValueError, match=r"own_caps: expected shape \(4,\)"):
            cal.p_value(stat, own_caps=bad)
        with pytest.raises(ValueError, match="own_caps"):
            cal.tail(own_caps=bad)


def test_rows_grow_along_the_series() -> None:
    cal = TailCalibrator(n=4, rows=3)
    cal.grow(6)
    assert cal.weight.shape == (3, 6)
    assert cal.clone(n=2).excess.shape == (3, 2)


def _scores(engine: BatchEngine, start: int, ticks: int) -> np.ndarray:
    rng = np.random.default_rng(start)
    out = []
    for k in range(start, start + ticks):
        x = 10.0 + rng.normal(0, 1, engine.n) + (k > start + ticks // 2) * 6.0
        out.append(engine.step(np.full(engine.n, 60.0 * k), x).series.score)
    return np.array(out)


def test_a_checkpoint_with_a_calibrator_per_detector_resumes_exactly() -> None:
    settings = Settings(univariate=(*Settings().univariate, "forecast", "trend"))
    engine = BatchEngine(3, settings)
    _scores(engine, 0, 300)
    # The layout before rows: one calibrator per detector, in the detectors' order.
    state = pickle.loads(pickle.dumps(engine.series.__dict__))
    order, _ = engine.series._rows()
    tails = state.pop("tails")
    per_detector: list[TailCalibrator | None] = [None] * len(order)
    for row, i in enumerate(order):
        cal = TailCalibrator(n=3)
        for name in TailCalibrator.series_last:
            setattr(cal, name, getattr(tails, name)[row].copy())
        del cal.__dict__["rows"]  # as pickled before the attribute existed
        per_detector[i] = cal
    state["calibrators"] = per_detector
    old = copy.copy(engine)
    old.series = engine.series.__class__.__new__(engine.series.__class__)
    old.series.__setstate__(state)
    np.testing.assert_array_equal(_scores(old, 300, 200), _scores(engine, 300, 200))
