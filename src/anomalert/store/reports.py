"""What the reports read: the alerts of a period with the facts people added to them.

One alert row for each episode that started in the period, with whether it was notified
(its history has a ``notification`` row), when it was acknowledged and the latest
"helpful / not helpful". Three queries whatever the number of alerts (alerts, then the
notified ids, then the feedback, both restricted by the same subquery), so a report over
100,000 alerts costs three index scans, not 100,000 look-ups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from anomalert.model import Mode, Severity, Source
from anomalert.store import schema


@dataclass(frozen=True)
class AlertFacts:
    """One alert as the reports see it: what fired, how loud, and what people did."""

    id: int
    service: str
    metric: str
    alertname: str
    summary: str
    severity: Severity
    score: float
    mode: Mode
    source: Source
    starts_at: float
    ends_at: float | None
    acked_at: float | None = None
    #: A notification was enqueued for it (it reached a receiver, or was meant to).
    notified: bool = False
    #: The latest feedback: True helpful, False not helpful, None none given.
    helpful: bool | None = None


class ReportsMixin:
    """Report queries of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def report_alerts(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        services: Sequence[str] | None = None,
    ) -> list[AlertFacts]:
        """Alerts that started in [since, until] (of these services), oldest first."""
        a, h, f = schema.alerts, schema.alert_history, schema.feedback
        where: list[sa.ColumnElement[bool]] = []
        if since is not None:
            where.append(a.c.starts_at >= since)
        if until is not None:
            where.append(a.c.starts_at <= until)
        if services is not None:
            where.append(a.c.service.in_(list(services)))
        ids = sa.select(a.c.id).where(*where)
        cols = (
            a.c.id,
            a.c.service,
            a.c.metric,
            a.c.alertname,
            a.c.summary,
            a.c.severity,
            a.c.score,
            a.c.mode,
            a.c.source,
            a.c.starts_at,
            a.c.ends_at,
            a.c.acked_at,
        )
        alerts = sa.select(*cols).where(*where).order_by(a.c.starts_at, a.c.id)
        notified = (
            sa.select(h.c.alert_id)
            .where(h.c.kind == "notification", h.c.alert_id.in_(ids))
            .distinct()
        )
        feedback = (
            sa.select(f.c.alert_id, f.c.helpful)
            .where(f.c.alert_id.in_(ids))
            .order_by(f.c.time, f.c.id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(alerts).all()
            told = set(conn.execute(notified).scalars().all())
            latest = {alert_id: bool(helpful) for alert_id, helpful in conn.execute(feedback)}
        # Positional, in the order of ``cols`` and of AlertFacts' fields: building 100,000
        # rows from tuples costs a third of building them from mappings.
        return [AlertFacts(*r, notified=r[0] in told, helpful=latest.get(r[0])) for r in rows]

    def first_alert_time(self) -> float | None:
        """When the oldest stored alert started (None: no alerts): where data begins."""
        with self._engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.min(schema.alerts.c.starts_at))).scalar()
        return None if value is None else float(value)

    def alert_services(self) -> list[str]:
        """Every service that has a stored alert (one index scan, no alert rows read)."""
        a = schema.alerts
        with self._engine.connect() as conn:
            return list(conn.execute(sa.select(a.c.service).distinct()).scalars())
