"""The weekly alert audit: which alerts people mostly ignored, and what to change.

An alert that notifies and is then ignored teaches people to ignore the pager (PRODUCT.md
principle 1). Over a week, alerts are grouped by (service, metric, alertname):

- **notified**: a notification was enqueued for the alert; **ignored**: notified and either
  never acknowledged or marked "not helpful" (the latest feedback counts);
- **noisy**: at least 3 notified and more than half of them ignored;
- alerts that never notified (dashboard only: P3, shadow, assistive) are counted, never
  judged: nobody was asked to act on them.

Each noisy group gets one suggested change, the first of these the evidence supports:

1. most notified alerts marked not helpful: raise the threshold just above the scores of
   those alerts (0.01 steps, at most 0.99) — "raise the threshold from 0.90 to 0.93";
2. most started in the same hour of the service's wall clock (its time zone,
   ``detection.timezone`` or its own): a maintenance window or a silence at that hour (a
   nightly job at 02:00 local starts at another UTC hour once clocks change);
3. most resolved within 5 minutes: ``for: 10m``, so blips stop notifying;
4. otherwise nobody acted on them: move the service to assistive mode (dashboard only).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from anomalert.detect.localtime import LocalTime
from anomalert.store.reports import AlertFacts
from anomalert.timefmt import rfc3339

DAY = 86400.0
_UTC = LocalTime()
#: A group is judged noisy from this many notified alerts.
MIN_NOTIFIED = 3
#: ... when more than this share of them was ignored.
MAX_IGNORED = 0.5
#: Alerts that resolved within this long are blips a ``for`` would have held back.
SHORT = 300.0
#: The ``for`` suggested for blips.
SUGGESTED_FOR = "10m"
#: The highest threshold the audit suggests (above it a metric hardly ever alerts).
MAX_THRESHOLD = 0.99

#: The threshold that applies to (service, metric) now, None when unknown (rule alerts).
ThresholdOf = Callable[[str, str], float | None]


@dataclass(frozen=True)
class AuditGroup:
    """One (service, metric, alertname) over the week."""

    service: str
    metric: str
    alertname: str
    alerts: int
    notified: int
    acknowledged: int
    helpful: int
    not_helpful: int
    ignored: int
    ignored_ratio: float | None
    noisy: bool
    suggestion: str | None

    def to_json(self) -> dict[str, Any]:
        """The group as the API shows it."""
        return {
            "service": self.service,
            "metric": self.metric,
            "alertname": self.alertname,
            "alerts": self.alerts,
            "notified": self.notified,
            "acknowledged": self.acknowledged,
            "helpful": self.helpful,
            "not_helpful": self.not_helpful,
            "ignored": self.ignored,
            "ignored_ratio": None if self.ignored_ratio is None else round(self.ignored_ratio, 4),
            "noisy": self.noisy,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True)
class AuditReport:
    """The audit of [since, until]: noisy groups first, then by notifications."""

    since: float
    until: float
    groups: tuple[AuditGroup, ...]

    @property
    def noisy(self) -> int:
        """How many groups are flagged noisy."""
        return sum(1 for g in self.groups if g.noisy)

    def to_json(self) -> dict[str, Any]:
        """What ``GET /api/v1/reports/audit`` and ``report audit --json`` print."""
        return {
            "since": rfc3339(self.since),
            "until": rfc3339(self.until),
            "groups": [g.to_json() for g in self.groups],
            "noisy": self.noisy,
        }


def audit_report(
    alerts: Sequence[AlertFacts],
    until: float,
    days: float = 7.0,
    threshold_of: ThresholdOf | None = None,
    clock_of: Callable[[str], LocalTime] | None = None,
) -> AuditReport:
    """Audit the alerts that started in [until - days, until].

    >>> a = AlertFacts(1, "db", "cpu", "Anomaly", "", "P2", 0.95, "alerting", "anomaly",
    ...                starts_at=50.0, ends_at=None, notified=True)
    >>> audit_report([a], until=100.0).groups[0].ignored
    1
    """
    since = until - days * DAY
    by_group: dict[tuple[str, str, str], list[AlertFacts]] = {}
    for a in alerts:
        if since <= a.starts_at <= until:
            by_group.setdefault((a.service, a.metric, a.alertname), []).append(a)
    clocks = clock_of or (lambda service: _UTC)
    groups = [
        _group(key, members, threshold_of, clocks(key[0])) for key, members in by_group.items()
    ]
    groups.sort(key=lambda g: (not g.noisy, -g.notified, -g.alerts, g.service, g.metric))
    return AuditReport(since, until, tuple(groups))


def _group(
    key: tuple[str, str, str],
    members: list[AlertFacts],
    threshold_of: ThresholdOf | None,
    clock: LocalTime,
) -> AuditGroup:
    service, metric, alertname = key
    told = [a for a in members if a.notified]
    ignored = [a for a in told if a.acked_at is None or a.helpful is False]
    ratio = len(ignored) / len(told) if told else None
    noisy = len(told) >= MIN_NOTIFIED and ratio is not None and ratio > MAX_IGNORED
    anomaly = bool(metric) and all(a.source == "anomaly" for a in members)
    current = threshold_of(service, metric) if threshold_of and anomaly else None
    return AuditGroup(
        service=service,
        metric=metric,
        alertname=alertname,
        alerts=len(members),
        notified=len(told),
        acknowledged=sum(1 for a in members if a.acked_at is not None),
        helpful=sum(1 for a in members if a.helpful is True),
        not_helpful=sum(1 for a in members if a.helpful is False),
        ignored=len(ignored),
        ignored_ratio=ratio,
        noisy=noisy,
        suggestion=suggest(told, current, clock) if noisy else None,
    )


def suggest(
    notified: Sequence[AlertFacts], threshold: float | None, clock: LocalTime | None = None
) -> str:
    """The change the evidence of a noisy group's notified alerts supports best.

    >>> def a(i, score, helpful):
    ...     return AlertFacts(i, "db", "cpu", "Anomaly", "", "P2", score, "alerting",
    ...                       "anomaly", starts_at=i * 7200.0, ends_at=None, notified=True,
    ...                       helpful=helpful)
    >>> suggest([a(1, 0.91, False), a(2, 0.925, False), a(3, 0.97, True)], 0.90)
    'raise the threshold from 0.90 to 0.93 (2 of 3 marked not helpful)'
    """
    n = len(notified)
    unhelpful = [a for a in notified if a.helpful is False]
    if 2 * len(unhelpful) > n and threshold is not None:
        top = max(a.score for a in unhelpful)
        raised = min(MAX_THRESHOLD, max(threshold + 0.01, math.floor(top * 100 + 1) / 100))
        if raised > threshold:
            return (
                f"raise the threshold from {threshold:.2f} to {raised:.2f} "
                f"({len(unhelpful)} of {n} marked not helpful)"
            )
    clock = clock or _UTC
    starts = [a.starts_at + clock.offset(a.starts_at) for a in notified]
    hour, at_hour = Counter(int(s // 3600) % 24 for s in starts).most_common(1)[0]
    if 2 * at_hour > n:
        return (
            f"a maintenance window or silence at {hour:02d}:00-{(hour + 1) % 24:02d}:00 "
            f"{clock.zone} ({at_hour} of {n} at that hour)"
        )
    short = sum(1 for a in notified if a.ends_at is not None and a.ends_at - a.starts_at <= SHORT)
    if 2 * short > n:
        return f"add for: {SUGGESTED_FOR} ({short} of {n} resolved within {SHORT / 60:g} minutes)"
    if unhelpful and threshold is None:
        return f"raise the rule's threshold ({len(unhelpful)} of {n} marked not helpful)"
    unacked = sum(1 for a in notified if a.acked_at is None)
    return f"move to assistive mode (nobody acknowledged {unacked} of {n})"
