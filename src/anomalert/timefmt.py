"""Times shown to people and tools: RFC 3339 in UTC, as Alertmanager and most tools expect.

A top-level module, not under ``api/``: notifications, dashboard links and reports show
times the same way as API answers, and none of them should depend on the HTTP API package.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

#: The range a datetime can hold (years 1 to 9999), in unix seconds.
FIRST = datetime.min.replace(tzinfo=UTC).timestamp()
LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def moment(t: float) -> datetime | None:
    """The UTC datetime of unix seconds, clamped to the years a datetime holds; None for NaN.

    Why clamp: ingest bounds every time it takes (``ingest.timestamps``), but a database
    written by an older version may hold a time past year 9999, and one such row must not
    make every list that shows it fail.

    >>> moment(1e300).year, moment(-1e300).year, moment(math.nan)
    (9999, 1, None)
    """
    if math.isnan(t):
        return None
    return datetime.fromtimestamp(min(max(t, FIRST), LAST), UTC)


def rfc3339(t: float | None) -> str | None:
    """'2026-11-23T09:30:00Z' (None stays None, and so does NaN; see :func:`moment`).

    >>> rfc3339(0.0), rfc3339(1e20)
    ('1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z')
    """
    at = None if t is None else moment(t)
    if at is None:
        return None
    return at.isoformat().replace("+00:00", "Z")
