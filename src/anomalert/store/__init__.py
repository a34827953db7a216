"""Durable state of the service: SQLite by default, PostgreSQL in production.

``Store.open(url)`` connects and migrates (Alembic); methods return the frozen rows below.
"""

from anomalert.store.retention import RetentionConfig
from anomalert.store.rows import (
    AlertRow,
    AnomalyRow,
    FeedbackRow,
    HistoryRow,
    LabelledIncidentRow,
    OutboxItem,
    OutboxStatus,
    SensitivityRow,
    ServiceSettingRow,
    SilenceRow,
)
from anomalert.store.store import Store

__all__ = [
    "AlertRow",
    "AnomalyRow",
    "FeedbackRow",
    "HistoryRow",
    "LabelledIncidentRow",
    "OutboxItem",
    "OutboxStatus",
    "RetentionConfig",
    "SensitivityRow",
    "ServiceSettingRow",
    "SilenceRow",
    "Store",
]
