"""A weekday-only business-hours series does not page on its weekends once it knows them.

Monday to Friday 80 from 09:00 to 18:00, 20 otherwise and all weekend (noise 2), one-minute
points from a Monday. Until 2026-12-05 (twelfth session) every Saturday at 18:00 paged from
the sixth week on (6, 19 and 20 of 20 series in weeks 6, 7 and 8): under the weekly model
the day profile's 18:00 edge was judged against the daily model's residual sd, which holds
every weekend's miss, so it read as a ramp; the week profile's Saturday edge, stepped, no
longer cancelled it, and the weekly model expected about 44 at 18:00 on a Saturday
(``seasonal._at``).

At two-minute points the weekends paged on (known bug until 2026-12-05, fifteenth session).
The first Saturday morning is an anomaly (flagged, so not learned); after ``accept_after``
points the lower level is accepted as the new normal and the seasonal detector's slow level
restarts and takes the rest of the weekend in, so the week profile learns a Saturday
slowly (an hour of the week is seen once a week, its lessons clipped at a few sds). Every
Saturday at 09:00 paged: 13-15 of 20 series in weeks 2-8 at two-minute points, 2-4 at five
minutes. Learning an accepted run after the fact (``SeasonalDetector.learn_run``,
fourteenth session) fixed five minutes and left 12, 14 and 12 of 20 on the second to fourth
Saturdays at two minutes, then one a week. Since the fifteenth session a time of the week
where the series deviated a week earlier until the deviation was accepted (or blipped on two
of the four earlier weeks) is routine (``routine.WeeklyRoutine``): at two minutes two of 20
series page once, on the third Saturday, and none of the six here.

At ten seconds the weekends paged on: over seven weeks and six series 21 pages instead of 35
when the weekly memory landed (27, then 26 on 2026-12-06), all six series on the third
Saturday at 09:00 (the first under the weekly model, whose week profile holds about -29
there where -43 is needed), and some Saturdays, Sundays and evenings after
(``docs/measurements.md``, "Fifteenth session", "Sixteenth session"). The tails remembered
20,000 points, which at ten seconds are 2.3 days: each weekend's misfits were forgotten by
the next. Since the twenty-third session they remember at least two weeks, and no weekend
pages (``test_ten_second_weekends_do_not_page``).
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine
from tests.support.onsets import alert_onsets

MONDAY = 1_767_571_200.0  # 2026-01-05 00:00 UTC
DAY = 86_400.0
SERIES = 6


def weekend_pages(
    step: float, days: int, hours: tuple[float, float] = (9.0, 18.0)
) -> list[tuple[int, float]]:
    """(day, hour) of every alert from the second week on (the weekly model in use)."""
    t = MONDAY + step * np.arange(int(days * DAY / step))
    hour = (t % DAY) / 3600.0
    weekday = ((t - MONDAY) // DAY % 7) < 5
    busy = weekday & (hour >= hours[0]) & (hour < hours[1])
    x = np.where(busy, 80.0, 20.0)[:, None] + np.random.default_rng(0).normal(
        0.0, 2.0, (t.size, SERIES)
    )
    engine = BatchEngine(SERIES)
    ticks, _ = alert_onsets(t, x, engine)
    assert engine.series.seasonal is not None
    assert (engine.series.seasonal.model == 2).all(), "the weekly model is in use"
    pages = [(int((t[k] - MONDAY) // DAY), round(hour[k], 2)) for k in ticks]
    return [p for p in pages if p[0] >= 7]


def test_weekends_of_weeks_two_to_eight_do_not_page() -> None:
    assert weekend_pages(60.0, 56) == []


def test_five_minute_weekends_page_only_the_first_time() -> None:
    """Before accepted runs were learned, two to four of 20 series paged every Saturday at
    09:00 from the third week (here: one of six, on days 19, 26, 33, 40, 47 and 54)."""
    assert weekend_pages(300.0, 56) == []


def test_two_minute_weekends_do_not_page() -> None:
    """Before the weekly memory, four of the six series paged on the second Saturday at
    09:00, four on the third, two on the fourth."""
    assert weekend_pages(120.0, 35) == []


def test_ten_second_weekends_do_not_page() -> None:
    """Until 2026-12-06 (twenty-third session) six series paged 26 times in seven weeks,
    8 of them in these four (all six on the third Saturday at 09:00): the tails remembered
    20,000 points, 2.3 days at ten seconds, so each weekend's misfits were forgotten by the
    next. They remember two weeks now (``ensemble.TAIL_MIN_SPAN``, ``test_tail_memory.py``)."""
    assert weekend_pages(10.0, 28) == []


#: Business hours, in minutes of the day.
NINE_TO_FIVE = (9 * 60, 17 * 60)
HALF_PAST = (9 * 60 + 30, 17 * 60 + 30)


def weekday_only(
    minutes: int, series: int, hours: tuple[int, int] = NINE_TO_FIVE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, business hours and noise of ``series`` weekday-only series (one-minute points
    from a Monday): 100 at night and at weekends, plus 30 in business hours on weekdays
    (``busy``), noise 2."""
    t = MONDAY + 60.0 * np.arange(minutes)
    minute = np.arange(minutes) % 1440
    weekday = (np.arange(minutes) // 1440) % 7 < 5
    busy = weekday & (minute >= hours[0]) & (minute < hours[1])
    return t, busy, np.random.default_rng(1000).normal(0.0, 2.0, (minutes, series))


def test_half_past_weekends_do_not_page() -> None:
    """Business hours from 09:30 to 18:30, ten-second points: until 2026-12-06
    (twenty-fourth session) all six series paged at 09:30 on the third Saturday and Sunday
    (12 pages; at one minute, 7 in eight weeks, 1 now): the week profile's hourly bins
    ramped over two hours around a 09:30 edge, and the weekend's missed it by up to half.
    It steps where the day steps now (``seasonal._at``)."""
    assert weekend_pages(10.0, 21, hours=(9.5, 18.5)) == []


def paged_after(t: np.ndarray, x: np.ndarray, start: int, minutes: int) -> np.ndarray:
    """Which series (columns of x) page within ``minutes`` of point ``start``, checking
    that none paged before it from week 2 on."""
    ticks, which = alert_onsets(t, x, BatchEngine(x.shape[1]))
    assert not ((ticks >= 7 * 1440) & (ticks < start)).any(), "calm before, from week 2 on"
    return np.isin(np.arange(x.shape[1]), which[(ticks >= start) & (ticks <= start + minutes)])


def missing_business_day(
    week: int, series: int = 12, hours: tuple[int, int] = NINE_TO_FIVE
) -> np.ndarray:
    """Which of ``series`` weekday-only series page within 30 minutes of opening time on
    the Wednesday of week ``week`` (counted from 1), when that day's business hours do not
    come: 100 at night and at weekends, plus 30 in business hours on weekdays, noise 2
    (one-minute points), the plateau missing (a 15σ drop) from opening time on that day."""
    wednesday = ((week - 1) * 7 + 2) * 1440
    start, end = wednesday + hours[0], wednesday + hours[1]
    t, busy, noise = weekday_only(end, series, hours)
    busy[start:] = False
    x = (100.0 + 30.0 * busy)[:, None] + noise
    return paged_after(t, x, start, 30)


def test_a_missing_business_day_pages_once_the_week_is_learned() -> None:
    """In the sixth week every series pages at 09:00. Until 2026-12-06 (twenty-third
    session) an accepted run that began at an edge of the day's shape (the first Saturday's
    missing plateau) warm-restarted the seasonal detector's slow level, which took each
    first weekend in, so the week profile learned little of them for weeks. Over three sets
    of 12 series (this one and two others) the missing day paged on 3, 7 and 28 of 36 in the
    fourth, fifth and sixth week (11 of these 12 in the sixth); restarted where the run sat,
    as any accepted run (``Ensemble._restart_levels``), on 5, 35 and 36 of 36."""
    assert missing_business_day(6).all()


@pytest.mark.xfail(
    strict=True,
    reason="a weekday-only series' third week: its weekly model fits badly yet (residual "
    "sd about 3.8 for noise 2), the missing business day's first minute reads p 0.5-1e-4, "
    "and the daily routine memory of the first weekend's 09:00 drops discounts it past the "
    "threshold (0.86-0.90)",
)
def test_a_missing_business_day_pages_in_the_third_week() -> None:
    """Known defect: in the third week (the weekly model taken two days earlier) the
    missing day pages on 0 of 36 series (9 of 36 before the twenty-third session, among
    them the single series ``test_detection_cases.py`` had for this case, at 0.922).

    Traced in the twenty-fourth session: on 8 of these 12 series the first minute is a
    would-be alert (p 0.5-1e-4: the seasonal row 7.8σ against a weekly residual sd of 3.8,
    inflated by the Monday after a weekend the young week profile missed; the rolling row
    13σ at its tail's shape cap), and the daily routine memory discounts it 2.4-2.7 times,
    past the threshold: its 09:00 half hour still holds the first weekend's missing
    plateaus, capped at the switch to the weekly model and decayed for ten days. Cleared
    at that switch instead, the missing day pages on 20 of 36 series, but ten-second
    weekday-only weekends page again (7 on the third weekend) and SMD loses one point of
    event precision (``docs/measurements.md``, "Twenty-fourth session")."""
    assert missing_business_day(3).sum() >= 9


def test_a_missing_business_day_pages_in_the_fourth_week() -> None:
    """Until 2026-12-06 (twenty-fourth session) the week profile's 09:00 and 17:00 steps
    were judged against a residual sd its own ramps inflated, and read as ramps an hour
    wide (``seasonal._at``): the missing day paged on 1 of these 12 series in the fourth
    week (7 of 36 over three other sets of 12), on 10 now (32 of 36)."""
    assert missing_business_day(4).sum() >= 8


def level_shift_onsets(
    week: int, series: int = 12, hours: tuple[int, int] = NINE_TO_FIVE
) -> np.ndarray:
    """Which of ``series`` weekday-only series page within an hour of a lasting +16 (8σ)
    from 11:00 on the Wednesday of week ``week``, and nothing before it from week 2 on."""
    shift = ((week - 1) * 7 + 2) * 1440 + 11 * 60
    end = shift + 6 * 60
    t, busy, noise = weekday_only(end, series, hours)
    x = (100.0 + 30.0 * busy)[:, None] + noise
    x[shift:] += 16.0
    return paged_after(t, x, shift, 60)


def test_a_lasting_level_shift_pages_in_the_sixth_week() -> None:
    """The same shift on an every-day plateau pages on every series. Until 2026-12-06
    (twenty-fourth session), with the week profile's edges read as ramps, on 7 of these
    12 in the sixth week (16 of 24 over two other sets), on 12 now (23 of 24). In the third
    week it pages on none, either way (the weekly model two days old)."""
    assert level_shift_onsets(6).sum() >= 11


def test_half_past_business_hours_are_learned_too() -> None:
    """Business hours from 09:30 to 17:30: the day steps at an hourly week bin's centre,
    where the week profile could only ramp over two hours until 2026-12-06 (twenty-fourth
    session). In the sixth week the missing day paged on 4 of these 12 series and the
    shift on none; both page on all 12 now, and nothing else pages from week 2 on."""
    assert missing_business_day(6, hours=HALF_PAST).sum() >= 11
    assert level_shift_onsets(6, hours=HALF_PAST).sum() >= 11
