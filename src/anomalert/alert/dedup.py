"""The notification log: what each receiver was last told about each group.

A group flushes on every ``group_interval`` tick; most ticks carry nothing new. This is
Alertmanager's DedupStage: a receiver hears about a group again only when

- something fires that it was not told about (the firing set is not a subset of the last one),
- something it was told fired has resolved (resolved notifications are always sent), or
- ``repeat_interval`` passed since the last message while something still fires.

Alerts that fired and resolved between two messages are never news: the receiver did not know
about them. A group whose last message said nothing fires is forgotten, which both bounds the
log and behaves exactly as if it had never been notified.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from anomalert.alert.group import GroupFlush
from anomalert.alert.route import Route


@dataclass(frozen=True)
class Sent:
    """The last message one receiver got about one group, and who acknowledged it."""

    flush: GroupFlush
    acked: frozenset[str] = frozenset()


class NotificationLog:
    """Per (group key, receiver), the last message sent."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], Sent] = {}

    def needs_notify(self, flush: GroupFlush, now: float) -> bool:
        """Whether this flush tells its receiver something it does not know yet."""
        firing, resolved = flush.firing, flush.resolved
        last = self._sent.get((flush.group_key, flush.receiver))
        if last is None:
            return bool(firing)
        told = last.flush.firing
        if not firing <= told or resolved & told:
            return True
        return bool(firing) and now - last.flush.now >= flush.route.repeat_interval

    def log(self, flush: GroupFlush) -> None:
        """Record a flush as sent to its receiver."""
        key = (flush.group_key, flush.receiver)
        last = self._sent.get(key)
        if not flush.firing:
            self._sent.pop(key, None)
            return
        acked = last.acked & flush.firing if last is not None else frozenset()
        self._sent[key] = Sent(flush, acked)

    def was_firing(self, group_key: str, receiver: str, fp: str) -> bool:
        """Whether the receiver's last message about the group said this alert fires."""
        last = self._sent.get((group_key, receiver))
        return last is not None and fp in last.flush.firing

    def ack(self, fp: str, now: float) -> list[GroupFlush]:
        """Mark the alert acknowledged wherever it was last told firing, once.

        Returns the acknowledgement to send to each such receiver: its last message's firing
        alerts, marked ``acknowledged``.
        """
        out: list[GroupFlush] = []
        for key in sorted(self._sent):
            last = self._sent[key]
            if fp not in last.flush.firing or fp in last.acked:
                continue
            self._sent[key] = Sent(last.flush, last.acked | {fp})
            firing = tuple(a for a in last.flush.alerts if a.status == "firing")
            out.append(replace(last.flush, alerts=firing, now=now, acknowledged=True, taken=fp))
        return out

    def caught_up_ack(self, flush: GroupFlush) -> None:
        """Catching up with an acknowledgement the receiver was told (``Pipeline.catch_up``):
        the alert it names as taken counts as acknowledged, as ``ack`` marked it, so taking
        another alert of the group still tells the receiver. A message enqueued before the
        taken alert was recorded names none: all its firing alerts count."""
        key = (flush.group_key, flush.receiver)
        last = self._sent.get(key)
        if last is not None:
            taken = frozenset({flush.taken}) if flush.taken else flush.firing
            self._sent[key] = Sent(last.flush, last.acked | (taken & last.flush.firing))

    def snapshot(self) -> list[dict[str, Any]]:
        """JSON-ready log entries."""
        return [
            {"flush": s.flush.encode(), "acked": sorted(s.acked)}
            for _, s in sorted(self._sent.items())
        ]

    def restore(self, data: list[dict[str, Any]], tree: Route) -> None:
        """Replace the log; entries of routes no longer in ``tree`` are dropped."""
        self._sent = {}
        for item in data:
            flush = GroupFlush.decode(item["flush"], tree)
            if flush is not None:
                self._sent[(flush.group_key, flush.receiver)] = Sent(
                    flush, frozenset(item["acked"])
                )
