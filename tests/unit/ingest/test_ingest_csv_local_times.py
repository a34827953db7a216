"""CSV timestamps without a UTC offset are the wall clock of the zone ``anomalert detect
--timezone`` names (UTC unless named): an export in local time keeps 09:00 at 09:00 when
the clocks change, and the hour that repeats when they go back reads in order."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from anomalert.ingest.csvfile import parse_timestamps, read_table


def utc_hours(seconds: object) -> list[str]:
    return [datetime.fromtimestamp(float(s), UTC).strftime("%d %H:%M") for s in seconds]


def test_naive_times_are_the_named_zones_wall_clock() -> None:
    """Berlin goes back at 03:00 local (01:00 UTC) on 2027-10-31 and forward at 02:00
    local on 2027-03-28; times with an offset, and epoch seconds, are moments as before."""
    autumn = pd.Series(
        ["2027-10-31 01:30:00", "2027-10-31 02:30", "2027-10-31 02:30", "2027-10-31 03:00"]
    )
    got = parse_timestamps(autumn, Path("x.csv"), "Europe/Berlin")
    assert utc_hours(got) == ["30 23:30", "31 00:30", "31 01:30", "31 02:00"]
    spring = pd.Series(["2027-03-28 01:30:00", "2027-03-28 02:30:00", "2027-03-28 03:30:00"])
    got = parse_timestamps(spring, Path("x.csv"), "Europe/Berlin")
    assert utc_hours(got) == ["28 00:30", "28 01:00", "28 01:30"]  # 02:30 does not exist
    mixed = pd.Series(["2027-06-01T12:00:00Z", "2027-06-01 14:00:00+02:00", "2027-06-01 14:00"])
    assert utc_hours(parse_timestamps(mixed, Path("x.csv"), "Europe/Berlin")) == ["01 12:00"] * 3
    assert utc_hours(parse_timestamps(mixed, Path("x.csv"))) == ["01 12:00"] * 2 + ["01 14:00"]
    assert parse_timestamps(pd.Series([1.8e9]), Path("x.csv"), "Asia/Tokyo").tolist() == [1.8e9]


def test_the_repeated_hour_reads_in_order_on_the_zones_clock(tmp_path: Path) -> None:
    """Five-minute rows of a local-time export across Berlin's autumn change: read as
    Berlin's wall clock none is late; read as UTC, the repeated hour's second pass is (11
    rows late, and its last a duplicate of the first pass's)."""
    moments = pd.date_range("2027-10-30 12:00", "2027-10-31 12:00", freq="5min", tz="UTC")
    stamps = moments.tz_convert("Europe/Berlin").strftime("%Y-%m-%d %H:%M:%S")
    path = tmp_path / "local.csv"
    path.write_text("timestamp,value\n" + "".join(f"{s},1.0\n" for s in stamps))
    table = read_table(path, "Europe/Berlin")
    assert table.late.sum() == 0
    assert table.t.tolist() == [m.timestamp() for m in moments]
    assert read_table(path).late.sum() == 11
