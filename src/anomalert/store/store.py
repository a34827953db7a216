"""The store: durable state of the service, on SQLite (embedded default) or PostgreSQL.

One class composed of small mixins, one per concern (alerts, anomalies and events,
silences, checkpoints, outbox), over one engine. Every method is synchronous and one
short transaction, so the asyncio thread and the delivery thread can share a store; times
are unix seconds passed in by the caller (no hidden clock: replay and tests control time).
"""

from __future__ import annotations

import sqlalchemy as sa

from anomalert.store.alerts import AlertsMixin
from anomalert.store.anomalies import AnomaliesMixin
from anomalert.store.checkpoints import CheckpointsMixin
from anomalert.store.engine import create_engine, masked, normalise_url, upgrade
from anomalert.store.incidents import IncidentsMixin
from anomalert.store.outbox import OutboxMixin
from anomalert.store.reports import ReportsMixin
from anomalert.store.retention import RetentionConfig, cleanup
from anomalert.store.settings import SettingsMixin
from anomalert.store.silences import SilencesMixin


class Store(
    AlertsMixin,
    AnomaliesMixin,
    SilencesMixin,
    CheckpointsMixin,
    OutboxMixin,
    SettingsMixin,
    IncidentsMixin,
    ReportsMixin,
):
    """Durable state: alerts, anomalies, events, silences, outbox, checkpoints, runtime
    settings (service modes, sensitivity) and labelled incidents.

    >>> store = Store.open("sqlite:///:memory:")
    >>> store.enqueue("k1", "pager", {"text": "hi"}, now=10.0)
    True
    >>> store.enqueue("k1", "pager", {"text": "hi"}, now=11.0)
    False
    >>> store.close()
    """

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self._engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to ``sqlite:///path.db`` or ``postgresql://...`` and migrate to head.

        Safe on an up-to-date database (the migration is a no-op), so the service calls it
        on every start.
        """
        parsed = normalise_url(url)
        engine = create_engine(parsed)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, masked(parsed))

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for tests and maintenance, not for the pipeline)."""
        return self._engine

    def cleanup(self, now: float, policy: RetentionConfig) -> dict[str, int]:
        """Apply retention at ``now``; rows deleted per table."""
        return cleanup(self._engine, now, policy)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"
