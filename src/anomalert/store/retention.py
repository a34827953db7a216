"""How long the store keeps what, and the cleanup that applies it.

Retention ages rows by the time that ends their usefulness: a resolved alert by when it
resolved, an anomaly or event by when it happened (an event window by its end), a delivered
or failed notification by its last attempt, a silence by when it expired. Pending outbox
items are never deleted: dropping one would be dropping a page.
"""

from __future__ import annotations

import sqlalchemy as sa

from anomalert.configbase import Duration, StrictModel
from anomalert.store import schema

DAY = 86400.0


class RetentionConfig(StrictModel):
    """What the store keeps, and how often the service runs cleanup.

    - ``resolved_alerts`` (90d): an alert resolved more than this long ago goes, with its
      history, feedback and anomalies. A quarter covers the weekly alert audit, monthly
      MTTR reports and "similar incidents" over a season, while the table stays small.
    - ``anomalies`` (30d): anomalies that never became a kept alert (shadow mode, below
      the "for" duration). A month is enough to tune sensitivity and compare shadow mode
      with incidents; they are the most numerous rows.
    - ``events`` (90d): change events, as long as the alerts they may explain.
    - ``sent_outbox`` (7d): sent or permanently failed notifications, kept a week to
      answer "was I paged?" and to debug a receiver; the alert history keeps the record.
    - ``expired_silences`` (7d): a silence that ended a week ago is no longer worth
      showing next to the active ones (or re-creating from).
    - ``interval`` (1h): cleanup deletes in a few short transactions; hourly keeps each
      run small without measurable cost.

    >>> RetentionConfig(anomalies="14d").anomalies
    1209600.0
    """

    resolved_alerts: Duration = 90 * DAY
    anomalies: Duration = 30 * DAY
    events: Duration = 90 * DAY
    sent_outbox: Duration = 7 * DAY
    expired_silences: Duration = 7 * DAY
    interval: Duration = 3600.0


def cleanup(engine: sa.Engine, now: float, policy: RetentionConfig) -> dict[str, int]:
    """Delete what ``policy`` says is too old at ``now``; rows deleted per table."""
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        _old_alerts(conn, now - policy.resolved_alerts, deleted)
        _count(
            conn,
            deleted,
            schema.anomalies,
            schema.anomalies.c.alert_id.is_(None),
            schema.anomalies.c.timestamp < now - policy.anomalies,
        )
    with engine.begin() as conn:
        e = schema.events
        cutoff = now - policy.events
        _count(conn, deleted, e, sa.func.coalesce(e.c.end, e.c.timestamp) < cutoff)
        o = schema.outbox
        _count(
            conn,
            deleted,
            o,
            o.c.status.in_(("sent", "failed")),
            o.c.updated_at < now - policy.sent_outbox,
        )
        s = schema.silences
        _count(
            conn, deleted, s, s.c.ends_at.is_not(None), s.c.ends_at < now - policy.expired_silences
        )
    return deleted


def _old_alerts(conn: sa.Connection, cutoff: float, deleted: dict[str, int]) -> None:
    """Resolved alerts older than ``cutoff`` and every row attached to them."""
    a = schema.alerts
    ended = sa.or_(a.c.ends_at < cutoff, sa.and_(a.c.ends_at.is_(None), a.c.updated_at < cutoff))
    old = sa.select(a.c.id).where(a.c.status == "resolved", ended)
    for child in (schema.alert_history, schema.feedback, schema.anomalies):
        _count(conn, deleted, child, child.c.alert_id.in_(old))
    _count(conn, deleted, a, a.c.id.in_(old))


def _count(
    conn: sa.Connection, deleted: dict[str, int], table: sa.Table, *where: sa.ColumnElement[bool]
) -> None:
    n = conn.execute(sa.delete(table).where(*where)).rowcount
    deleted[table.name] = deleted.get(table.name, 0) + n
