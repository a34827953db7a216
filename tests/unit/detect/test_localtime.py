"""The wall clock of a time zone (``detect.localtime``): offsets as the zone database has
them, at every instant, whatever order and mix of times a tick brings."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from anomalert.detect.engine import Settings
from anomalert.detect.localtime import MAX_ZONES, Clocks, LocalTime, check_zone

#: Summer time both hemispheres, a half-hour change (Lord Howe), a zone without changes
#: now (Kolkata), one that stopped changing (Sao Paulo, 2019) and one that skipped a day.
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Apia",
)


def truth(zone: str, t: np.ndarray) -> np.ndarray:
    tz = ZoneInfo(zone)
    return np.array(
        [datetime.fromtimestamp(s, UTC).astimezone(tz).utcoffset().total_seconds() for s in t]
    )


@pytest.mark.parametrize("zone", ZONES)
def test_offsets_are_the_zone_databases_at_every_instant(zone: str) -> None:
    rng = np.random.default_rng(0)
    scattered = rng.uniform(1.2e9, 2.1e9, 2000)  # 2008-2036, one tick of mixed times
    clock = LocalTime(zone)
    np.testing.assert_array_equal(clock.wall(scattered) - scattered, truth(zone, scattered))
    # A series' points in time order, one tick each, as the engine asks: every change met.
    ordered = np.arange(1.7e9, 1.9e9, 7_919.3)
    clock = LocalTime(zone)
    walls = np.array([clock.wall(np.array([s]))[0] for s in ordered])
    np.testing.assert_array_equal(walls - ordered, truth(zone, ordered))


def test_the_change_falls_on_its_second() -> None:
    """Europe/Berlin went to summer time at 2027-03-28 01:00 UTC."""
    change = datetime(2027, 3, 28, 1, tzinfo=UTC).timestamp()
    clock = LocalTime("Europe/Berlin")
    t = np.array([change - 1.0, change - 0.25, change, change + 0.5])
    assert (clock.wall(t) - t).tolist() == [3600.0, 3600.0, 7200.0, 7200.0]
    assert clock.offset(change - 1e-3) == 3600.0 and clock.offset(change) == 7200.0


def test_utc_costs_nothing_and_missing_times_stay_missing() -> None:
    t = np.array([1.8e9, np.nan, np.inf])
    assert LocalTime().wall(t) is t and LocalTime("UTC").is_utc
    walls = LocalTime("Asia/Kolkata").wall(t)
    assert walls[0] == 1.8e9 + 19_800.0 and np.isnan(walls[1]) and walls[2] == np.inf
    assert np.isnan(LocalTime("Europe/Berlin").wall(np.array([np.nan, np.nan]))).all()
    assert LocalTime("Europe/Berlin").wall(np.zeros(0)).size == 0


def test_times_beyond_the_calendar_do_not_break_it() -> None:
    walls = LocalTime("Europe/Berlin").wall(np.array([-1e15, 0.0, 1e15]))
    assert np.isfinite(walls).all() and walls[1] == 3600.0


def test_unknown_zones_are_refused_by_name() -> None:
    for bad in ("Mars/Olympus_Mons", "", "../etc/passwd", "Europe/"):
        with pytest.raises(ValueError, match="unknown time zone"):
            check_zone(bad)
        with pytest.raises(ValueError, match="unknown time zone"):
            Settings(timezone=bad)
    assert Settings(timezone="Europe/Berlin").timezone == "Europe/Berlin"


def test_a_pickled_clock_keeps_its_zone_only() -> None:
    clock = LocalTime("America/New_York")
    clock.wall(np.array([1.8e9]))
    back = pickle.loads(pickle.dumps(clock))
    assert back == clock and back.__getstate__() == {"zone": "America/New_York"}
    assert back.offset(1.8e9) == clock.offset(1.8e9) == -18_000.0  # January: EST


def test_clocks_give_each_series_its_zones_time() -> None:
    """``Clocks``: code 0 is the default zone; a zone named explicitly gets a code of its
    own, once, even when it is also the default's; a tick mixing zones converts each."""
    clocks = Clocks("Europe/Berlin")
    assert clocks.code(None) == 0 and clocks.default == LocalTime("Europe/Berlin")
    tokyo, berlin = clocks.code("Asia/Tokyo"), clocks.code("Europe/Berlin")
    assert (tokyo, berlin, clocks.code("Asia/Tokyo")) == (1, 2, 1)
    t = np.full(4, 1.8e9)  # 2027-01-15: Berlin +1 h, Tokyo +9 h
    codes = np.array([0, tokyo, berlin, tokyo], dtype=np.int8)
    assert (clocks.wall(t, codes) - t).tolist() == [3600.0, 32400.0, 3600.0, 32400.0]
    assert (clocks.wall(t, np.full(4, tokyo, dtype=np.int8)) - t).tolist() == [32400.0] * 4
    assert (clocks.wall(t) - t).tolist() == [3600.0] * 4
    with pytest.raises(ValueError, match="unknown time zone"):
        clocks.code("Asia/Atlantis")
    many = Clocks()
    names = sorted(zoneinfo_names())[: MAX_ZONES + 1]
    for name in names[:MAX_ZONES]:
        many.code(name)
    with pytest.raises(ValueError, match="time zones in one engine"):
        many.code(names[MAX_ZONES])


def zoneinfo_names() -> set[str]:
    from zoneinfo import available_timezones

    return {z for z in available_timezones() if "/" in z}
