"""Timestamp parsing shared by every ingest format, and the live time window."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from anomalert.ingest.timecheck import TimeWindow, TimeWindowConfig, format_duration
from anomalert.ingest.timestamps import parse_timestamp

T = datetime(2026, 1, 5, 14, 28, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T14:28:00Z", T),
        ("2026-01-05t14:28:00z", T),
        ("2026-01-05 14:28:00Z", T),
        ("2026-01-05T16:28:00+02:00", T),
        ("2026-01-05T09:28:00-05:00", T),
        ("2026-01-05T14:28:00.25Z", T + 0.25),
        ("2026-01-05T14:28:00.123456789Z", T + 0.123456789),
    ],
)
def test_rfc3339_strings_are_unix_seconds(text: str, expected: float) -> None:
    assert parse_timestamp(text) == pytest.approx(expected, abs=1e-6)


def test_numbers_are_unix_seconds() -> None:
    assert parse_timestamp(1767623280) == 1767623280.0
    assert parse_timestamp(1767623280.5) == 1767623280.5
    assert parse_timestamp(0) == 0.0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-01-05T14:28:00", "needs a UTC offset"),
        ("2026-01-05", "not an RFC 3339 timestamp"),
        ("yesterday", "not an RFC 3339 timestamp"),
        ("1767623280", "must be a JSON number, not a string"),
        ("2026-02-30T00:00:00Z", "not a valid date and time"),
        ("1969-12-31T23:59:59Z", "before 1970"),
        ("9999-12-31T23:59:59-12:00", "not be after 5138"),  # year 10000 in UTC
        ("5138-11-16T09:46:41Z", "not be after 5138"),  # the bound numbers have
        (1767623280000, "looks like milliseconds"),
        (-1, "before 1970"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        (True, "unix seconds or an RFC 3339 string"),
        (None, "unix seconds or an RFC 3339 string"),
        ([1], "unix seconds or an RFC 3339 string"),
    ],
)
def test_bad_timestamps_say_what_is_wrong(value: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_timestamp(value)


def test_window_defaults_refuse_history_and_the_future_with_the_reason() -> None:
    window = TimeWindow()
    now = 1_000_000.0
    assert window.check(now, now) is None
    assert window.check(now - 3600, now) is None
    assert window.check(now + 300, now) is None
    past = window.check(now - 3601, now)
    assert past == "more than 1h in the past; send history through `anomalert replay`"
    future = window.check(now + 301, now)
    assert future == "more than 5m in the future; check the sender's clock"


def test_window_config_reads_durations() -> None:
    window = TimeWindowConfig.model_validate({"max_past": "2h", "max_future": 30}).window()
    assert window == TimeWindow(7200.0, 30.0)
    assert "more than 30s in the future" in (window.check(100.0, 0.0) or "")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3600, "1h"), (5400, "1h30m"), (90, "1m30s"), (0.5, "0.5s"), (86400, "1d")],
)
def test_durations_read_as_the_config_writes_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
