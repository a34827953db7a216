"""Labelled incidents: what really happened, as people entered or imported it.

The shadow-mode report compares a service's would-be alerts with these. An incident with an
``external_id`` (the id in the file it came from) is upserted on it, so importing the same
file twice does not count an incident twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from anomalert.store import schema
from anomalert.store.engine import insert
from anomalert.store.rows import LabelledIncidentRow

_UPDATED = ("service", "title", "start", "end", "source")


class IncidentsMixin:
    """Labelled incidents of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def add_labelled_incidents(self, incidents: Iterable[dict[str, Any]], now: float) -> list[int]:
        """Store incidents (keys: external_id?, service?, title, start, end, source); ids.

        Rows with an ``external_id`` already stored replace it (same id).
        """
        t = schema.labelled_incidents
        ids: list[int] = []
        with self._engine.begin() as conn:
            for item in incidents:
                values = {
                    "external_id": item.get("external_id"),
                    "service": item.get("service"),
                    "title": item.get("title", ""),
                    "start": float(item["start"]),
                    "end": float(item["end"]),
                    "source": item.get("source", "page"),
                    "created_at": now,
                }
                if values["external_id"] is None:
                    stmt = sa.insert(t).values(values).returning(t.c.id)
                else:
                    up = insert(self._engine, t).values(values)
                    stmt = up.on_conflict_do_update(
                        index_elements=["external_id"],
                        set_={c: up.excluded[c] for c in _UPDATED},
                    ).returning(t.c.id)
                ids.append(int(conn.execute(stmt).scalar_one()))
        return ids

    def labelled_incidents(
        self,
        *,
        service: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[LabelledIncidentRow]:
        """Incidents overlapping [since, until], oldest first; ``service`` also keeps the
        incidents that name no service."""
        t = schema.labelled_incidents
        where: list[sa.ColumnElement[bool]] = []
        if service is not None:
            where.append(sa.or_(t.c.service == service, t.c.service.is_(None)))
        if since is not None:
            where.append(t.c.end >= since)
        if until is not None:
            where.append(t.c.start <= until)
        query = sa.select(t).where(*where).order_by(t.c.start, t.c.id)
        with self._engine.connect() as conn:
            return [
                LabelledIncidentRow(**cast(dict[str, Any], r))
                for r in conn.execute(query).mappings()
            ]

    def delete_labelled_incident(self, incident_id: int) -> bool:
        """Remove one incident; False when there is none with this id."""
        t = schema.labelled_incidents
        with self._engine.begin() as conn:
            return conn.execute(sa.delete(t).where(t.c.id == incident_id)).rowcount > 0
