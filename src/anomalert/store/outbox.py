"""The outbox: a durable delivery queue whose idempotency key makes every page happen once.

The pipeline enqueues a notification under a deterministic key and the delivery thread sends
what is due. After a crash the pipeline re-runs and enqueues the same keys again; ``INSERT
... ON CONFLICT DO NOTHING`` makes those no-ops atomically, even when two processes race on
PostgreSQL. Pending items are never deleted by retention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from anomalert.store import schema
from anomalert.store.engine import insert
from anomalert.store.rows import OutboxItem, OutboxStatus

OUTBOX_STATUSES: tuple[OutboxStatus, ...] = ("pending", "sent", "failed")


def _item(r: sa.RowMapping) -> OutboxItem:
    return OutboxItem(
        id=r["id"],
        key=r["key"],
        receiver=r["receiver"],
        payload=r["payload"],
        status=r["status"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        last_error=r["last_error"],
        created_at=r["created_at"],
        sent_at=r["sent_at"],
        updated_at=r["updated_at"],
    )


class OutboxMixin:
    """The outbox of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def enqueue(self, key: str, receiver: str, payload: Mapping[str, Any], now: float) -> bool:
        """Queue a delivery, due now; False (and nothing changed) when the key exists."""
        row = {
            "key": key,
            "receiver": receiver,
            "payload": dict(payload),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
            "updated_at": now,
        }
        stmt = (
            insert(self._engine, schema.outbox)
            .values(row)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(schema.outbox.c.id)  # rowcount is not reliable here on every driver
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        """Pending items whose next attempt is at or before ``now``, oldest first."""
        t = schema.outbox
        query = (
            sa.select(t)
            .where(t.c.status == "pending", t.c.next_attempt_at <= now)
            .order_by(t.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [_item(r) for r in conn.execute(query).mappings()]

    def mark_sent(self, item_id: int, now: float) -> None:
        """The receiver took it: never send it again."""
        self._attempted(item_id, now, status="sent", sent_at=now, last_error=None)

    def mark_failed(self, item_id: int, now: float, error: str) -> None:
        """Permanent failure: kept with its error for the dashboard, not retried."""
        self._attempted(item_id, now, status="failed", last_error=error)

    def retry_later(self, item_id: int, now: float, next_at: float, error: str) -> None:
        """A retryable failure: try again at ``next_at`` (the caller computes the backoff)."""
        self._attempted(item_id, now, next_attempt_at=next_at, last_error=error)

    def _attempted(self, item_id: int, now: float, **values: Any) -> None:
        t = schema.outbox
        stmt = (
            sa.update(t)
            .where(t.c.id == item_id)
            .values(attempts=t.c.attempts + 1, updated_at=now, **values)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def enqueued_since(self, t: float) -> list[dict[str, Any]]:
        """The payload of each notification enqueued at or after ``t``, in enqueue order,
        once (every integration's item carries the same one), whatever became of it."""
        o = schema.outbox
        query = sa.select(o.c.payload).where(o.c.created_at >= t).order_by(o.c.id)
        out: dict[str, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for payload in conn.execute(query).scalars():
                if isinstance(payload, dict):
                    out.setdefault(str(payload.get("key")), payload)
        return list(out.values())

    def count_outbox(self, status: str) -> int:
        """How many items have this status (the /metrics gauge), without reading them."""
        t = schema.outbox
        query = sa.select(sa.func.count()).select_from(t).where(t.c.status == status)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def outbox(
        self,
        *,
        status: str | None = None,
        receiver: str | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """Items newest first, for the dashboard and the API."""
        t = schema.outbox
        where: list[sa.ColumnElement[bool]] = []
        if status is not None:
            if status not in OUTBOX_STATUSES:
                raise ValueError(f"unknown status {status!r}: one of {', '.join(OUTBOX_STATUSES)}")
            where.append(t.c.status == status)
        if receiver is not None:
            where.append(t.c.receiver == receiver)
        query = sa.select(t).where(*where).order_by(t.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_item(r) for r in conn.execute(query).mappings()]
