"""The shadow-mode report: would this service's alerts have been right, and in time?

Trust is earned in stages (PRODUCT.md §3): a service starts in shadow mode, where alerts are
recorded and never shown, and moves to assistive (dashboard) then alerting (pages) once its
alerts agree with what really happened. This report compares a service's alerts with the
labelled incidents that name it (or name no service):

- An alert **matches** an incident when its active span ``[starts_at, ends_at or until]``
  overlaps ``[incident.start - early, incident.end]``; ``early`` (30 minutes) lets an alert
  that saw it coming count.
- **Would-be pages** are the alerts of severity P1 or P2: what alerting mode would have sent
  (P3 stays on the dashboard in every mode). Precision is over pages and over all alerts.
- An alert during an incident of a service it depends on (the config's ``depends_on``,
  directly or not) matches that incident too: the error it saw was real. Recall and lead
  times count the service's own incidents only.
- An incident is **detected** when any alert matches it; its **lead time** is its start minus
  the first matching alert's start, in minutes (positive: the alert came first).

The readiness rule (:class:`Readiness`, written out in every report) needs evidence before
it recommends a move: at least 3 incidents or 14 days of data. Then a service moves on when
its would-be pages are precise (precision ≥ 0.8: a false page is what costs trust) and its
alerts catch at least half the incidents (recall ≥ 0.5).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anomalert.model import Mode
from anomalert.store.reports import AlertFacts
from anomalert.store.rows import LabelledIncidentRow
from anomalert.timefmt import rfc3339

DAY = 86400.0
#: The stage after each mode (alerting is the last).
NEXT_MODE: dict[str, Mode | None] = {"shadow": "assistive", "assistive": "alerting"}


@dataclass(frozen=True)
class Readiness:
    """When a service is ready to leave its mode: the thresholds, in one place."""

    min_precision: float = 0.8
    min_recall: float = 0.5
    min_incidents: int = 3
    min_days: float = 14.0
    #: An alert this long (seconds) before an incident's start still counts as detecting it.
    early: float = 1800.0

    def words(self) -> str:
        """The rule as the report prints it."""
        return (
            f"with at least {self.min_incidents} labelled incidents or {self.min_days:g} days "
            f"of data, a service moves to the next mode when its would-be pages (P1/P2) have "
            f"precision ≥ {self.min_precision:g} and its alerts detect ≥ {self.min_recall:g} "
            f"of the incidents; an alert detects an incident when it is active between "
            f"{self.early / 60:g} minutes before the incident's start and its end"
        )


@dataclass(frozen=True)
class Page:
    """A would-be page and the incident it matched (None: a false page)."""

    alert_id: int
    time: float
    metric: str
    alertname: str
    severity: str
    score: float
    summary: str
    incident_id: int | None
    incident: str | None
    #: The service the matched incident hit, when it is one this service depends on.
    via: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The page as the API shows it."""
        return {
            "alert_id": self.alert_id,
            "time": rfc3339(self.time),
            "metric": self.metric,
            "alertname": self.alertname,
            "severity": self.severity,
            "score": round(self.score, 4),
            "summary": self.summary,
            "incident_id": self.incident_id,
            "incident": self.incident,
            "via": self.via,
        }


@dataclass(frozen=True)
class ServiceShadow:
    """One service's figures and verdict."""

    service: str
    mode: Mode
    alerts: int
    would_page: int
    pages: tuple[Page, ...]
    precision_pages: float | None
    precision_alerts: float | None
    incidents: int
    detected: int
    recall: float | None
    lead_times_minutes: tuple[float, ...]
    median_lead_time_minutes: float | None
    days: float
    ready: bool
    next_mode: Mode | None
    verdict: str

    @property
    def false_pages(self) -> int:
        """Would-be pages that matched no incident."""
        return sum(1 for p in self.pages if p.incident_id is None)

    def to_json(self) -> dict[str, Any]:
        """The service entry of the report."""
        return {
            "service": self.service,
            "mode": self.mode,
            "alerts": self.alerts,
            "would_page": self.would_page,
            "false_pages": self.false_pages,
            "pages": [p.to_json() for p in self.pages],
            "precision_pages": _round(self.precision_pages),
            "precision_alerts": _round(self.precision_alerts),
            "incidents": self.incidents,
            "detected": self.detected,
            "recall": _round(self.recall),
            "lead_times_minutes": list(self.lead_times_minutes),
            "median_lead_time_minutes": self.median_lead_time_minutes,
            "days": round(self.days, 1),
            "ready": self.ready,
            "next_mode": self.next_mode,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class ShadowReport:
    """The report over [since, until] for every service asked."""

    since: float | None
    until: float
    services: tuple[ServiceShadow, ...]
    rule: str

    def to_json(self) -> dict[str, Any]:
        """What ``GET /api/v1/reports/shadow`` and ``report shadow --json`` print."""
        return {
            "since": rfc3339(self.since),
            "until": rfc3339(self.until),
            "services": [s.to_json() for s in self.services],
            "rule": self.rule,
        }


def shadow_report(
    alerts: Sequence[AlertFacts],
    incidents: Sequence[LabelledIncidentRow],
    modes: Mapping[str, Mode],
    until: float,
    since: float | None = None,
    rule: Readiness | None = None,
    depends_on: Mapping[str, Sequence[str]] | None = None,
) -> ShadowReport:
    """Compare each service of ``modes`` (its current mode) with the labelled incidents.

    ``since`` None means "since the data began": the oldest alert or incident given.
    An incident with no service counts for every service. ``depends_on`` (the config's
    dependency graph) lets an alert match an incident of a service it depends on, directly
    or not: checkout's errors during a payments outage are not a false page; recall and
    lead times still count only the service's own incidents.
    """
    rule = rule or Readiness()
    starts = [a.starts_at for a in alerts] + [i.start for i in incidents]
    begin = since if since is not None else min(starts, default=None)
    days = 0.0 if begin is None else max(0.0, until - begin) / DAY
    by_service: dict[str, list[AlertFacts]] = {name: [] for name in modes}
    for a in alerts:
        if a.service in by_service and a.starts_at <= until:
            by_service[a.service].append(a)
    out = []
    for service, mode in sorted(modes.items()):
        mine = sorted(by_service[service], key=lambda a: (a.starts_at, a.id))
        labelled = [i for i in incidents if i.service in (service, None)]
        upstream = _upstream(service, depends_on or {})
        related = [i for i in incidents if i.service is not None and i.service in upstream]
        out.append(_service(service, mode, mine, labelled, related, until, days, rule))
    return ShadowReport(begin, until, tuple(out), rule.words())


def _service(
    service: str,
    mode: Mode,
    alerts: list[AlertFacts],
    incidents: list[LabelledIncidentRow],
    related: list[LabelledIncidentRow],
    until: float,
    days: float,
    rule: Readiness,
) -> ServiceShadow:
    own = _Matcher(incidents, rule.early)
    upstream = _Matcher(related, rule.early)
    first: dict[int, float] = {}  # incident id -> start of its first matching alert
    matched: dict[int, LabelledIncidentRow | None] = {}
    for a in alerts:
        end = until if a.ends_at is None else a.ends_at
        hits = own.overlapping(a.starts_at, end)
        for inc in hits:
            first[inc.id] = min(first.get(inc.id, a.starts_at), a.starts_at)
        hits = hits or upstream.overlapping(a.starts_at, end)
        matched[a.id] = hits[0] if hits else None
    pages = tuple(_page(a, matched[a.id], service) for a in alerts if a.severity in ("P1", "P2"))
    true_alerts = sum(1 for m in matched.values() if m is not None)
    true_pages = sum(1 for p in pages if p.incident_id is not None)
    leads = tuple(round((i.start - first[i.id]) / 60.0, 1) for i in incidents if i.id in first)
    figures = _Figures(
        pages=len(pages),
        false_pages=len(pages) - true_pages,
        precision_pages=_ratio(true_pages, len(pages)),
        incidents=len(incidents),
        detected=len(leads),
        recall=_ratio(len(leads), len(incidents)),
        days=days,
    )
    ready, verdict = _verdict(figures, mode, rule)
    return ServiceShadow(
        service=service,
        mode=mode,
        alerts=len(alerts),
        would_page=len(pages),
        pages=pages,
        precision_pages=figures.precision_pages,
        precision_alerts=_ratio(true_alerts, len(alerts)),
        incidents=len(incidents),
        detected=len(leads),
        recall=figures.recall,
        lead_times_minutes=leads,
        median_lead_time_minutes=round(statistics.median(leads), 1) if leads else None,
        days=days,
        ready=ready,
        next_mode=NEXT_MODE.get(mode),
        verdict=verdict,
    )


@dataclass(frozen=True)
class _Figures:
    """What the verdict is decided on."""

    pages: int
    false_pages: int
    precision_pages: float | None
    incidents: int
    detected: int
    recall: float | None
    days: float


def _verdict(f: _Figures, mode: Mode, rule: Readiness) -> tuple[bool, str]:
    """(ready, the verdict in words): the first rule that holds the service back, if any."""
    nxt = NEXT_MODE.get(mode)
    stay = f"stay in {mode}" if nxt else "alerting, consider assistive"
    early = f"stay in {mode}" if nxt else "alerting"
    period = _days(f.days)
    if f.incidents < rule.min_incidents and f.days < rule.min_days:
        return False, (
            f"{early}: not enough evidence yet ({_n(f.incidents, 'incident')} over {period}; "
            f"needs {rule.min_incidents} incidents or {rule.min_days:g} days)"
        )
    if f.precision_pages is not None and f.precision_pages < rule.min_precision:
        return False, (
            f"{stay}: {_n(f.false_pages, 'false page')} in {period} "
            f"(precision {f.precision_pages:.2f} < {rule.min_precision:g})"
        )
    if f.recall is not None and f.recall < rule.min_recall:
        return False, (
            f"{stay}: recall {f.recall:.2f} < {rule.min_recall:g} "
            f"(detected {f.detected} of {_n(f.incidents, 'incident')})"
        )
    if f.precision_pages is None:
        precision = f"no would-be pages in {period}"
    else:
        precision = f"precision {f.precision_pages:.2f} ≥ {rule.min_precision:g}"
    if f.recall is None:
        recall = "no labelled incidents to miss"
    else:
        recall = f"recall {f.recall:.2f} ≥ {rule.min_recall:g} over {_n(f.incidents, 'incident')}"
    head = f"ready for {nxt}" if nxt else "alerting as it should"
    return True, f"{head}: {precision} and {recall}"


class _Matcher:
    """Which incidents an alert span overlaps, without comparing it with all of them."""

    def __init__(self, incidents: Sequence[LabelledIncidentRow], early: float) -> None:
        self.incidents = sorted(incidents, key=lambda i: (i.start, i.id))
        self.starts = [i.start - early for i in self.incidents]
        self.longest = max((i.end - i.start + early for i in self.incidents), default=0.0)

    def overlapping(self, start: float, end: float) -> list[LabelledIncidentRow]:
        """Incidents whose [start - early, end] meets [start, end], earliest first."""
        lo = bisect.bisect_left(self.starts, start - self.longest)
        hi = bisect.bisect_right(self.starts, end)
        return [i for i in self.incidents[lo:hi] if i.end >= start]


def _upstream(service: str, graph: Mapping[str, Sequence[str]]) -> set[str]:
    """Every service ``service`` depends on, directly or through others."""
    seen: set[str] = set()
    todo = list(graph.get(service, ()))
    while todo:
        name = todo.pop()
        if name not in seen and name != service:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def _page(a: AlertFacts, inc: LabelledIncidentRow | None, service: str) -> Page:
    return Page(
        alert_id=a.id,
        time=a.starts_at,
        metric=a.metric,
        alertname=a.alertname,
        severity=a.severity,
        score=a.score,
        summary=a.summary,
        incident_id=None if inc is None else inc.id,
        incident=None if inc is None else (inc.external_id or inc.title or f"#{inc.id}"),
        via=None if inc is None or inc.service in (service, None) else inc.service,
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _n(count: int, word: str) -> str:
    """'1 incident', '2 incidents'."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _days(days: float) -> str:
    """'14 days', '1.5 days' (whole days round down: 13.9 days is not two weeks)."""
    return _n(math.floor(days), "day") if days >= 2 else f"{days:.1f} days"
