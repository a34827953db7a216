"""The seasonal detector fits a sharp daily shape, and the ensemble holds a flagged run.

A square daily wave (20 at night, 80 by day, noise 2) is the simplest seasonal series and
was fitted at about three quarters of its height: the week profile took part of the daily
shape and the daily model never saw it. These tests pin the fit and what follows from it.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine
from anomalert.detect.ensemble import HOLD, Ensemble
from anomalert.detect.seasonal import DAILY, DAY, WEEKLY, SeasonalDetector

STEP = 300.0  # five-minute samples
T0 = 1_396_310_400.0  # a Tuesday 00:00 UTC


def square_day(days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A daily square wave: 80 from 09:00 to 19:00, 20 otherwise, Gaussian noise 2."""
    t = T0 + STEP * np.arange(int(days * DAY / STEP))
    hour = (t % DAY) / 3600.0
    x = np.where((hour >= 9) & (hour < 19), 80.0, 20.0)
    return t, x + np.random.default_rng(seed).normal(0.0, 2.0, t.size)


def learned(days: int) -> tuple[SeasonalDetector, np.ndarray, np.ndarray]:
    t, x = square_day(days)
    det = SeasonalDetector(n=1)
    for i in range(t.size):
        det.learn(t[i : i + 1], x[i : i + 1], np.array([True]))
    return det, t, x


def test_a_square_daily_wave_is_fitted_at_full_height() -> None:
    det, t, _ = learned(9)
    assert det.model[0] == DAILY
    day = t[-1] - t[-1] % DAY + DAY  # the next midnight
    noon = det.observe(np.array([day + 14 * 3600.0]), np.array([80.0]))
    night = det.observe(np.array([day + 2 * 3600.0]), np.array([20.0]))
    assert abs(noon.expected[0] - 80.0) < 4.0, noon.expected
    assert abs(night.expected[0] - 20.0) < 4.0, night.expected


def test_a_checkpoint_with_hourly_day_bins_still_scores() -> None:
    """State pickled before the day profile had quarter-hour bins keeps its own bins."""
    det, t, x = learned(3)
    state = det.__getstate__() if hasattr(det, "__getstate__") else dict(vars(det))
    old = SeasonalDetector(n=1, day_bins=24)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.day_bins == 24
    for i in range(t.size):
        restored.learn(t[i : i + 1], x[i : i + 1], np.array([True]))
    frame = restored.observe(t[-1:] + STEP, x[-1:])
    assert np.isfinite(frame.stat).all()
    assert state  # the new detector pickles too
    assert pickle.loads(pickle.dumps(det)).day_bins == 96


def _value_with_p(ens: Ensemble, t: float, lo: float, hi: float, target: float) -> float:
    """A value between lo and hi whose p-value on this tick is about ``target`` (bisection
    on copies of the ensemble: a dry run does not learn)."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        p = copy.deepcopy(ens).step(np.array([t]), np.array([mid])).p[0]
        lo, hi = (mid, hi) if p > target else (lo, mid)
    return 0.5 * (lo + hi)


def test_a_flagged_run_holds_through_one_calmer_point() -> None:
    """A point of an incident a little under the threshold stays flagged (not learned, the
    run goes on); a calm point ends the run; a lone such point outside a run is not flagged."""
    rng = np.random.default_rng(3)
    ens = BatchEngine(1).series
    for k in range(3000):  # past two days: old enough to alert
        ens.step(np.array([60.0 * k]), np.array([50.0 + rng.normal()]))
    p_alert = ens._p_threshold
    t = 60.0 * 3000
    # Just under the threshold, within HOLD times its p-value.
    dip = _value_with_p(ens, t, 50.0, 100.0, 0.5 * HOLD * p_alert)
    assert not copy.deepcopy(ens).step(np.array([t]), np.array([dip])).flagged[0]
    assert ens.step(np.array([t]), np.array([80.0])).flagged[0]
    dip = _value_with_p(ens, t + 60.0, 50.0, 100.0, 0.5 * HOLD * p_alert)
    held = ens.step(np.array([t + 60.0]), np.array([dip]))
    assert held.score[0] < ens.threshold and held.flagged[0]
    assert ens.run[0] == 2
    assert not ens.step(np.array([t + 120.0]), np.array([50.0])).flagged[0]
    assert ens.run[0] == 0


def test_a_sharp_edge_is_fitted_as_a_step_and_a_smooth_curve_stays_smooth() -> None:
    """Edges on a bin boundary (09:00, 19:00) meet as a step: a minute either side of the
    edge is expected near its own side's height, where a ramp between the two bins' centres
    would expect about half way (46 and 54)."""
    det, t, _ = learned(9)
    day = t[-1] - t[-1] % DAY + DAY
    before = det.observe(np.array([day + 9 * 3600.0 - 60.0]), np.array([20.0]))
    after = det.observe(np.array([day + 9 * 3600.0 + 60.0]), np.array([80.0]))
    assert before.expected[0] < 32.0, before.expected
    assert after.expected[0] > 72.0, after.expected

    # A smooth daily curve has no edges: the expected value moves by small steps minute by
    # minute, bin boundaries included (a step there would be a false jump to the detectors
    # that see the deseasonalised values).
    t = T0 + 60.0 * np.arange(int(5 * DAY / 60.0))
    x = 100.0 + 10.0 * np.sin(2 * np.pi * t / DAY) + np.random.default_rng(1).normal(0, 0.3, t.size)
    smooth = SeasonalDetector(n=1)
    for i in range(t.size):
        smooth.learn(t[i : i + 1], x[i : i + 1], np.array([True]))
    assert smooth.model[0] == DAILY
    minutes = t[-1] + 60.0 * np.arange(1, 1441)
    expected = np.array(
        [smooth.observe(minutes[i : i + 1], x[-1:]).expected[0] for i in range(minutes.size)]
    )
    slope = 10.0 * 2 * np.pi / DAY * 60.0  # the curve's steepest change per minute
    assert np.abs(np.diff(expected)).max() < 3 * slope + 0.1


def test_a_weekday_only_start_is_fitted_as_a_step_on_weekends_too() -> None:
    """Business hours on weekdays only (130 from 09:00 to 17:00 Monday to Friday, 100
    otherwise): the day profile holds the average day, the week profile how weekends differ,
    a drop of about 21 at 09:00 and a rise at 17:00. Interpolated, that week-profile edge was
    a ramp an hour wide, so weekend mornings missed by up to half of it (weekend residuals
    between 08:00 and 10:00 of 8.3 and 7.6 RMS in the third week against noise 2); as a
    step, 6.3."""
    t = T0 - DAY + STEP * np.arange(int(21 * DAY / STEP))  # from a Monday
    hour = (t % DAY) / 3600.0
    weekday = ((t - t[0]) // DAY) % 7 < 5
    x = 100.0 + 30.0 * ((hour >= 9) & (hour < 17) & weekday)
    x += np.random.default_rng(0).normal(0.0, 2.0, t.size)
    det = SeasonalDetector(n=1)
    residual = np.empty(t.size)
    for i in range(t.size):
        residual[i] = x[i] - det.observe(t[i : i + 1], x[i : i + 1]).expected[0]
        det.learn(t[i : i + 1], x[i : i + 1], np.array([True]))
    assert det.model[0] == WEEKLY
    morning = (hour >= 8) & (hour < 10)
    for day in (19, 20):  # the third Saturday and Sunday
        that = morning & (t >= t[0] + day * DAY) & (t < t[0] + (day + 1) * DAY)
        assert np.sqrt(np.mean(residual[that] ** 2)) < 7.0


def shaped(model: int, var_daily: float, var_weekly: float) -> SeasonalDetector:
    """A detector holding a day that steps up at 09:00 and down at 17:00 (-10 / +10) and a
    weekday correction of +3 from 09:00 on Tuesdays (too small against a residual sd of 2
    to read as an edge by itself), at a level of 100."""
    det = SeasonalDetector(n=1)
    det.day[:, 0] = -10.0
    det.day[36:68, 0] = 10.0  # quarter-hour bins: 09:00 to 17:00
    det.week[24 + 9 : 24 + 17, 0] = 3.0  # hourly bins from Monday 00:00: Tuesday 09-17
    det.level[:] = det.base[:] = 100.0
    det.var[:, 0] = (9.0, var_daily, var_weekly)
    det.count[:] = 10_000.0
    det.model[:] = model
    return det


def test_the_week_steps_where_the_day_steps_once_it_explains_something() -> None:
    """The week profile corrects the day per hour of the week, so at an hour where the day
    steps (a weekday-only 09:00 start) its correction steps too, however small it is
    against the residual sd: read as a ramp an hour wide, a young weekly model missed by
    half the correction on either side of each edge, and those misses taught the tails
    (``test_weekday_business_hours.py``). Only where the weekly model is in use or fits
    better than the daily one: on a series without a week, the day profile learns what the
    week profile leaves."""
    tuesday = 1_767_571_200.0 + DAY  # 2026-01-06, a Tuesday
    times = np.array([tuesday + 9 * 3600.0 - 600.0, tuesday + 9 * 3600.0 + 600.0])
    for det in (shaped(WEEKLY, 16.0, 4.0), shaped(DAILY, 16.0, 4.0)):
        weeks = [det._profiles(times[i : i + 1]).week_eff[0] for i in range(2)]
        assert weeks == [0.0, 3.0]
    weekly = shaped(WEEKLY, 16.0, 4.0)
    expected = [weekly.observe(times[i : i + 1], np.array([0.0])).expected[0] for i in range(2)]
    assert expected == [90.0, 113.0]
    # The daily model fitting better: the week's own bins decide, and 3 is no edge for an
    # sd of 2 (a ramp between the bin centres, 08:30 and 09:30).
    daily = shaped(DAILY, 4.0, 16.0)
    weeks = [daily._profiles(times[i : i + 1]).week_eff[0] for i in range(2)]
    assert weeks == pytest.approx([1.0, 2.0])


def test_the_week_steps_where_the_day_steps_between_its_hourly_bins() -> None:
    """Business hours from 09:30: the day steps at a week bin's centre, where hourly bins
    could only ramp over two hours (from the 08:00 bin's centre to the 10:00 bin's). The
    week reads the bin before the edge up to it and the one after from it."""
    det = shaped(WEEKLY, 16.0, 4.0)
    det.day[:, 0] = -10.0
    det.day[38:70, 0] = 10.0  # 09:30 to 17:30
    det.week[24 + 9, 0] = 1.5  # Tuesday 09:00-10:00: half of it on the plateau
    tuesday = 1_767_571_200.0 + DAY
    times = tuesday + 3600.0 * np.array([9.0, 9.4, 9.6, 10.0])
    weeks = [det._profiles(times[i : i + 1]).week_eff[0] for i in range(times.size)]
    assert weeks == [0.0, 0.0, 3.0, 3.0]


def test_a_missing_daytime_plateau_pages_from_its_first_point() -> None:
    """A day whose daytime plateau does not come (30 noise sds below the usual) is flagged
    from its first point, and the run holds. It was not flagged at all: the seasonal models
    predicted from the fast six-hour level, whose swings with the daily shape inflated the
    residuals; the seasonal row's tail was still the one learned while the wave was scored
    as flat; and the daily 09:00 edge, surprising in the first days, had made 09:00 a time
    of routine surprises."""
    t, x = square_day(10)
    day = T0 + 9 * DAY
    missing = (t >= day + 9 * 3600.0) & (t < day + 19 * 3600.0)
    x[missing] = 20.0 + np.random.default_rng(9).normal(0.0, 2.0, int(missing.sum()))
    ens = BatchEngine(1).series
    flagged = np.array([ens.step(t[i : i + 1], x[i : i + 1]).flagged[0] for i in range(t.size)])
    start = int(np.flatnonzero(missing)[0])
    assert flagged[start : start + 12].all(), flagged[start : start + 12]
    assert not flagged[(t > T0 + 2 * DAY) & ~missing].any()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_missing_plateau_pages_when_days_are_noisier_than_nights(seed: int) -> None:
    """The same on a series whose first day starts at midnight and whose business hours are
    noisier than its nights (75 with noise 5 from 09:00 to 18:00, 20 with noise 1.2 at
    night). It scored 0.88-0.90 and never paged: the seasonal tail, though shrunk at the
    switch to the daily model, kept the excesses of the first days' edges scored as flat
    (30 sigmas each), which held its shape at the heaviest for the whole ten days."""
    rng = np.random.default_rng(seed)
    t = T0 + STEP * np.arange(int(11 * DAY / STEP))
    hour = (t % DAY) / 3600.0
    business = (hour >= 9) & (hour < 18)
    x = np.where(business, 75.0 + rng.normal(0.0, 5.0, t.size), 20.0 + rng.normal(0, 1.2, t.size))
    day = T0 + 9 * DAY
    missing = (t >= day + 9 * 3600.0) & (t < day + 18 * 3600.0)
    x[missing] = 20.0 + rng.normal(0.0, 1.2, int(missing.sum()))
    ens = BatchEngine(1).series
    flagged = np.array([ens.step(t[i : i + 1], x[i : i + 1]).flagged[0] for i in range(t.size)])
    start = int(np.flatnonzero(missing)[0])
    assert flagged[start : start + 12].all(), flagged[start : start + 12]
    assert flagged[(t > T0 + 2 * DAY) & ~missing].sum() <= 1


def test_a_checkpoint_without_the_slow_level_resumes_from_the_fast_one() -> None:
    det, t, x = learned(3)
    state = det.__getstate__()
    del state["base"], state["base_memory"]
    old = SeasonalDetector.__new__(SeasonalDetector)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.base, det.level)
    assert old.base_memory == DAY
    old.learn(t[-1:] + STEP, x[-1:], np.array([True]))
    assert np.isfinite(old.observe(t[-1:] + 2 * STEP, x[-1:]).stat).all()


def test_day_bins_must_divide_into_hours() -> None:
    with pytest.raises(ValueError, match="day_bins must be a multiple of 24, got 30"):
        SeasonalDetector(n=1, day_bins=30)
