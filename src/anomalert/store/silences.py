"""Silences: state the service must find again after a restart.

Silences are stored as generic rows (the alert package owns what matchers mean).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import sqlalchemy as sa

from anomalert.store import schema
from anomalert.store.engine import insert
from anomalert.store.rows import SilenceRow


class SilencesMixin:
    """Silences of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def save_silence(self, row: SilenceRow) -> None:
        """Insert the silence, or replace every field of the one with the same id."""
        self.save_silences([row])

    def save_silences(self, rows: Iterable[SilenceRow]) -> None:
        """:meth:`save_silence` for each, in one transaction: all are saved or none."""
        with self._engine.begin() as conn:
            for row in rows:
                values = dataclasses.asdict(row)
                values["matchers"] = [dict(m) for m in row.matchers]
                stmt = insert(self._engine, schema.silences).values(values)
                stmt = stmt.on_conflict_do_update(
                    index_elements=["id"], set_={k: stmt.excluded[k] for k in values if k != "id"}
                )
                conn.execute(stmt)

    def get_silence(self, silence_id: str) -> SilenceRow | None:
        """The silence with this id, or None."""
        t = schema.silences
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == silence_id)).mappings().first()
        return None if row is None else SilenceRow(**row)

    def list_silences(self) -> list[SilenceRow]:
        """Every stored silence (expired ones until retention removes them), by start."""
        t = schema.silences
        query = sa.select(t).order_by(t.c.starts_at, t.c.id)
        with self._engine.connect() as conn:
            return [SilenceRow(**r) for r in conn.execute(query).mappings()]
