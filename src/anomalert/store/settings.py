"""Runtime settings people change from the dashboard: service modes and tuned sensitivity.

The YAML file says how a service starts; these rows say what admins and feedback changed
since, so a restart (or a second process on the same database) keeps those decisions.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from anomalert.model import Mode
from anomalert.store import schema
from anomalert.store.engine import insert
from anomalert.store.rows import SensitivityRow, ServiceSettingRow


class SettingsMixin:
    """Service modes and sensitivity of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def set_service_mode(self, service: str, mode: Mode | None, now: float, by: str) -> None:
        """Record a runtime mode (None: the configured mode applies again)."""
        values = {"service": service, "mode": mode, "updated_at": now, "updated_by": by}
        stmt = insert(self._engine, schema.service_settings).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["service"],
            set_={c: stmt.excluded[c] for c in ("mode", "updated_at", "updated_by")},
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def service_settings(self) -> dict[str, ServiceSettingRow]:
        """Every service's runtime setting, by service."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(schema.service_settings)).mappings()
            return {r["service"]: ServiceSettingRow(**cast(dict[str, Any], r)) for r in rows}

    def save_sensitivity(self, row: SensitivityRow) -> None:
        """Insert or replace the sensitivity of one (service, metric)."""
        values = {
            "service": row.service,
            "metric": row.metric,
            "reset_at": row.reset_at,
            "threshold": row.threshold,
            "explanation": row.explanation,
            "updated_at": row.updated_at,
        }
        stmt = insert(self._engine, schema.sensitivity).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["service", "metric"],
            set_={
                c: stmt.excluded[c] for c in ("reset_at", "threshold", "explanation", "updated_at")
            },
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def sensitivities(self, service: str | None = None) -> list[SensitivityRow]:
        """Stored sensitivities (of one service, or all), by service and metric."""
        t = schema.sensitivity
        query = sa.select(t).order_by(t.c.service, t.c.metric)
        if service is not None:
            query = query.where(t.c.service == service)
        with self._engine.connect() as conn:
            return [
                SensitivityRow(**cast(dict[str, Any], r)) for r in conn.execute(query).mappings()
            ]
