"""Durable state of the service: SQLite by default, PostgreSQL in production.

``Store.open(url)`` connects and migrates (Alembic); methods return the frozen rows below.
"""

from anomalert.store.retention import RetentionConfig
from anomalert.store.rows import (
    AlertRow,
    AnomalyRow,
    FeedbackRow,
    HistoryRow,
    OutboxItem,
    OutboxStatus,
    SilenceRow,
)
from anomalert.store.store import Store

__all__ = [
    "AlertRow",
    "AnomalyRow",
    "FeedbackRow",
    "HistoryRow",
    "OutboxItem",
    "OutboxStatus",
    "RetentionConfig",
    "SilenceRow",
    "Store",
]
