"""Runtime settings people change from the dashboard: service modes and tuned sensitivity.

The YAML file says how a service starts; these rows say what admins and feedback changed
since, so a restart (or a second process on the same database) keeps those decisions.

Also the aggregates the services page and the feedback rule read: GROUP BY statements,
never a row per alert back to Python. With 100,000 alerts stored, the services page reads
the narrow ``(service, metric, starts_at)`` index of ``alerts`` (revision 0003), not the
table's rows with their JSON; tuning one (service, metric) reads its feedback by the
``(service, metric, time)`` index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from anomalert.model import Mode
from anomalert.store import schema
from anomalert.store.engine import insert
from anomalert.store.rows import SensitivityRow, ServiceSettingRow

DAY = 86400.0
#: Feedback counts per key: (helpful, not helpful).
Votes = tuple[int, int]


@dataclass(frozen=True)
class AlertStats:
    """Alerts of one (service, metric): totals and how many started each UTC day."""

    service: str
    metric: str
    total: int
    firing: int
    last_7d: int
    #: Alerts started per UTC day, oldest first; the last day is the one holding ``now``.
    days: tuple[int, ...]


def day_starts(now: float, days: int) -> list[float]:
    """The starts (unix seconds) of the ``days`` UTC days up to the one holding ``now``.

    >>> day_starts(2 * 86400.0 + 5.0, 2)
    [86400.0, 172800.0]
    """
    today = (now // DAY) * DAY
    return [today - (days - 1 - i) * DAY for i in range(days)]


class SettingsMixin:
    """Service modes and sensitivity of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def sensitivity(self, service: str, metric: str) -> SensitivityRow | None:
        """The stored sensitivity of one (service, metric), or None."""
        t = schema.sensitivity
        query = sa.select(t).where(t.c.service == service, t.c.metric == metric)
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else SensitivityRow(**cast(dict[str, Any], row))

    def feedback_counts(
        self,
        *,
        service: str | None = None,
        metric: str | None = None,
        since: float | None = None,
        source: str | None = None,
    ) -> dict[tuple[str, str], Votes]:
        """(helpful, not helpful) per (service, metric), optionally for one service or
        metric, feedback given after ``since``, on alerts of one ``source``
        ("anomaly": the alerts whose threshold feedback may move)."""
        f, a = schema.feedback, schema.alerts
        helpful = sa.func.sum(sa.case((f.c.helpful, 1), else_=0))
        query = sa.select(f.c.service, f.c.metric, helpful, sa.func.count())
        where: list[sa.ColumnElement[bool]] = []
        if service is not None:
            where.append(f.c.service == service)
        if metric is not None:
            where.append(f.c.metric == metric)
        if since is not None:
            where.append(f.c.time > since)
        if source is not None:
            query = query.join(a, a.c.id == f.c.alert_id)
            where.append(a.c.source == source)
        query = query.where(*where).group_by(f.c.service, f.c.metric)
        with self._engine.connect() as conn:
            return {
                (svc, m): (int(h or 0), int(n) - int(h or 0))
                for svc, m, h, n in conn.execute(query)
            }

    def alert_stats(
        self, now: float, *, service: str | None = None, days: int = 14
    ) -> list[AlertStats]:
        """Alert counts per (service, metric): total, firing, started in the last 7 days,
        and started on each of the ``days`` UTC days up to now.

        Three GROUP BY statements that read indexes only: totals over
        ``(service, metric, starts_at)``, firing ones by ``status``, the days over the same
        index filtered to the days shown (evaluating the per-day sums on those rows only).
        """
        t = schema.alerts
        starts = day_starts(now, days)
        ends = [*starts[1:], starts[-1] + DAY]
        key = (t.c.service, t.c.metric)
        where = [] if service is None else [t.c.service == service]

        def count_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
            return sa.func.sum(sa.case((cond, 1), else_=0))

        totals = sa.select(*key, sa.func.count(), count_if(t.c.starts_at >= now - 7 * DAY))
        firing = sa.select(*key, sa.func.count()).where(t.c.status == "firing")
        per_day = sa.select(
            *key,
            *(
                count_if(sa.and_(t.c.starts_at >= lo, t.c.starts_at < hi))
                for lo, hi in zip(starts, ends, strict=True)
            ),
        ).where(t.c.starts_at >= starts[0])
        with self._engine.connect() as conn:
            rows = conn.execute(totals.where(*where).group_by(*key)).all()
            fire = {
                (r[0], r[1]): int(r[2]) for r in conn.execute(firing.where(*where).group_by(*key))
            }
            daily = {
                (r[0], r[1]): tuple(int(v or 0) for v in r[2:])
                for r in conn.execute(per_day.where(*where).group_by(*key))
            }
        empty = (0,) * days
        return sorted(
            (
                AlertStats(
                    service=svc,
                    metric=metric,
                    total=int(total),
                    firing=fire.get((svc, metric), 0),
                    last_7d=int(week or 0),
                    days=daily.get((svc, metric), empty),
                )
                for svc, metric, total, week in rows
            ),
            key=lambda a: (a.service, a.metric),
        )

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
