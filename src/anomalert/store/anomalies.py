"""Anomalies (verdicts that crossed the threshold) and change events: what explains an alert.

Both are kept so that "Explain this alert" works months later without a metrics database:
the anomaly carries its recent window of values and baseline band, and the events say what
changed nearby.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from anomalert.model import ChangeEvent, Kind, Scored
from anomalert.store import schema
from anomalert.store.rows import AnomalyRow


def _finite_or_none(x: float) -> float | None:
    """NaN (no baseline yet, no breach time) as SQL NULL: SQLite would store NULL anyway."""
    return x if math.isfinite(x) else None


def _nan_if_none(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _anomaly_row(r: sa.RowMapping) -> AnomalyRow:
    return AnomalyRow(
        id=r["id"],
        alert_id=r["alert_id"],
        series=r["series"],
        metric=r["metric"],
        labels=r["labels"],
        timestamp=r["timestamp"],
        value=_nan_if_none(r["value"]),
        score=r["score"],
        kind=Kind(r["kind"]),
        expected=_nan_if_none(r["expected"]),
        lower=_nan_if_none(r["lower"]),
        upper=_nan_if_none(r["upper"]),
        reason=r["reason"],
        detail=_nan_if_none(r["detail"]),
        window=[(float(t), _nan_if_none(v)) for t, v in r["window"]],
    )


class AnomaliesMixin:
    """Anomalies and change events of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def add_anomaly(
        self,
        scored: Scored,
        window: Sequence[tuple[float, float]],
        alert_id: int | None = None,
    ) -> int:
        """Keep one verdict with the values around it; the id."""
        row: dict[str, Any] = {
            "alert_id": alert_id,
            "series": scored.series,
            "metric": scored.metric,
            "labels": dict(scored.labels),
            "timestamp": scored.timestamp,
            "value": _finite_or_none(scored.value),
            "score": scored.score,
            "kind": int(scored.kind),
            "expected": _finite_or_none(scored.expected),
            "lower": _finite_or_none(scored.lower),
            "upper": _finite_or_none(scored.upper),
            "reason": scored.reason,
            "detail": _finite_or_none(scored.detail),
            # JSON has no NaN (PostgreSQL refuses it): a missing value is null
            "window": [[float(t), _finite_or_none(float(v))] for t, v in window],
        }
        stmt = sa.insert(schema.anomalies).values(row).returning(schema.anomalies.c.id)
        with self._engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def anomalies(
        self,
        *,
        series: str | None = None,
        alert_id: int | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[AnomalyRow]:
        """The newest ``limit`` matching anomalies, in time order (a chart reads left to right).

        ``since`` and ``until`` are inclusive bounds on the anomaly's timestamp.
        """
        t = schema.anomalies
        where: list[sa.ColumnElement[bool]] = []
        if series is not None:
            where.append(t.c.series == series)
        if alert_id is not None:
            where.append(t.c.alert_id == alert_id)
        if since is not None:
            where.append(t.c.timestamp >= since)
        if until is not None:
            where.append(t.c.timestamp <= until)
        query = sa.select(t).where(*where).order_by(t.c.timestamp.desc(), t.c.id.desc())
        with self._engine.connect() as conn:
            rows = [_anomaly_row(r) for r in conn.execute(query.limit(limit)).mappings()]
        rows.reverse()
        return rows

    def add_event(self, event: ChangeEvent) -> int:
        """Keep one change event (deployment, config change, flag, window); the id."""
        (event_id,) = self.add_events([event])
        return event_id

    def add_events(self, events: Sequence[ChangeEvent]) -> list[int]:
        """Keep change events, all or none (a request that fails stores nothing, so its
        retry stores nothing twice); their ids, in order."""
        with self._engine.begin() as conn:
            return [
                int(conn.execute(_insert_event(e)).scalar_one())  # one by one: ids in order
                for e in events
            ]

    def events(
        self,
        *,
        service: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[ChangeEvent]:
        """Events that touch ``[since, until]`` (inclusive), by time.

        A window event (maintenance, load test: ``end`` set) that began before ``since`` and
        is still running at ``since`` is included: it explains what happens inside it.
        """
        t = schema.events
        where: list[sa.ColumnElement[bool]] = []
        if service is not None:
            where.append(t.c.service == service)
        if since is not None:
            where.append(sa.func.coalesce(t.c.end, t.c.timestamp) >= since)
        if until is not None:
            where.append(t.c.timestamp <= until)
        query = sa.select(t).where(*where).order_by(t.c.timestamp, t.c.id)
        with self._engine.connect() as conn:
            return [
                ChangeEvent(
                    kind=r["kind"],
                    service=r["service"],
                    timestamp=r["timestamp"],
                    version=r["version"],
                    description=r["description"],
                    link=r["link"],
                    end=r["end"],
                )
                for r in conn.execute(query).mappings()
            ]


def _insert_event(event: ChangeEvent) -> sa.Insert:
    row = {
        "kind": event.kind,
        "service": event.service,
        "timestamp": event.timestamp,
        "version": event.version,
        "description": event.description,
        "link": event.link,
        "end": event.end,
    }
    return sa.insert(schema.events).values(row).returning(schema.events.c.id)
