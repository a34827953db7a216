"""What every integration says about a notification, written once.

Receivers differ in envelope (Slack blocks, a PagerDuty event, an e-mail), not in content:
the title, the lead alert, the dedup key, the Alertmanager webhook body and what a chat
message says (:class:`ChatMessage`, which Slack, Teams and Discord wrap in their formats) are
computed here so that a page, a chat message and a replay line about the same group agree
with each other. Links back to the dashboard come from :mod:`.links`.

Two JSON shapes live here too because they must stay stable across versions:
``notification_to_dict`` / ``notification_from_dict`` (the outbox payload, read back after a
restart, possibly by a newer release) and ``replay_record`` (the ``anomalert replay
--notifications OUT.jsonl`` line other tools read).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from anomalert.model import Alert, Labels, Mode, Notification, Severity, Source, Status
from anomalert.notify.links import alert_url, dashboard_url
from anomalert.timefmt import moment

#: Alertmanager's zero time: what its webhook sends as ``endsAt`` while an alert fires.
ZERO_TIME = "0001-01-01T00:00:00Z"
#: Version of the outbox payload; bumped (and read both ways) if the shape ever changes.
PAYLOAD_VERSION = 1
#: Alerts a chat message lists one per line; the others are counted ("…and 3 more").
MAX_CHAT_LINES = 10
#: What the link to an alert's dashboard page is called wherever it has a label.
EXPLAIN = "Explain this alert"

_RANK: dict[str, int] = {"P1": 0, "P2": 1, "P3": 2}


def rfc3339(t: float | None) -> str:
    """UTC RFC 3339 of unix seconds; None (still firing) is Alertmanager's zero time.

    >>> rfc3339(1704067200.0), rfc3339(1704067200.25), rfc3339(None)
    ('2024-01-01T00:00:00Z', '2024-01-01T00:00:00.250Z', '0001-01-01T00:00:00Z')
    """
    at = None if t is None else moment(t)  # clamped to years 1-9999; NaN is no time
    if t is None or at is None:
        return ZERO_TIME
    spec = "seconds" if float(t).is_integer() else "milliseconds"
    return at.isoformat(timespec=spec).replace("+00:00", "Z")


def lead_alert(n: Notification) -> Alert:
    """The alert a one-line summary talks about: highest severity, then highest score.

    Alerts whose status matches the notification's come first, so a "firing" message about a
    group where one alert already resolved leads with one still firing. Ties break on the
    fingerprint, so the choice is deterministic.
    """
    pool = [a for a in n.alerts if a.status == n.status] or list(n.alerts)
    if not pool:
        raise ValueError(f"notification {n.key!r} has no alerts")
    return min(pool, key=lambda a: (_RANK.get(a.severity, 9), -a.score, a.fingerprint))


def dedup_key(n: Notification) -> str:
    """The key that makes trigger, acknowledge and resolve of one group hit one incident.

    Derived from the group key only (not status, tier or alert set), hashed because group
    keys hold label values of any length and PagerDuty/Opsgenie limit theirs.
    """
    return "anomalert-" + hashlib.sha256(n.group_key.encode()).hexdigest()[:32]


def status_word(n: Notification) -> str:
    """FIRING, RESOLVED or ACKNOWLEDGED (a firing group someone took)."""
    if n.status == "resolved":
        return "RESOLVED"
    return "ACKNOWLEDGED" if n.acknowledged else "FIRING"


def count(n: Notification) -> int:
    """How many alerts the status word is about."""
    return len(n.resolved if n.status == "resolved" else n.firing) or len(n.alerts)


def subject(n: Notification) -> str:
    """The group's name: service first, then the other group label values (sorted by name).

    Without group labels, the lead alert's service and alert name.
    """
    labels = n.group_labels
    values = [labels["service"]] if labels.get("service") else []
    values += [labels[k] for k in sorted(labels) if k != "service" and labels[k]]
    if not values:
        lead = lead_alert(n)
        values = [v for v in (lead.service, lead.name) if v]
    return " ".join(values) or n.group_key


def title(n: Notification) -> str:
    """Alertmanager's familiar title: ``[FIRING:2] checkout HighLatency``."""
    return f"[{status_word(n)}:{count(n)}] {subject(n)}"


def summary(a: Alert) -> str:
    """The alert's reason in plain words (its ``summary`` annotation), else its name."""
    return a.annotations.get("summary") or a.annotations.get("description") or a.name


def runbook(a: Alert) -> str | None:
    """The runbook link from the alert's annotations, when it has one."""
    return a.annotations.get("runbook_url") or None


def alert_line(a: Alert) -> str:
    """One alert in one line of text: severity, service, reason, score."""
    where = a.service or a.name
    return f"{a.severity} {where}: {summary(a)} (score {a.score:.2f})"


def generator_url(base: str, a: Alert) -> str:
    """Where an alert comes from, for Alertmanager's ``generatorURL``: the link its sender
    gave (an external alert's ``generator_url`` annotation), else its dashboard page."""
    return a.annotations.get("generator_url") or alert_url(base, a)


def is_web_url(url: str) -> bool:
    """Whether a link is http(s): buttons and embed links in chat accept nothing else."""
    return url.startswith(("http://", "https://"))


@dataclass(frozen=True)
class ChatMessage:
    """What a chat message about a notification says, before any chat format wraps it.

    Slack, Teams and Discord differ in envelope (blocks, a card, an embed), not in content:
    the title, the lead alert's reason, one line per alert (the first
    :data:`MAX_CHAT_LINES`), the facts (severity, service, score, escalation tier) and the
    links of the lead alert: ``Explain this alert`` (its dashboard page, when the service
    knows its external URL) then ``Runbook`` (its ``runbook_url`` annotation).
    """

    title: str
    summary: str
    resolved: bool
    severity: Severity
    alerts: tuple[Alert, ...]
    more: int
    facts: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str], ...]
    base: str = ""

    def url(self, a: Alert) -> str:
        """An alert's dashboard page ('' when the service has no external URL)."""
        return alert_url(self.base, a)

    def lines(self, line: Callable[[Alert], str] = alert_line) -> list[str]:
        """One line per listed alert (``line`` formats it), then how many are not listed."""
        lines = [line(a) for a in self.alerts]
        if self.more:
            lines.append(f"…and {self.more} more")
        return lines

    def markdown_line(self, a: Alert) -> str:
        """:func:`alert_line` with a Markdown link to the alert's page (Teams, Discord)."""
        url = self.url(a)
        return alert_line(a) + (f" · [explain]({url})" if url else "")

    def buttons(self) -> list[tuple[str, str]]:
        """The links a button can open (http or https)."""
        return [(label, url) for label, url in self.links if is_web_url(url)]


def chat_message(n: Notification, base: str = "") -> ChatMessage:
    """The content of a Slack, Teams or Discord message; ``base`` is the external URL."""
    lead = lead_alert(n)
    facts = [("Severity", n.severity), ("Service", lead.service or "-")]
    facts.append(("Score", f"{lead.score:.2f}"))
    if n.tier:
        facts.append(("Escalation tier", str(n.tier)))
    links = [(EXPLAIN, alert_url(base, lead)), ("Runbook", runbook(lead) or "")]
    return ChatMessage(
        title=title(n),
        summary=summary(lead),
        resolved=n.status == "resolved",
        severity=n.severity,
        alerts=n.alerts[:MAX_CHAT_LINES],
        more=max(0, len(n.alerts) - MAX_CHAT_LINES),
        facts=tuple(facts),
        links=tuple((label, url) for label, url in links if url),
        base=base,
    )


def common(maps: Sequence[Mapping[str, str]]) -> Labels:
    """The pairs every mapping shares (Alertmanager's commonLabels/commonAnnotations)."""
    if not maps:
        return {}
    first, rest = maps[0], maps[1:]
    return {k: v for k, v in sorted(first.items()) if all(m.get(k) == v for m in rest)}


def webhook_message(
    n: Notification, *, external_url: str = "", max_alerts: int = 0
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), so existing webhook consumers work unchanged.

    ``max_alerts`` > 0 keeps the first alerts and counts the rest in ``truncatedAlerts``, as
    Alertmanager's ``max_alerts`` does. ``external_url`` is the service's address
    (``externalURL``); each alert's ``generatorURL`` is its ``generator_url`` annotation when
    the sender of an external alert set one, else its page on the dashboard under
    ``external_url`` (empty without one).
    """
    alerts = list(n.alerts)
    kept = alerts[:max_alerts] if max_alerts > 0 else alerts
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": len(alerts) - len(kept),
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(sorted(n.group_labels.items())),
        "commonLabels": common([a.labels for a in alerts]),
        "commonAnnotations": common([a.annotations for a in alerts]),
        "externalURL": dashboard_url(external_url),
        "alerts": [
            {
                "status": a.status,
                "labels": dict(sorted(a.labels.items())),
                "annotations": dict(sorted(a.annotations.items())),
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at),
                "generatorURL": generator_url(external_url, a),
                "fingerprint": a.fingerprint,
            }
            for a in kept
        ],
    }


def _alert_to_dict(a: Alert) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "status": a.status,
        "score": a.score,
        "severity": a.severity,
        "mode": a.mode,
        "source": a.source,
        "updated_at": a.updated_at,
    }


def _alert_from_dict(d: Mapping[str, Any]) -> Alert:
    ends_at = d["ends_at"]
    return Alert(
        fingerprint=str(d["fingerprint"]),
        labels={str(k): str(v) for k, v in d["labels"].items()},
        annotations={str(k): str(v) for k, v in d["annotations"].items()},
        starts_at=float(d["starts_at"]),
        ends_at=None if ends_at is None else float(ends_at),
        status=cast(Status, _one_of(d["status"], ("firing", "resolved"), "status")),
        score=float(d["score"]),
        severity=cast(Severity, _one_of(d["severity"], ("P1", "P2", "P3"), "severity")),
        mode=cast(Mode, _one_of(d["mode"], ("shadow", "assistive", "alerting"), "mode")),
        source=cast(Source, _one_of(d["source"], ("anomaly", "rule", "external"), "source")),
        updated_at=float(d["updated_at"]),
    )


def _one_of(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {allowed}")
    return str(value)


def notification_to_dict(n: Notification) -> dict[str, Any]:
    """The outbox payload: everything needed to rebuild ``n`` exactly after a restart."""
    return {
        "version": PAYLOAD_VERSION,
        "key": n.key,
        "receiver": n.receiver,
        "group_key": n.group_key,
        "group_labels": dict(n.group_labels),
        "status": n.status,
        "alerts": [_alert_to_dict(a) for a in n.alerts],
        "time": n.time,
        "severity": n.severity,
        "tier": n.tier,
        "acknowledged": n.acknowledged,
        "route": n.route,
        "sequence": n.sequence,
        "taken": n.taken,
    }


#: What ``notification_from_dict`` raises on a payload it cannot read.
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError)


def notification_from_dict(d: Mapping[str, Any]) -> Notification:
    """Inverse of :func:`notification_to_dict`; ValueError/KeyError on a payload it can't read."""
    if d.get("version") != PAYLOAD_VERSION:
        raise ValueError(f"unknown payload version {d.get('version')!r}")
    return Notification(
        key=str(d["key"]),
        receiver=str(d["receiver"]),
        group_key=str(d["group_key"]),
        group_labels={str(k): str(v) for k, v in d["group_labels"].items()},
        status=cast(Status, _one_of(d["status"], ("firing", "resolved"), "status")),
        alerts=tuple(_alert_from_dict(a) for a in d["alerts"]),
        time=float(d["time"]),
        severity=cast(Severity, _one_of(d["severity"], ("P1", "P2", "P3"), "severity")),
        tier=int(d["tier"]),
        acknowledged=bool(d["acknowledged"]),
        # Absent from payloads enqueued before they were recorded.
        route=str(d.get("route", "")),
        sequence=int(d.get("sequence", -1)),
        taken=str(d.get("taken", "")),
    )


def _finite(x: float) -> float | None:
    """JSON has no NaN: a score that is not a number is written as null."""
    return x if math.isfinite(x) else None


def replay_record(n: Notification) -> dict[str, Any]:
    """One line of ``anomalert replay --notifications OUT.jsonl``.

    ``service``, ``labels``, ``severity``, ``score`` and ``reason`` describe the lead alert
    (:func:`lead_alert`: highest severity, then highest score) when the group holds several;
    ``alerts`` lists them all. ``key`` is the notification key, so a reader can drop the rare
    duplicate line a crash between writing and recording leaves behind.
    """
    lead = lead_alert(n)
    record: dict[str, Any] = {
        "time": rfc3339(n.time),
        "receiver": n.receiver,
        "status": n.status,
        "service": lead.service,
        "labels": dict(sorted(lead.labels.items())),
        "severity": lead.severity,
        "score": _finite(lead.score),
        "reason": summary(lead),
        "runbook_url": runbook(lead),
        "group_key": n.group_key,
        "group_labels": dict(sorted(n.group_labels.items())),
        "tier": n.tier,
        "acknowledged": n.acknowledged,
        "key": n.key,
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "status": a.status,
                "labels": dict(sorted(a.labels.items())),
                "annotations": dict(sorted(a.annotations.items())),
                "starts_at": rfc3339(a.starts_at),
                "ends_at": None if a.ends_at is None else rfc3339(a.ends_at),
                "score": _finite(a.score),
            }
            for a in n.alerts
        ],
    }
    if lead.annotations.get("root_cause"):
        record["root_cause"] = lead.annotations["root_cause"]
    return record
