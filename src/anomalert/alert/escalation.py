"""Escalation: when nobody acknowledges a page, page the next person.

An episode starts when a group holding an alert of a listed severity is first notified
firing on a route that names the escalation. Each tier is paged ``after`` that moment unless
someone acknowledged one of the group's alerts first; the page repeats the last message the
route's receiver got. A tier at 0 whose receiver is the route's own is that first message, not
a copy. The episode ends when every paged alert has resolved, and every tier that was paged
hears the resolution (a pager left ringing for a problem that is gone is noise too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import Field, field_validator

from anomalert.alert.group import GroupFlush
from anomalert.alert.route import Route
from anomalert.configbase import Duration, StrictModel
from anomalert.model import Severity


def _p1_only() -> list[Severity]:
    return ["P1"]


class EscalationTier(StrictModel):
    """Who is paged, and how long after the first page."""

    after: Duration
    receiver: str


class EscalationConfig(StrictModel):
    """A named chain of tiers, e.g. primary at 0m, secondary at 15m, the lead at 30m."""

    name: str
    severities: list[Severity] = Field(default_factory=_p1_only)
    tiers: list[EscalationTier] = Field(min_length=1)

    @field_validator("tiers")
    @classmethod
    def _in_order(cls, tiers: list[EscalationTier]) -> list[EscalationTier]:
        for i in range(1, len(tiers)):
            if tiers[i].after < tiers[i - 1].after:
                raise ValueError(f"tiers[{i}].after is earlier than tiers[{i - 1}].after")
        return tiers


@dataclass
class _Episode:
    config: str
    started: float
    last: GroupFlush  # the last message the route's receiver got
    active: set[str]  # paged alerts still firing
    paged: set[str]  # every alert ever paged in this episode
    sent: set[int] = field(default_factory=set)  # tiers paged by the escalator
    covered: set[int] = field(default_factory=set)  # tiers that were the first message itself
    acked: bool = False


class Escalator:
    """Escalation episodes by group key, driven by what the route's receivers were told."""

    def __init__(self, configs: Mapping[str, EscalationConfig]) -> None:
        self._configs = dict(configs)
        self._episodes: dict[str, _Episode] = {}

    def notified(self, flush: GroupFlush) -> list[GroupFlush]:
        """Follow a message sent to the route's receiver; returns extra messages for tiers.

        Those are the tiers due at once (``after: 0`` with another receiver) when an episode
        starts, and the resolution for every paged tier when it ends.
        """
        name = flush.route.escalation or ""
        cfg = self._configs.get(name)
        if cfg is None or flush.acknowledged:
            return []
        listed = {a.fingerprint for a in flush.alerts if a.severity in cfg.severities}
        firing = listed & flush.firing
        episode = self._episodes.get(flush.group_key)
        if episode is None:
            if not firing:
                return []
            episode = _Episode(name, flush.now, flush, set(firing), set(firing))
            episode.covered = {
                i
                for i, tier in enumerate(cfg.tiers)
                if tier.after <= 0 and tier.receiver == flush.receiver
            }
            self._episodes[flush.group_key] = episode
            return self.due(flush.now, only=flush.group_key)
        episode.active = (episode.active - flush.resolved) | firing
        episode.paged |= firing
        if flush.firing:
            episode.last = flush
        if episode.active:
            return []
        del self._episodes[flush.group_key]
        ended = tuple(a for a in flush.alerts if a.fingerprint in episode.paged)
        ended = ended or tuple(a for a in flush.alerts if a.status == "resolved")
        return [
            replace(flush, alerts=ended, receiver=cfg.tiers[i].receiver, tier=i)
            for i in sorted(episode.sent)
        ]

    def due(self, now: float, only: str | None = None) -> list[GroupFlush]:
        """Pages for the tiers whose time came without an acknowledgement."""
        out: list[tuple[float, str, int, GroupFlush]] = []
        for key, ep in self._episodes.items():
            if ep.acked or (only is not None and key != only):
                continue
            for i, tier in enumerate(self._configs[ep.config].tiers):
                at = ep.started + tier.after
                if at > now or i in ep.sent or i in ep.covered:
                    continue
                ep.sent.add(i)
                firing = tuple(a for a in ep.last.alerts if a.status == "firing")
                page = replace(ep.last, alerts=firing, now=now, receiver=tier.receiver, tier=i)
                out.append((at, key, i, page))
        return [page for *_, page in sorted(out, key=lambda x: x[:3])]

    def ack(self, fp: str, now: float) -> list[GroupFlush]:
        """Stop escalating the groups holding this alert (any of their alerts will do); the
        acknowledgement for each tier the escalator paged (the route's receiver hears it
        through the notification log)."""
        out: list[GroupFlush] = []
        for key in sorted(self._episodes):
            ep = self._episodes[key]
            if ep.acked or (fp not in ep.active and fp not in ep.last.firing):
                continue
            ep.acked = True
            firing = tuple(a for a in ep.last.alerts if a.status == "firing")
            tiers = self._configs[ep.config].tiers
            out.extend(
                replace(
                    ep.last,
                    alerts=firing,
                    now=now,
                    receiver=tiers[i].receiver,
                    tier=i,
                    acknowledged=True,
                    taken=fp,
                )
                for i in sorted(ep.sent)
            )
        return out

    def caught_up(self, flush: GroupFlush) -> None:
        """Catching up with a message the outbox holds (``Pipeline.catch_up``): a tier's
        page marks the tier paged, any acknowledgement about the group ends its escalation.
        A tier's resolution needs nothing: the route's resolution before it ended the
        episode."""
        ep = self._episodes.get(flush.group_key)
        if ep is None:
            return
        if flush.acknowledged:
            ep.acked = True
        elif flush.firing:
            ep.sent.add(flush.tier)

    def next_due(self) -> float | None:
        """When the earliest unacknowledged tier is due (None when nothing waits)."""
        times = [
            ep.started + tier.after
            for ep in self._episodes.values()
            if not ep.acked
            for i, tier in enumerate(self._configs[ep.config].tiers)
            if i not in ep.sent and i not in ep.covered
        ]
        return min(times, default=None)

    def snapshot(self) -> list[dict[str, Any]]:
        """JSON-ready episodes."""
        return [
            {
                "group_key": key,
                "config": ep.config,
                "started": ep.started,
                "last": ep.last.encode(),
                "active": sorted(ep.active),
                "paged": sorted(ep.paged),
                "sent": sorted(ep.sent),
                "covered": sorted(ep.covered),
                "acked": ep.acked,
            }
            for key, ep in sorted(self._episodes.items())
        ]

    def restore(self, data: list[dict[str, Any]], tree: Route) -> None:
        """Replace the episodes; those whose route or escalation is gone are dropped."""
        self._episodes = {}
        for item in data:
            last = GroupFlush.decode(item["last"], tree)
            if last is None or item["config"] not in self._configs:
                continue
            self._episodes[item["group_key"]] = _Episode(
                config=item["config"],
                started=float(item["started"]),
                last=last,
                active=set(item["active"]),
                paged=set(item["paged"]),
                sent=set(item["sent"]),
                covered=set(item["covered"]),
                acked=bool(item["acked"]),
            )
