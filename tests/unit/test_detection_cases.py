"""Synthetic detection cases through the default engine (precision-first product defaults).

Every case is one series of three weeks at one-minute resolution, seeded, and all of them run
together through one ``BatchEngine`` (one series per column, each with its own clock), so the
whole file costs one pass of about 30,000 ticks. The noise-calibration series share that pass.

Time starts on Monday 2024-01-01 00:00 UTC; week 3 (days 14-20) is where the incidents are,
after two clean weeks in which the daily and weekly shapes have been learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.series import SeriesDetector
from anomalert.model import Kind

T0 = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
MIN = 60.0
HOUR = 3600.0
DAY = 86_400.0
PER_DAY = 1440
PER_WEEK = 7 * PER_DAY
ROWS = 3 * PER_WEEK
WEEK3 = 2 * PER_WEEK  # row where week 3 starts
SD = 2.0  # noise of the seasonal cases
NOISE_POINTS = 25_000  # per noise series; 4 series = 100,000 points per distribution

T = T0 + MIN * np.arange(ROWS)


def row(day: int, hour: float) -> int:
    """Row of a time in week 3 (day 0 = Monday of week 3)."""
    return WEEK3 + day * PER_DAY + int(hour * 60)


def business_shape(
    t: np.ndarray, amp: float = 30.0, start: float = 7.0, width: float = 13.0
) -> np.ndarray:
    """100 plus a smooth business-hours bump (07:00-20:00), 40 % of it on weekends."""
    hod = ((t - T0) % DAY) / HOUR
    dow = ((t - T0) // DAY) % 7
    inside = (hod >= start) & (hod < start + width)
    bump = np.where(inside, np.sin(np.pi * (hod - start) / width), 0.0)
    return 100.0 + amp * bump * np.where(dow >= 5, 0.4, 1.0)


def plateau_shape(t: np.ndarray) -> np.ndarray:
    """100, plus 30 from 09:00 to 17:00 on weekdays (sharp edges)."""
    hod = ((t - T0) % DAY) / HOUR
    dow = ((t - T0) // DAY) % 7
    return 100.0 + 30.0 * ((hod >= 9) & (hod < 17) & (dow < 5))


def noise(seed: int, size: int = ROWS, scale: float = SD) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, size)


def smooth_daily(t: np.ndarray) -> np.ndarray:
    """A smooth daily curve: 100 plus 10 times a sine over the day."""
    return 100.0 + 10.0 * np.sin(2 * np.pi * (t - T0) / DAY)


SPIKE = row(2, 11.3)
DROP = row(3, 15.05)
SHIFT = row(2, 10.0)
TREND = row(1, 3.0)
BROKEN = (row(2, 7.0), row(2, 20.0))
CONST_CHANGE = row(2, 0.0)
GAPS = (1, 6, 24)
EARLY_GAP = 5 * PER_DAY + 10 * 60  # Saturday of week 1, 10:00: the daily shape is known


@dataclass(frozen=True)
class Case:
    t: np.ndarray
    x: np.ndarray


def build_cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}

    def add(name: str, x: np.ndarray, t: np.ndarray = T) -> None:
        cases[name] = Case(t, x)

    x = business_shape(T) + noise(1)
    x[SPIKE] += 15 * SD
    add("spike", x)

    x = business_shape(T) + noise(2)
    x[DROP] -= 15 * SD
    add("drop", x)

    for name, sign in (("shift_up", 1.0), ("shift_down", -1.0)):
        x = business_shape(T) + noise(3 if sign > 0 else 4)
        x[SHIFT:] += sign * 8 * SD
        add(name, x)

    # A leak: flat, then climbing 0.1 sigma per minute (6 sigma an hour).
    x = 100.0 + noise(5)
    x[TREND:] += 0.1 * SD * np.arange(ROWS - TREND)
    add("trend", x)

    # Broken seasonality: on Wednesday of week 3 the daily peak does not come.
    x = business_shape(T) + noise(6)
    x[BROKEN[0] : BROKEN[1]] = 100.0 + noise(7, BROKEN[1] - BROKEN[0])
    add("broken_smooth", x)

    for k in range(3):
        add(f"clean_smooth{k}", business_shape(T, amp=20.0 + 10 * k) + noise(10 + k))
    add("clean_plateau", plateau_shape(T) + noise(13))

    for k in range(4):
        add(f"gauss{k}", 50.0 + noise(20 + k, scale=1.0))
        add(f"t5_{k}", 50.0 + np.random.default_rng(30 + k).standard_t(5, ROWS))

    x = np.full(ROWS, 100.0)
    x[CONST_CHANGE:] = 110.0
    add("constant", x)

    # Irregular sampling: 20 s to 5 min between samples, a smooth daily curve.
    rng = np.random.default_rng(40)
    ti = T0 + np.cumsum(rng.uniform(20.0, 300.0, ROWS))
    add("irregular", smooth_daily(ti) + rng.normal(0.0, 0.3, ROWS), ti)

    for hours in GAPS:
        for name, at in ((f"gap{hours}h", WEEK3), (f"early_gap{hours}h", EARLY_GAP)):
            tg = T.copy()
            tg[at:] += hours * HOUR
            add(name, smooth_daily(tg) + noise(50 + hours + at, scale=0.3), tg)
    return cases


@dataclass(frozen=True)
class Result:
    t: np.ndarray
    flagged: np.ndarray
    score: np.ndarray
    kind: np.ndarray


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    cases = build_cases()
    names = list(cases)
    t = np.column_stack([cases[k].t for k in names])
    x = np.column_stack([cases[k].x for k in names])
    engine = BatchEngine(len(names))
    flagged = np.zeros(x.shape, dtype=bool)
    score = np.zeros(x.shape)
    kind = np.zeros(x.shape, dtype=np.int8)
    for k in range(ROWS):
        step = engine.step(t[k], x[k]).series
        flagged[k] = step.flagged
        score[k] = step.score
        kind[k] = step.kind
    return {
        name: Result(t[:, j], flagged[:, j], score[:, j], kind[:, j])
        for j, name in enumerate(names)
    }


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of consecutive flagged rows, as (first, last)."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[idx[0]], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], [idx[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def week3_runs(r: Result) -> list[tuple[int, int]]:
    """Flagged runs in week 3, after the two weeks in which the weekly shape is learned."""
    return [(WEEK3 + a, WEEK3 + b) for a, b in runs(r.flagged[WEEK3:])]


# ------------------------------------------------------------------------ spikes and drops
def test_spike_is_flagged_as_spike(results: dict[str, Result]) -> None:
    r = results["spike"]
    assert r.flagged[SPIKE]
    assert Kind(int(r.kind[SPIKE])) is Kind.SPIKE
    assert r.score[SPIKE] >= Settings().threshold
    # One point, one flag: the spike does not poison the baseline around it (week 3, once
    # the weekly shape is known).
    assert week3_runs(r) == [(SPIKE, SPIKE)]


def test_drop_is_flagged_as_drop(results: dict[str, Result]) -> None:
    r = results["drop"]
    assert r.flagged[DROP]
    assert Kind(int(r.kind[DROP])) is Kind.DROP
    assert week3_runs(r) == [(DROP, DROP)]


def test_series_detector_spike_and_drop_one_point_at_a_time() -> None:
    """The per-series face: learn_one/score_one on a short seeded series (five-minute
    points, so that it is past its first day, when it may not alert yet)."""
    rng = np.random.default_rng(60)
    det = SeriesDetector()
    step = 5 * MIN
    steps = [det.learn_one(50.0 + rng.normal(0.0, 1.0), t=step * i) for i in range(600)]
    assert not any(bool(s.flagged[0]) for s in steps)
    t_next = step * 600
    assert det.score_one(50.5, t=t_next) < 0.9
    assert det.score_one(70.0, t=t_next) >= det.ensemble.threshold
    assert det.is_anomaly(70.0, t=t_next)
    assert not det.is_anomaly(float("nan"), t=t_next)
    assert det.score_one(float("nan"), t=t_next) == 0.0
    up = det.learn_one(70.0, t=t_next)
    assert up.flagged[0]
    assert Kind(int(up.kind[0])) is Kind.SPIKE
    down = det.learn_one(30.0, t=t_next + step)
    assert down.flagged[0]
    assert Kind(int(down.kind[0])) is Kind.DROP


# ------------------------------------------------------------------------ level shift
@pytest.mark.parametrize("name", ["shift_up", "shift_down"])
def test_level_shift_is_detected_then_accepted(results: dict[str, Result], name: str) -> None:
    r = results[name]
    found = week3_runs(r)
    assert all(start >= SHIFT for start, _ in found), f"flag before the shift: {found}"
    assert found, "level shift not detected"
    first, end = found[0]
    assert first - SHIFT <= 15, f"detected {first - SHIFT} minutes late"
    # Accepted as the new normal: at most two more runs over the following day, and none
    # in its second half.
    later = [s for s, _ in found[1:] if s <= SHIFT + PER_DAY]
    assert len(later) <= 2, found
    assert not r.flagged[SHIFT + PER_DAY // 2 :].any()
    assert end - first < 120


# ------------------------------------------------------------------------ trend
def test_trend_change_is_detected(results: dict[str, Result]) -> None:
    r = results["trend"]
    assert all(start >= TREND for start, _ in week3_runs(r))
    assert r.flagged[TREND : TREND + 3 * 60].any(), "leak not detected within 3 hours"


# ------------------------------------------------------------------------ seasonality
#: The sharp-edged case, a weekday-only business day that does not come, is in
#: ``detect/test_weekday_business_hours.py``, over 12 series: one series of it here (week 3,
#: scored 0.922 until 2026-12-06) paged by its seed's luck, as 9 of 36 did in week 3.
#: The smooth peak's gap opens over hours. Its expectation lags by a third (the week profile
#: learns a third of a visit within the hour) and the residual sd doubles in four hours; the
#: seasonal tail, young under the weekly model, learns the gap's unflagged minutes, and the
#: gap never paged. Since 2026-12-04 the level-shift detector's tail learns a point only
#: after a few calm ticks (``ensemble.PROBATION``), so the gap's first minutes cannot teach
#: it that the gap is normal, and it pages the gap as a downward shift off the weekly model.


def test_broken_seasonality_smooth_peak_is_detected(results: dict[str, Result]) -> None:
    r = results["broken_smooth"]
    start, end = BROKEN
    assert all(s >= start for s, _ in week3_runs(r)), week3_runs(r)
    assert r.flagged[start:end].any(), "missing daily peak not detected"


def test_broken_seasonality_smooth_peak_is_detected_once_the_week_is_learned() -> None:
    """The same missing smooth peak on a series whose weekly model is weeks old pages within
    hours, as a drop or a downward shift off the weekly model (three seeds side by side,
    first flagged 27-92 minutes into the gap; 31-76 with three other seeds; 66-92 and
    76-109, all drops, before the level-shift tail's probation of 2026-12-04)."""
    weeks, seeds = 5, (0, 1, 2)
    start = (weeks * PER_WEEK) + 2 * PER_DAY + 7 * 60  # Wednesday of week 6, 07:00
    end = start + 13 * 60
    t = T0 + 60.0 * np.arange(end)
    x = np.stack([business_shape(t) + noise(100 + s, end) for s in seeds], axis=1)
    for k, s in enumerate(seeds):
        x[start:end, k] = 100.0 + noise(200 + s, end - start)
    ens = BatchEngine(len(seeds)).series
    flagged = np.zeros((end, len(seeds)), dtype=bool)
    kind = np.zeros((end, len(seeds)), dtype=np.int8)
    below = np.zeros((end, len(seeds)), dtype=bool)
    for i in range(end):
        step = ens.step(np.full(len(seeds), t[i]), x[i])
        flagged[i], kind[i], below[i] = step.flagged, step.kind, x[i] < step.expected
    assert not flagged[start - PER_WEEK : start].any(), "the week before the gap paged"
    for k in range(len(seeds)):
        hits = np.flatnonzero(flagged[start:end, k])
        assert hits.size, f"seed {seeds[k]}: missing daily peak not detected"
        assert hits[0] <= 150, f"seed {seeds[k]}: first flagged {hits[0]} minutes into the gap"
        assert Kind(int(kind[start + hits[0], k])) in (Kind.DROP, Kind.LEVEL_SHIFT)
        assert below[start + hits[0], k], "the reason must say the value is below the usual"


@pytest.mark.parametrize(
    "name", ["clean_smooth0", "clean_smooth1", "clean_smooth2", "clean_plateau"]
)
def test_clean_weekly_seasonal_series_does_not_page(results: dict[str, Result], name: str) -> None:
    after = week3_runs(results[name])
    assert len(after) <= 1, after


# ------------------------------------------------------------------------ calibration
@pytest.mark.parametrize("family", ["gauss", "t5_"])
def test_noise_calibration(results: dict[str, Result], family: str) -> None:
    """At the default threshold, pure noise flags at most 10 points in 100,000."""
    flagged = sum(int(results[f"{family}{k}"].flagged[:NOISE_POINTS].sum()) for k in range(4))
    assert flagged <= 10, f"{flagged} flagged points in 100,000 of {family} noise"
    for k in range(4):
        score = results[f"{family}{k}"].score
        assert np.all((score >= 0.0) & (score <= 1.0))
        # a score of 0.5 stands for p ~ 0.06: common, so the median is well below it
        assert np.median(score[1000:]) < 0.5


# ------------------------------------------------------------------------ input hygiene
def test_constant_series_alerts_only_when_it_changes(results: dict[str, Result]) -> None:
    r = results["constant"]
    assert not r.flagged[:CONST_CHANGE].any()
    assert (r.score[:CONST_CHANGE] < 0.5).all()
    assert r.flagged[CONST_CHANGE], "a 10 % change of a constant series must alert"
    assert Kind(int(r.kind[CONST_CHANGE])) is Kind.SPIKE
    # the new constant is accepted within the day
    assert not r.flagged[CONST_CHANGE + PER_DAY // 2 :].any()


def test_irregular_sampling_does_not_alert_in_the_first_two_weeks(
    results: dict[str, Result],
) -> None:
    r = results["irregular"]
    early = r.t < T0 + 14 * DAY
    assert not r.flagged[early].any(), runs(r.flagged & early)


@pytest.mark.parametrize("hours", [1, 6, 24])
def test_long_gap_once_the_daily_shape_is_known_does_not_alert(
    results: dict[str, Result], hours: int
) -> None:
    """A gap on day 5 (daily shape known, weekly not yet eligible): quiet to week 3."""
    r = results[f"early_gap{hours}h"]
    early = r.t < T0 + 14 * DAY
    assert not r.flagged[early].any(), runs(r.flagged & early)


def test_irregular_sampling_does_not_alert(results: dict[str, Result]) -> None:
    r = results["irregular"]
    assert not r.flagged.any(), runs(r.flagged)


@pytest.mark.parametrize("hours", GAPS)
def test_long_gap_does_not_alert(results: dict[str, Result], hours: int) -> None:
    r = results[f"gap{hours}h"]
    assert not r.flagged.any(), runs(r.flagged)
