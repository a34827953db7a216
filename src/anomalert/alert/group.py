"""Aggregation groups: many alerts, one notification, on Alertmanager's clock.

Every route an alert matches puts its latest snapshot into the group named by the route and
the values of the route's ``group_by`` labels. A group first flushes ``group_wait`` after it
was created (time for its siblings to arrive, so a cluster failure is one message, not
forty), then on every ``group_interval`` tick after that.

As in Alertmanager the group flushes on every tick whether or not it changed: whether a flush
is worth a message (something new, something resolved, ``repeat_interval`` passed) is the
notification log's decision, which is also what notices that a silence expired and an alert
it hid is news again. Ticks stay on the grid ``created + group_wait + k * group_interval``
whenever ``due`` is called, so replays and restarts flush at the same instants.

After a flush the resolved alerts it carried are dropped; an empty group is removed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from anomalert.alert.route import Route
from anomalert.model import Alert, Labels


@dataclass(frozen=True)
class GroupFlush:
    """One group's alerts at the moment its timer fired, addressed to one receiver.

    The same value flows through every later stage: muting narrows ``alerts``, escalation
    readdresses it (``receiver``, ``tier``), an acknowledgement marks it ``acknowledged``
    and names the alert someone took (``taken``, its fingerprint).
    """

    group_key: str
    route: Route
    group_labels: Labels = field(hash=False)
    alerts: tuple[Alert, ...]
    now: float
    receiver: str
    tier: int = 0
    acknowledged: bool = False
    taken: str = ""

    @property
    def firing(self) -> frozenset[str]:
        """Fingerprints of the firing alerts."""
        return frozenset(a.fingerprint for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> frozenset[str]:
        """Fingerprints of the resolved alerts."""
        return frozenset(a.fingerprint for a in self.alerts if a.status == "resolved")

    def encode(self) -> dict[str, Any]:
        """JSON-ready; the route is kept by id (see :meth:`decode`)."""
        return {
            "group_key": self.group_key,
            "route": self.route.id,
            "group_labels": self.group_labels,
            "alerts": [encode_alert(a) for a in self.alerts],
            "now": self.now,
            "receiver": self.receiver,
            "tier": self.tier,
            "acknowledged": self.acknowledged,
            "taken": self.taken,
        }

    @classmethod
    def decode(cls, data: Mapping[str, Any], tree: Route) -> GroupFlush | None:
        """The inverse of :meth:`encode`; None when ``tree`` no longer has the route."""
        route = tree.find(data["route"])
        if route is None:
            return None
        return cls(
            group_key=data["group_key"],
            route=route,
            group_labels=dict(data["group_labels"]),
            alerts=tuple(decode_alert(a) for a in data["alerts"]),
            now=float(data["now"]),
            receiver=data["receiver"],
            tier=int(data["tier"]),
            acknowledged=bool(data["acknowledged"]),
            taken=str(data.get("taken", "")),  # absent from snapshots before it was kept
        )


@dataclass
class _Group:
    key: str
    route: Route
    labels: Labels
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)


class Dispatcher:
    """Routes alerts into groups and says which groups are due."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self._groups: dict[str, _Group] = {}
        # A group restored under a key of an older scheme (positional route ids) keeps it
        # while it lives: receivers deduplicate by the key (PagerDuty's dedup_key), so the
        # incident its first page opened is the one its resolve closes. Current key -> kept.
        self._kept_keys: dict[str, str] = {}

    def add(self, alert: Alert, now: float) -> list[str]:
        """Put the alert's latest snapshot into its groups; returns their keys.

        A resolved alert that no group holds is dropped: nobody was told it fired, so its end
        is not news (and it must not open a group of its own).
        """
        keys: list[str] = []
        for route in self.route.match(alert.labels):
            labels = route.group_labels(alert.labels)
            key = group_key(route, labels)
            key = self._kept_keys.get(key, key)
            group = self._groups.get(key)
            known = group is not None and alert.fingerprint in group.alerts
            if alert.status == "resolved" and not known:
                continue
            if group is None:
                group = _Group(key, route, labels, next_flush=now + route.group_wait)
                self._groups[key] = group
            group.alerts[alert.fingerprint] = alert
            keys.append(key)
        return keys

    def keep_key(self, route: Route, labels: Mapping[str, str], key: str) -> None:
        """The group of ``route`` and these group labels goes by ``key`` until it ends, where
        that is not the key they make now (a group told about before the key scheme changed,
        caught up with after a restart before its group was restored)."""
        if (current := group_key(route, labels)) != key:
            self._kept_keys[current] = key

    def due(self, now: float) -> list[GroupFlush]:
        """Flush every group whose tick has come, in tick then key order."""
        ready = sorted(
            (g for g in self._groups.values() if g.next_flush <= now),
            key=lambda g: (g.next_flush, g.key),
        )
        flushes: list[GroupFlush] = []
        for group in ready:
            alerts = tuple(sorted(group.alerts.values(), key=_oldest_first))
            flushes.append(
                GroupFlush(
                    group.key, group.route, dict(group.labels), alerts, now, group.route.receiver
                )
            )
            for alert in alerts:
                if alert.status == "resolved":
                    del group.alerts[alert.fingerprint]
            interval = group.route.group_interval
            group.next_flush += interval * (math.floor((now - group.next_flush) / interval) + 1)
            if not group.alerts:
                del self._groups[group.key]
                self._kept_keys.pop(group_key(group.route, group.labels), None)
        return flushes

    def next_due(self) -> float | None:
        """When the earliest group flushes next (None without groups): when to tick."""
        return min((g.next_flush for g in self._groups.values()), default=None)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every group with its alerts and next tick, JSON-ready."""
        return [
            {
                "key": g.key,
                "route": g.route.id,
                "labels": g.labels,
                "next_flush": g.next_flush,
                "alerts": [encode_alert(a) for a in g.alerts.values()],
            }
            for g in sorted(self._groups.values(), key=lambda g: g.key)
        ]

    def restore(self, data: list[dict[str, Any]]) -> None:
        """Replace the groups; groups of routes the current tree no longer has are dropped.
        A group whose key is not the one its route and labels make now keeps it (see
        ``_kept_keys``)."""
        self._groups = {}
        self._kept_keys = {}
        for item in data:
            route = self.route.find(item["route"])
            if route is None:
                continue
            group = _Group(item["key"], route, dict(item["labels"]), float(item["next_flush"]))
            if (current := group_key(route, group.labels)) != group.key:
                self._kept_keys[current] = group.key
            for raw in item["alerts"]:
                alert = decode_alert(raw)
                group.alerts[alert.fingerprint] = alert
            self._groups[group.key] = group


def _oldest_first(alert: Alert) -> tuple[float, str]:
    return (alert.starts_at, alert.fingerprint)


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """``<route id>:{name="value",...}``, as Alertmanager's group keys: unique per route and
    labels, and stable across restarts and route changes elsewhere in the tree (the route id
    follows the matchers), since receivers deduplicate by it (PagerDuty's ``dedup_key``).

    >>> from anomalert.alert.route import RouteConfig
    >>> root = Route.build(RouteConfig.model_validate(
    ...     {"receiver": "ops", "routes": [{"matchers": ["severity=P1"]}]}))
    >>> group_key(root, {"service": "api"}), group_key(root.routes[0], {"service": "api"})
    ('{}:{service="api"}', '{}/{severity="P1"}:{service="api"}')
    """
    inner = ",".join(f"{k}={json.dumps(labels[k])}" for k in sorted(labels))
    return f"{route.id}:{{{inner}}}"


def encode_alert(alert: Alert) -> dict[str, Any]:
    """An alert as JSON-ready data (for snapshots)."""
    return {
        "fingerprint": alert.fingerprint,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "score": alert.score,
        "severity": alert.severity,
        "mode": alert.mode,
        "source": alert.source,
        "updated_at": alert.updated_at,
    }


def decode_alert(data: Mapping[str, Any]) -> Alert:
    """The inverse of :func:`encode_alert`."""
    return Alert(
        fingerprint=data["fingerprint"],
        labels=dict(data["labels"]),
        annotations=dict(data["annotations"]),
        starts_at=float(data["starts_at"]),
        ends_at=None if data["ends_at"] is None else float(data["ends_at"]),
        status=data["status"],
        score=float(data["score"]),
        severity=data["severity"],
        mode=data["mode"],
        source=data["source"],
        updated_at=float(data["updated_at"]),
    )
