"""Alert episodes, their timelines, acknowledgements and feedback.

One row per episode: ``(fingerprint, starts_at)`` is unique, so the pipeline can upsert the
same snapshot again after a restart without creating a second alert. Lists page newest first
by id (keyset, ``before_id``): a page costs the same on the first and on the thousandth page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import sqlalchemy as sa

from anomalert.model import Alert, Episode
from anomalert.store import schema
from anomalert.store.engine import insert
from anomalert.store.rows import AlertRow, FeedbackRow, HistoryRow

#: ``state`` filter values of :meth:`AlertsMixin.list_alerts`.
STATES = ("firing", "resolved", "acknowledged", "unacknowledged")
#: Fingerprints asked per query (SQLite allows a few thousand bound values at most).
_CHUNK = 500
#: The ``incident`` filter reads a label (no index): it looks at this many alerts at most,
#: the newest below ``before_id``, so a page stays bounded with 100,000 alerts stored.
INCIDENT_SCAN = 20_000

_UPDATED = (
    "ends_at",
    "status",
    "score",
    "severity",
    "mode",
    "source",
    "updated_at",
    "labels",
    "annotations",
    "service",
    "metric",
    "alertname",
    "summary",
    "expires_at",
)


def _values(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "score": alert.score,
        "severity": alert.severity,
        "mode": alert.mode,
        "source": alert.source,
        "updated_at": alert.updated_at,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "service": alert.labels.get("service", ""),
        "metric": alert.labels.get("metric", ""),
        "alertname": alert.labels.get("alertname", ""),
        "summary": alert.annotations.get("summary", ""),
        "expires_at": alert.expires_at,
    }


def _alert_row(r: sa.RowMapping) -> AlertRow:
    return AlertRow(
        id=r["id"],
        fingerprint=r["fingerprint"],
        labels=r["labels"],
        annotations=r["annotations"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        status=r["status"],
        score=r["score"],
        severity=r["severity"],
        mode=r["mode"],
        source=r["source"],
        updated_at=r["updated_at"],
        acked_at=r["acked_at"],
        acked_by=r["acked_by"],
        context=r["context"],
        expires_at=r["expires_at"],
    )


def _filters(
    state: str | None, service: str | None, severity: str | None, mode: str | None
) -> list[sa.ColumnElement[bool]]:
    t = schema.alerts
    where: list[sa.ColumnElement[bool]] = []
    if state in ("firing", "resolved"):
        where.append(t.c.status == state)
    elif state == "acknowledged":
        where.append(t.c.acked_at.is_not(None))
    elif state == "unacknowledged":
        where += [t.c.status == "firing", t.c.acked_at.is_(None)]
    elif state is not None:
        raise ValueError(f"unknown state {state!r}: one of {', '.join(STATES)}")
    if service is not None:
        where.append(t.c.service == service)
    if severity is not None:
        where.append(t.c.severity == severity)
    if mode is not None:
        where.append(t.c.mode == mode)
    return where


class AlertsMixin:
    """Alerts, history, acks and feedback of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def upsert_alert(self, alert: Alert, context: Mapping[str, Any] | None = None) -> int:
        """Insert the episode or update its last snapshot; the id stays the same.

        ``context`` (recent values, baseline band, anomaly details) is replaced only when
        given, so a later snapshot without one keeps what explains the alert.
        """
        values = _values(alert)
        if context is not None:
            values["context"] = dict(context)
        stmt = insert(self._engine, schema.alerts).values(values)
        update = {c: stmt.excluded[c] for c in _UPDATED}
        if context is not None:
            update["context"] = stmt.excluded.context
        stmt = stmt.on_conflict_do_update(index_elements=["fingerprint", "starts_at"], set_=update)
        with self._engine.begin() as conn:
            return int(conn.execute(stmt.returning(schema.alerts.c.id)).scalar_one())

    def upsert_alerts(self, alerts: Iterable[Alert]) -> None:
        """Many snapshots in one transaction and one batched statement (replay, imports).

        Each episode may appear once per call (PostgreSQL refuses to update a row twice in
        one statement); contexts are left as they are.
        """
        rows = [_values(a) for a in alerts]
        if not rows:
            return
        stmt = insert(self._engine, schema.alerts)
        stmt = stmt.on_conflict_do_update(
            index_elements=["fingerprint", "starts_at"],
            set_={c: stmt.excluded[c] for c in _UPDATED},
        )
        with self._engine.begin() as conn:
            conn.execute(stmt, rows)

    def get_alert(self, alert_id: int) -> AlertRow | None:
        """The alert with this id, or None."""
        return self._one_alert(schema.alerts.c.id == alert_id)

    def find_alert(self, fingerprint: str, starts_at: float | None = None) -> AlertRow | None:
        """The episode of this fingerprint that started at ``starts_at``, or None.

        Without ``starts_at``, its newest episode (the unique index on fingerprint and
        start answers it).
        """
        t = schema.alerts
        if starts_at is None:
            return self._one_alert(t.c.fingerprint == fingerprint, t.c.starts_at.desc())
        return self._one_alert(sa.and_(t.c.fingerprint == fingerprint, t.c.starts_at == starts_at))

    def latest_episodes(self, fingerprints: Iterable[str]) -> dict[str, Episode]:
        """The newest episode of each of these fingerprints that has one: its start, and its
        end when it is resolved (None while it fires). A few index look-ups per fingerprint
        (the unique index on fingerprint and start), asked by chunks of a few hundred."""
        t, b = schema.alerts, schema.alerts.alias("b")
        newest = (
            sa.select(sa.func.max(b.c.starts_at))
            .where(b.c.fingerprint == t.c.fingerprint)
            .scalar_subquery()
        )
        wanted = sorted(set(fingerprints))
        out: dict[str, Episode] = {}
        with self._engine.connect() as conn:
            for i in range(0, len(wanted), _CHUNK):
                query = sa.select(t.c.fingerprint, t.c.starts_at, t.c.ends_at, t.c.status).where(
                    t.c.fingerprint.in_(wanted[i : i + _CHUNK]), t.c.starts_at == newest
                )
                for fp, start, end, status in conn.execute(query):
                    out[fp] = (start, end if status == "resolved" else None)
        return out

    def firing_alerts(self, source: str) -> list[AlertRow]:
        """Every firing alert of this source (``external``: those that expire), oldest first.

        Not paged: a service starting reads them all once (the index on status and id)."""
        t = schema.alerts
        query = sa.select(t).where(t.c.status == "firing", t.c.source == source).order_by(t.c.id)
        with self._engine.connect() as conn:
            return [_alert_row(r) for r in conn.execute(query).mappings()]

    def _one_alert(
        self, where: sa.ColumnElement[bool], order: sa.ColumnElement[Any] | None = None
    ) -> AlertRow | None:
        query = sa.select(schema.alerts).where(where)
        if order is not None:
            query = query.order_by(order).limit(1)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _alert_row(row)

    def list_alerts(
        self,
        *,
        state: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        mode: str | None = None,
        search: str | None = None,
        incident: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AlertRow]:
        """Newest first; the next page is ``before_id=page[-1].id``.

        ``state`` is firing, resolved, acknowledged or unacknowledged (firing, nobody took
        it). ``search`` is a case-insensitive substring of service, metric, alertname or
        summary (``%`` and ``_`` match themselves). ``incident`` keeps the alerts of one
        incident group (its ``incident`` label) among the newest :data:`INCIDENT_SCAN`.
        """
        t = schema.alerts
        where = _filters(state, service, severity, mode)
        if before_id is not None:
            where.append(t.c.id < before_id)
        if incident is not None:
            window = sa.select(t.c.id).where(*where).order_by(t.c.id.desc()).limit(INCIDENT_SCAN)
            where.append(t.c.id.in_(window.scalar_subquery()))
            where.append(t.c.labels["incident"].as_string() == incident)
        if search:
            where.append(
                sa.or_(
                    *(
                        col.icontains(search, autoescape=True)
                        for col in (t.c.service, t.c.metric, t.c.alertname, t.c.summary)
                    )
                )
            )
        query = sa.select(t).where(*where).order_by(t.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_alert_row(r) for r in conn.execute(query).mappings()]

    def count_alerts(
        self,
        *,
        state: str | None = None,
        service: str | None = None,
        severity: str | None = None,
        mode: str | None = None,
    ) -> int:
        """How many alerts match the same filters as :meth:`list_alerts`."""
        query = (
            sa.select(sa.func.count())
            .select_from(schema.alerts)
            .where(*_filters(state, service, severity, mode))
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def add_history(self, alert_id: int, time: float, kind: str, detail: Mapping[str, Any]) -> None:
        """Append one step to the alert's timeline (state, notification, ack, feedback...)."""
        row = {"alert_id": alert_id, "time": time, "kind": kind, "detail": dict(detail)}
        with self._engine.begin() as conn:
            conn.execute(sa.insert(schema.alert_history), row)

    def history(self, alert_id: int) -> list[HistoryRow]:
        """The alert's timeline, oldest first."""
        t = schema.alert_history
        query = sa.select(t).where(t.c.alert_id == alert_id).order_by(t.c.time, t.c.id)
        with self._engine.connect() as conn:
            return [HistoryRow(**r) for r in conn.execute(query).mappings()]

    def ack(self, alert_id: int, time: float, by: str) -> bool:
        """Record who took the alert; False for an unknown id.

        The first acknowledgement is kept (a second click does not change who took it).
        Callers add the matching ``"ack"`` history row.
        """
        t = schema.alerts
        stmt = (
            sa.update(t)
            .where(t.c.id == alert_id)
            .values(
                acked_at=sa.func.coalesce(t.c.acked_at, time),
                acked_by=sa.func.coalesce(t.c.acked_by, by),
            )
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def add_feedback(self, alert_id: int, time: float, helpful: bool, comment: str) -> int:
        """Store "helpful / not helpful"; the id. KeyError for an unknown alert.

        Service and metric are copied from the alert in the same statement, so tuning can
        query feedback per series even after the alert itself is gone.
        """
        a, f = schema.alerts, schema.feedback
        source = sa.select(
            a.c.id,
            sa.literal(time, sa.Double),
            sa.literal(helpful, sa.Boolean),
            sa.literal(comment, sa.Text),
            a.c.service,
            a.c.metric,
        ).where(a.c.id == alert_id)
        stmt = (
            sa.insert(f)
            .from_select(["alert_id", "time", "helpful", "comment", "service", "metric"], source)
            .returning(f.c.id)
        )
        with self._engine.begin() as conn:
            new_id = conn.execute(stmt).scalar()
        if new_id is None:
            raise KeyError(alert_id)
        return int(new_id)

    def feedback(
        self,
        *,
        service: str | None = None,
        metric: str | None = None,
        since: float | None = None,
    ) -> list[FeedbackRow]:
        """Feedback in time order, optionally for one service / metric / recent window."""
        f = schema.feedback
        where: list[sa.ColumnElement[bool]] = []
        if service is not None:
            where.append(f.c.service == service)
        if metric is not None:
            where.append(f.c.metric == metric)
        if since is not None:
            where.append(f.c.time >= since)
        query = sa.select(f).where(*where).order_by(f.c.time, f.c.id)
        with self._engine.connect() as conn:
            return [FeedbackRow(**cast(dict[str, Any], r)) for r in conn.execute(query).mappings()]
