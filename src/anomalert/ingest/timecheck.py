"""How far from "now" a live sample may be: the rule that keeps history out of live endpoints.

A live detector learns in time order; a batch of last week's data posted to the live API
would be taken as late, out-of-order data and either skew baselines or be thrown away. So
live endpoints refuse timestamps more than ``max_past`` behind their clock (history goes
through ``anomalert replay``) and more than ``max_future`` ahead (a sender's clock is wrong).
Replay has no window: callers pass ``None`` instead of a :class:`TimeWindow`.
"""

from __future__ import annotations

from dataclasses import dataclass

from anomalert.configbase import Duration, StrictModel


def format_duration(seconds: float) -> str:
    """Seconds as the config writes them: ``1h``, ``5m``, ``1h30m``, ``90s``, ``1.5s``.

    >>> format_duration(3600), format_duration(5400), format_duration(45)
    ('1h', '1h30m', '45s')
    """
    if seconds != int(seconds) or seconds < 60:
        return f"{seconds:g}s"
    out, rest = "", int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


@dataclass(frozen=True)
class TimeWindow:
    """Accepted distance of an event time from the receiving clock, in seconds."""

    max_past: float = 3600.0
    max_future: float = 300.0

    def check(self, timestamp: float, now: float) -> str | None:
        """Why ``timestamp`` is refused at ``now``, or None when it is inside the window."""
        if timestamp < now - self.max_past:
            return (
                f"more than {format_duration(self.max_past)} in the past; "
                "send history through `anomalert replay`"
            )
        if timestamp > now + self.max_future:
            return (
                f"more than {format_duration(self.max_future)} in the future; "
                "check the sender's clock"
            )
        return None


class TimeWindowConfig(StrictModel):
    """The YAML form of :class:`TimeWindow` (``ingest: {max_past: 1h, max_future: 5m}``)."""

    max_past: Duration = 3600.0
    max_future: Duration = 300.0

    def window(self) -> TimeWindow:
        """The value the parsers take."""
        return TimeWindow(self.max_past, self.max_future)
