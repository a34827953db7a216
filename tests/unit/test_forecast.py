"""ForecastDetector: predicted breaches of a limit, time to breach, and robustness.

Several seeds or cases run together as the columns of one detector (one series each, with
its own clock where the timestamps are irregular), which also exercises the vectorised face.
"""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest

from anomalert.detect.forecast import BreachForecast, ForecastDetector
from anomalert.model import Kind

T0 = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
MIN = 60.0
FIELDS = ("stat", "expected", "lower", "upper", "detail")

# The leak: flat at 55 for two hours, then a straight climb to the limit of 100 in six hours.
BASE_MIN, CLIMB_MIN, LIMIT = 120, 360, 100.0
BREACH = T0 + (BASE_MIN + CLIMB_MIN) * MIN
CHECKPOINTS = (120, 60, 30)  # minutes before the breach where the estimate is checked


def run(
    det: ForecastDetector, t: np.ndarray, x: np.ndarray, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """observe then learn row by row; t and x are (rows, n); outputs stacked by row."""
    out: dict[str, list[np.ndarray]] = {f: [] for f in FIELDS}
    for k in range(len(x)):
        tk, xk = t[k].copy(), x[k].copy()
        frame = det.observe(tk, xk)
        assert (frame.kind == Kind.PREDICTED_BREACH).all()
        for f in FIELDS:
            out[f].append(np.asarray(getattr(frame, f)))
        learn = np.isfinite(xk) if mask is None else mask[k]
        det.learn(tk, xk, learn)
    return {f: np.stack(v) for f, v in out.items()}


def leak_truth(t: np.ndarray) -> np.ndarray:
    minutes = (t - T0) / MIN
    climb = np.clip(minutes - BASE_MIN, 0.0, None) * (LIMIT - 55.0) / CLIMB_MIN
    return 55.0 + climb


def regular_leak(seeds: int = 3, sd: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rows = BASE_MIN + CLIMB_MIN
    t = np.repeat((T0 + MIN * np.arange(rows))[:, None], seeds, axis=1)
    noise = np.random.default_rng(7).normal(0.0, sd, t.shape)
    return t, leak_truth(t) + noise


def irregular_leak(seeds: int = 3, sd: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Each series on its own clock: gaps of 30 s to 5 min, drawn at random."""
    rng = np.random.default_rng(11)
    gaps = rng.choice([30.0, 60.0, 60.0, 90.0, 120.0, 300.0], size=(600, seeds))
    t = T0 + np.cumsum(gaps, axis=0)
    rows = int(np.argmax((t >= BREACH).all(axis=1)))  # until every series is past it
    t = t[:rows]
    return t, leak_truth(t) + rng.normal(0.0, sd, t.shape)


def relative_errors(t: np.ndarray, detail: np.ndarray) -> dict[int, np.ndarray]:
    """Per checkpoint, per series: (estimated - true minutes to breach) / true."""
    errors = {}
    for minutes in CHECKPOINTS:
        k = np.argmin(np.abs((BREACH - t) / MIN - minutes), axis=0)
        cols = np.arange(t.shape[1])
        truth = (BREACH - t[k, cols]) / MIN
        errors[minutes] = (detail[k, cols] - truth) / truth
    return errors


# ------------------------------------------------------------------------------ the leak
def test_leak_time_to_breach_within_a_quarter() -> None:
    t, x = regular_leak()
    res = run(ForecastDetector(n=t.shape[1], limit=LIMIT), t, x)
    for minutes, err in relative_errors(t, res["detail"]).items():
        assert np.isfinite(err).all(), minutes
        assert (np.abs(err) < 0.25).all(), (minutes, err)


def test_leak_raises_the_statistic_well_before_the_breach() -> None:
    t, x = regular_leak()
    res = run(ForecastDetector(n=t.shape[1], limit=LIMIT), t, x)
    stat = res["stat"]
    remaining = (BREACH - t) / MIN
    assert np.nanmax(stat[: BASE_MIN + 60]) < 1.0  # quiet while flat and early in the climb
    for i in range(t.shape[1]):
        above = np.flatnonzero(stat[:, i] > 4.0)
        assert above.size, f"series {i} never above 4"
        assert remaining[above[0], i] >= 45.0, remaining[above[0], i]
        # and it stays up: a predicted breach does not flicker out as the breach nears
        assert (stat[above[0] :, i] > 3.0).all()


def test_leak_with_irregular_timestamps() -> None:
    t, x = irregular_leak()
    res = run(ForecastDetector(n=t.shape[1], limit=LIMIT), t, x)
    for minutes, err in relative_errors(t, res["detail"]).items():
        assert (np.abs(err) < 0.25).all(), (minutes, err)
    assert (np.nanmax(res["stat"], axis=0) > 4.0).all()


def test_breach_info_tells_the_reason_its_numbers() -> None:
    t, x = regular_leak(seeds=1)
    det = ForecastDetector(limit=LIMIT)
    stop = BASE_MIN + CLIMB_MIN - 45  # 45 minutes before the breach
    run(det, t[:stop], x[:stop])
    info = det.breach_info(0)
    assert isinstance(info, BreachForecast)
    assert info.limit == LIMIT
    assert info.horizon_minutes == 120.0
    assert abs(info.minutes_to_breach - 46.0) < 0.25 * 46.0
    assert info.low_minutes < info.minutes_to_breach < info.high_minutes
    assert info.low_minutes <= 46.0 <= info.high_minutes  # the 90 % interval holds the truth
    assert info.probability > 0.99
    assert abs(info.level - leak_truth(t[stop - 1, :1])[0]) < 1.0
    assert abs(info.slope_per_minute - 0.125) < 0.025
    words = (
        f"memory reaches its limit of {info.limit:g} in about {info.minutes_to_breach:.0f} "
        f"minutes ({info.low_minutes:.0f}–{info.high_minutes:.0f} min, p={info.probability:.2f})"
    )
    assert re.fullmatch(
        r"memory reaches its limit of 100 in about \d+ minutes \(\d+–\d+ min, p=1.00\)", words
    )
    # seen from later, the same forecast is closer to the breach
    later = det.breach_info(0, t=float(t[stop - 1, 0]) + 10 * MIN)
    assert later.minutes_to_breach == pytest.approx(info.minutes_to_breach - 10.0, abs=0.5)


def test_frame_band_and_detail() -> None:
    t, x = regular_leak(seeds=1)
    res = run(ForecastDetector(limit=LIMIT), t, x)
    k = BASE_MIN + CLIMB_MIN - 60
    assert abs(res["expected"][k, 0] - leak_truth(t[k, :1])[0]) < 1.0  # the smoothed level
    # the band is where the value was expected now; the breach interval is in breach_info
    assert res["lower"][k, 0] < res["expected"][k, 0] < res["upper"][k, 0]
    assert res["upper"][k, 0] < LIMIT
    assert np.isnan(res["stat"][:29]).all()  # warming up (min_points = 30)
    assert np.isnan(res["detail"][:29]).all()


# ------------------------------------------------------------------------------ precision
def test_flat_noisy_series_near_the_limit_stays_quiet() -> None:
    rows = 10_000
    rng = np.random.default_rng(3)
    noise = np.column_stack(
        [
            rng.normal(0.0, 0.5, rows),
            rng.normal(0.0, 1.0, rows),
            rng.normal(0.0, 2.0, rows),
            rng.standard_t(3, rows),  # heavy tails
        ]
    )
    x = 0.9 * LIMIT + noise
    t = np.repeat((T0 + MIN * np.arange(rows))[:, None], x.shape[1], axis=1)
    res = run(ForecastDetector(n=x.shape[1], limit=LIMIT), t, x)
    top = np.nanmax(res["stat"], axis=0)
    assert (top < 1.0).all(), top


def test_transient_spikes_do_not_predict_a_breach() -> None:
    rows = 600
    rng = np.random.default_rng(5)
    x = 80.0 + rng.normal(0.0, 0.5, (rows, 5))
    x[300, 0] = 130.0  # one point far above the limit
    x[300:303, 1] = 99.0  # three points just under it
    x[300:302, 2] = 150.0
    x[200, 3], x[400, 3] = 100.0, 60.0  # a spike up, later one down
    x[300:303, 4] = 95.0
    t = np.repeat((T0 + MIN * np.arange(rows))[:, None], x.shape[1], axis=1)
    det = ForecastDetector(n=x.shape[1], limit=LIMIT)
    res = run(det, t, x)
    assert np.nanmax(res["stat"]) < 1.0
    for i in range(x.shape[1]):
        assert det.breach_info(i).probability < 0.01
        assert abs(det.breach_info(i).level - 80.0) < 1.0  # the spike did not move the level


def test_steps_and_sawtooth_are_not_extrapolated() -> None:
    """A step up near the limit, and GC cycles climbing to 85 % then dropping."""
    rows = 600
    rng = np.random.default_rng(9)
    k = np.arange(rows)
    x = np.column_stack(
        [
            np.where(k < 300, 80.0, 95.0),
            np.where(k < 300, 60.0, 90.0),
            60.0 + 25.0 * ((k % 60) / 60.0),
            70.0 + 25.0 * ((k % 30) / 30.0),
        ]
    ) + rng.normal(0.0, 0.5, (rows, 4))
    t = np.repeat((T0 + MIN * k)[:, None], x.shape[1], axis=1)
    res = run(ForecastDetector(n=x.shape[1], limit=LIMIT), t, x)
    assert (np.nanmax(res["stat"], axis=0) < 3.0).all(), np.nanmax(res["stat"], axis=0)


def test_a_steep_ramp_is_caught_before_it_breaches() -> None:
    rows = 300
    k = np.arange(rows)
    x = np.where(k < 200, 40.0, 40.0 + 1.0 * (k - 200))  # 1 % a minute: full in 60 minutes
    x = (x + np.random.default_rng(2).normal(0.0, 0.5, rows))[:, None]
    t = (T0 + MIN * k)[:, None]
    res = run(ForecastDetector(limit=LIMIT), t, x)
    first = int(np.argmax(res["stat"][:, 0] > 4.0))
    assert 200 < first <= 245  # at least 15 minutes ahead
    assert abs(res["detail"][250, 0] - 10.0) < 2.5


# ------------------------------------------------------------------------------ limits
def test_limits_per_series_and_nan_means_no_check() -> None:
    t, x = regular_leak(seeds=3)
    det = ForecastDetector(n=3)  # no limit: nothing to check
    det.set_limits(np.array([LIMIT, np.nan, 200.0]))
    res = run(det, t, x)
    assert np.nanmax(res["stat"][:, 0]) > 4.0
    assert np.isnan(res["stat"][:, 1]).all()
    assert np.isnan(res["detail"][:, 1]).all()
    assert np.isfinite(res["expected"][-1, 1])  # the level is still followed
    assert np.nanmax(res["stat"][:, 2]) < 1.0  # far below 200
    assert math.isnan(det.breach_info(1).minutes_to_breach)
    det.set_limits(np.array(150.0))  # a scalar applies to every series
    assert (det.limits == 150.0).all()


def test_constructor_parameters_are_kept() -> None:
    det = ForecastDetector(n=4, limit=90.0, horizon=3600.0, damping_time=math.inf)
    assert det.params()["limit"] == 90.0 and det.params()["horizon"] == 3600.0
    twin = det.clone(n=2)
    assert twin.n == 2 and twin.limit == 90.0 and (twin.limits == 90.0).all()
    assert "damping_time=inf" in repr(det)
    with pytest.raises(ValueError, match="shift_after"):
        ForecastDetector(shift_after=1)


def test_undamped_trend_extrapolates_a_straight_line() -> None:
    t, x = regular_leak(seeds=3)
    res = run(ForecastDetector(n=3, limit=LIMIT, damping_time=math.inf), t, x)
    for minutes, err in relative_errors(t, res["detail"]).items():
        assert (np.abs(err) < 0.25).all(), (minutes, err)


# ------------------------------------------------------------------------------ contract
def test_causal_prefix_equals_the_full_run() -> None:
    t, x = irregular_leak()
    x = x.copy()
    x[100, 0] = np.nan
    mask = np.isfinite(x)
    mask[150:160, 1] = False  # not learned (e.g. flagged by the ensemble), still scored
    full = run(ForecastDetector(n=3, limit=LIMIT), t, x, mask)
    cut = 250
    prefix = run(ForecastDetector(n=3, limit=LIMIT), t[:cut], x[:cut], mask[:cut])
    for f in FIELDS:
        np.testing.assert_array_equal(prefix[f], full[f][:cut], err_msg=f)


def test_deterministic_and_batch_equals_alone() -> None:
    t, x = irregular_leak()
    a = run(ForecastDetector(n=3, limit=LIMIT), t, x)
    b = run(ForecastDetector(n=3, limit=LIMIT), t, x)
    alone = run(ForecastDetector(n=1, limit=LIMIT), t[:, 1:2].copy(), x[:, 1:2].copy())
    for f in FIELDS:
        np.testing.assert_array_equal(a[f], b[f], err_msg=f)
        np.testing.assert_array_equal(a[f][:, 1:2], alone[f], err_msg=f)


def test_observe_changes_nothing() -> None:
    t, x = regular_leak()
    det = ForecastDetector(n=3, limit=LIMIT)
    run(det, t[:300], x[:300])
    before = pickle.dumps(det)
    det.observe(t[300], x[300] + 40.0)
    det.observe(t[300], np.full(3, np.nan))
    det.observe(t[300] + 3600.0, x[300])
    assert pickle.dumps(det) == before


def test_learns_only_where_the_mask_holds() -> None:
    t, x = regular_leak()
    det = ForecastDetector(n=3, limit=LIMIT)
    run(det, t[:100], x[:100])
    level = det.level.copy()
    det.learn(t[100], x[100] + 5.0, np.array([True, False, False]))
    assert det.level[0] != level[0]
    np.testing.assert_array_equal(det.level[1:], level[1:])
    seen = det.seen.copy()
    det.learn(t[100], x[100], np.ones(3, dtype=bool))  # same time again: not taken
    det.learn(t[99], x[99], np.ones(3, dtype=bool))  # out of order: not taken
    assert det.seen[0] == seen[0]
    assert (det.seen[1:] == seen[1:] + 1).all()


def test_nan_and_inf_inputs() -> None:
    t, x = regular_leak()
    x = x.copy()
    x[200:205, 0] = np.nan
    x[210, 1] = np.inf
    x[211, 2] = -np.inf
    bad_t = t.copy()
    bad_t[220, 2] = np.nan  # a missing timestamp is not learned either
    det = ForecastDetector(n=3, limit=LIMIT)
    res = run(det, bad_t, x)  # warnings are errors in this suite
    assert np.isnan(res["stat"][200:205, 0]).all()
    assert np.isnan(res["stat"][210, 1]) and np.isnan(res["stat"][211, 2])
    assert np.isnan(res["stat"][220, 2])
    for name, value in vars(det).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), name
    clean = run(ForecastDetector(n=3, limit=LIMIT), *regular_leak())
    for minutes, err in relative_errors(t, res["detail"]).items():
        assert (np.abs(err) < 0.25).all(), (minutes, err)
    assert np.isfinite(res["stat"][300:]).all() and np.isfinite(clean["stat"][300:]).all()


def test_pickle_round_trip_mid_stream() -> None:
    t, x = irregular_leak()
    whole = run(ForecastDetector(n=3, limit=LIMIT), t, x)
    det = ForecastDetector(n=3, limit=LIMIT)
    run(det, t[:200], x[:200])
    copy = pickle.loads(pickle.dumps(det))
    tail = run(copy, t[200:], x[200:])
    for f in FIELDS:
        np.testing.assert_array_equal(tail[f], whole[f][200:], err_msg=f)


def test_adapt_restarts_the_level_and_keeps_the_trend() -> None:
    t, x = regular_leak(seeds=1)
    det = ForecastDetector(limit=LIMIT)
    run(det, t[:400], x[:400])
    slope = det.slope[0]
    det.adapt(np.array([True]))
    det.learn(t[400], x[400] + 3.0, np.array([True]))
    assert det.level[0] == x[400, 0] + 3.0
    assert det.slope[0] == pytest.approx(slope, rel=1e-3)


def test_grow_and_state_bytes() -> None:
    det = ForecastDetector(n=10, limit=LIMIT)
    per_series = det.state_nbytes() / 10
    assert per_series <= 128
    det.grow(20)
    assert det.state_nbytes() == 2 * 10 * per_series
    assert (det.limits == LIMIT).all()
