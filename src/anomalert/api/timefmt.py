"""Times in answers: RFC 3339 in UTC, as Alertmanager and most tools expect."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(t: float | None) -> str | None:
    """'2026-11-23T09:30:00Z' (None stays None).

    >>> rfc3339(0.0)
    '1970-01-01T00:00:00Z'
    """
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
