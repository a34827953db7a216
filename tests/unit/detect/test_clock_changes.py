"""Business hours in local time do not page when the clocks change for summer or back.

A service open 09:00-17:00 in Berlin is open 08:00-16:00 UTC in winter and 07:00-15:00 in
summer. Until 2026-12-06 (twenty-fifth session) the engine read every day in UTC: on the day
of each change and the next, every such series paged at both edges (twelve one-minute series
of a Berlin every-day shape: 92 pages in the two days of the spring change; weekday-only, 85
on the Monday and Tuesday after it; New York's autumn change, 95), and its profiles took
days more to learn the moved hour. ``Settings.timezone`` (``detection.timezone``,
``anomalert detect --timezone``) names the wall clock whose days and weeks the profiles and
routine memories follow (``detect.localtime``), and a series may follow a zone of its own
(``services.<name>.timezone``); UTC stays the default, and these tests check both.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.localtime import LocalTime
from anomalert.detect.reason import when
from anomalert.detect.registry import SERVICE_UNIVARIATE
from anomalert.detect.stream import RecordDetector, StreamDetector
from anomalert.model import Sample
from tests.support.checkpoints import restored_without
from tests.support.onsets import alert_onsets

SERIES = 6


def utc(*when: int) -> float:
    return datetime(*when, tzinfo=UTC).timestamp()


def busy(zone: str, t: np.ndarray, weekdays_only: bool = False) -> np.ndarray:
    """Whether each time is in business hours, 09:00 to 17:00 on the zone's wall clock (on
    weekdays only if asked)."""
    local = pd.to_datetime(t, unit="s", utc=True).tz_convert(zone)
    hours = (local.hour >= 9) & (local.hour < 17)
    return np.asarray(hours & (local.day_of_week < 5) if weekdays_only else hours)


def business_hours(
    zone: str, start: float, end: float, weekdays_only: bool = False, step: float = 60.0
) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of SERIES series: 100, plus 30 in business hours on the zone's wall
    clock (``busy``), noise 2."""
    t = np.arange(start, end, step)
    noise = np.random.default_rng(7).normal(0.0, 2.0, (t.size, SERIES))
    return t, (100.0 + 30.0 * busy(zone, t, weekdays_only))[:, None] + noise


def pages_from(t: np.ndarray, x: np.ndarray, since: float, zone: str) -> list[int]:
    """Which series page from ``since`` on, the engine following ``zone``."""
    ticks, which = alert_onsets(t, x, BatchEngine(SERIES, Settings(timezone=zone)))
    return sorted(set(which[t[ticks] >= since].tolist()))


def test_the_spring_change_does_not_page_an_every_day_shape() -> None:
    """Europe/Berlin moves to summer time on Sunday 2027-03-28 at 01:00 UTC: two weeks
    before it, the two days from it."""
    change = utc(2027, 3, 28, 1)
    t, x = business_hours("Europe/Berlin", utc(2027, 3, 14), utc(2027, 3, 30))
    assert pages_from(t, x, change, "Europe/Berlin") == []
    assert len(pages_from(t, x, change, "UTC")) >= SERIES - 1  # read in UTC: the old defect


def test_the_autumn_change_does_not_page_a_weekday_only_shape() -> None:
    """America/New_York goes back on Sunday 2027-11-07 at 06:00 UTC: four weeks before it
    from a Monday (the weekly model in use), the Monday and Tuesday after; two-minute
    points."""
    change = utc(2027, 11, 7, 6)
    t, x = business_hours(
        "America/New_York", utc(2027, 10, 11, 4), utc(2027, 11, 10), True, step=120.0
    )
    assert pages_from(t, x, change, "America/New_York") == []
    assert len(pages_from(t, x, change, "UTC")) >= SERIES - 1


def test_a_zone_set_later_moves_what_was_learned_with_the_clock() -> None:
    """Two winter weeks followed in UTC (Berlin's business hours at 08:00-16:00 UTC),
    then the zone is set (the service's config changed): the profiles turn by the hour
    between the clocks, and the next two days do not page. Left where they were, they
    would sit an hour off the new clock, and every series pages."""
    t, x = business_hours("Europe/Berlin", utc(2027, 1, 11), utc(2027, 1, 27))
    switch = int(np.searchsorted(t, utc(2027, 1, 25)))
    for move in (True, False):
        engine = BatchEngine(SERIES)
        alert_onsets(t[:switch], x[:switch], engine)
        if move:
            engine.use_timezone("Europe/Berlin")
        else:  # the clock alone, as if nothing had been learned on the old one
            engine.series.local_time.clocks[0] = LocalTime("Europe/Berlin")
        _, which = alert_onsets(t[switch:], x[switch:], engine)
        assert (len(set(which.tolist())) == 0) if move else (len(set(which.tolist())) >= 5)
    assert engine.settings.timezone == "UTC"  # only use_timezone changes the settings


def test_series_of_two_zones_in_one_engine_each_keep_their_clock() -> None:
    """Three series follow Berlin (the engine's default zone), three New York (their own):
    New York changes on 2027-03-14, Berlin on 2027-03-28, and neither change pages. With
    every series on Berlin's clock, the New York ones page at their change."""
    t = np.arange(utc(2027, 3, 1), utc(2027, 3, 30), 120.0)
    zones = ["Europe/Berlin"] * 3 + ["America/New_York"] * 3
    noise = np.random.default_rng(8).normal(0.0, 2.0, (t.size, SERIES))
    x = 100.0 + 30.0 * np.stack([busy(z, t) for z in zones], axis=1) + noise
    since = int(np.searchsorted(t, utc(2027, 3, 14)))
    for own in (True, False):
        engine = BatchEngine(SERIES, Settings(timezone="Europe/Berlin"))
        if own:
            engine.set_zones(np.arange(3, 6), ["America/New_York"] * 3)
        ticks, which = alert_onsets(t, x, engine)
        paged = sorted(set(which[ticks >= since].tolist()))
        assert paged == [] if own else set(paged) >= {3, 4, 5}, paged
    assert engine.series.clock_of(0).zone == "Europe/Berlin"


def test_a_reason_names_the_hour_on_the_wall_clock() -> None:
    """14:00 in Berlin on a summer Tuesday is 12:00 UTC."""
    noon = utc(2027, 6, 1, 12)
    assert when(noon, True, LocalTime("Europe/Berlin")) == " for Tue 14:00"
    assert when(noon, True) == " for Tue 12:00"
    assert when(noon, False, LocalTime("Europe/Berlin")) == ""


def test_a_services_own_zone_reaches_its_series_and_its_records() -> None:
    """The live face: ``zones`` (``services.<name>.timezone``) puts a service's series and
    its aggregate records' group on its clock from their first point; ``use_timezone``
    (a restart with another config) moves the ones known so far."""
    t0 = utc(2027, 1, 4)
    series = StreamDetector(
        Settings(univariate=SERVICE_UNIVARIATE, timezone="Europe/Berlin"),
        zones={"shop-us": "America/New_York"},
    )
    records = RecordDetector(
        ("a", "b"), Settings(timezone="Europe/Berlin"), zones={"shop-us": "America/New_York"}
    )
    for service in ("shop-eu", "shop-us"):
        series.score([Sample("latency", {"service": service}, t0, 1.0)])
        records.score([(service, t0, (1.0, 2.0))])
    clocks = [series.engine.series.clock_of(j).zone for j in range(2)]
    assert clocks == ["Europe/Berlin", "America/New_York"]
    assert [records.ensemble.clock_of(j).zone for j in range(2)] == clocks
    series.use_timezone("UTC", {"shop-eu": "Asia/Tokyo"})
    records.use_timezone("UTC", {"shop-eu": "Asia/Tokyo"})
    clocks = [series.engine.series.clock_of(j).zone for j in range(2)]
    assert clocks == ["Asia/Tokyo", "UTC"]
    assert [records.ensemble.clock_of(j).zone for j in range(2)] == clocks


def test_a_checkpoint_from_before_time_zones_resumes_in_utc() -> None:
    """An engine pickled before this session knows no clocks: it resumes on UTC's, as it
    ran, with every series on the default zone, and scores on."""
    engine = BatchEngine(2)
    for k in range(50):
        engine.step(np.full(2, utc(2027, 1, 4) + 300.0 * k), np.array([1.0, 2.0]))
    seasonal = engine.series.seasonal
    assert seasonal is not None
    del seasonal.local_time  # as the seasonal detector was pickled then
    old = restored_without(engine.series, "local_time", "zone")
    assert old.local_time.default.is_utc and old.zone.tolist() == [0, 0]
    assert old.seasonal is not None and old.seasonal.local_time is old.local_time
    old.step(np.full(2, utc(2027, 1, 4) + 300.0 * 50), np.array([1.0, 2.0]))
