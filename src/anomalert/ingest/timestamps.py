"""Event times as they arrive over HTTP: unix seconds or RFC 3339 strings, to float seconds.

Every ingest format shares this one parser, so "what is a valid timestamp" has one answer:

- a JSON number (not a bool) is unix seconds; a value above 1e11 is refused with the hint
  that it looks like milliseconds (the commonest mistake, and silently wrong by 1000x);
- a string is RFC 3339 (``2026-01-05T14:28:00Z``, ``2026-01-05 14:28:00.25+02:00``): the
  offset is required, because guessing a zone for a pager is how alerts land an hour off;
  fractions keep up to nanoseconds (Go senders write nine digits);
- numeric strings are refused: the sender is mixing formats, and the error says so;
- a string bounds the same as a number: nothing after :data:`MAX_SECONDS` (year 5138), since
  a time past year 9999 in UTC (``9999-12-31T23:59:59-12:00``) cannot be written back out.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

#: Largest plausible unix time in seconds (year 5138); larger ones are milliseconds.
MAX_SECONDS = 1e11
_LATEST = datetime.fromtimestamp(MAX_SECONDS, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?"
)


def parse_timestamp(value: object) -> float:
    """Unix seconds from a number or an RFC 3339 string; ValueError saying what is wrong.

    >>> parse_timestamp("1970-01-01T00:01:00.5Z"), parse_timestamp(60)
    (60.5, 60.0)
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be unix seconds or an RFC 3339 string")
    if isinstance(value, str):
        return _parse_rfc3339(value)
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError("must be a finite number of unix seconds")
    if seconds < 0:
        raise ValueError("must not be before 1970")
    if seconds > MAX_SECONDS:
        raise ValueError("looks like milliseconds; send unix seconds")
    return seconds


def _parse_rfc3339(text: str) -> float:
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        try:
            float(text)
        except ValueError:
            raise ValueError("is not an RFC 3339 timestamp like 2026-01-05T14:28:00Z") from None
        raise ValueError("unix seconds must be a JSON number, not a string")
    whole, fraction, offset = m.groups()
    if offset is None:
        raise ValueError("needs a UTC offset (Z or +hh:mm)")
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        moment = datetime.fromisoformat(whole.replace("t", "T").replace(" ", "T") + offset)
    except ValueError as exc:
        raise ValueError(f"is not a valid date and time ({exc})") from None
    seconds = moment.timestamp() + (float(fraction) if fraction else 0.0)
    if seconds < 0:
        raise ValueError("must not be before 1970")
    if seconds > MAX_SECONDS:
        raise ValueError(f"must not be after {_LATEST}")
    return seconds
