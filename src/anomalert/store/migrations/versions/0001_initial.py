"""Initial schema: alerts with history and feedback, anomalies, events, silences, outbox,
checkpoints.

Written out in full (not ``metadata.create_all``) so that it stays the schema of revision
0001 when ``schema.py`` moves on; a test compares the migrated database with the metadata.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTOINC = {"sqlite_autoincrement": True}


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _alert_ref(table: str, nullable: bool) -> sa.Column[int]:
    return sa.Column(
        "alert_id",
        sa.Integer,
        sa.ForeignKey("alerts.id", ondelete="CASCADE", name=f"fk_{table}_alert_id_alerts"),
        nullable=nullable,
    )


def _indexes(table: str, *columns: tuple[str, ...]) -> None:
    for cols in columns:
        op.create_index(f"ix_{table}_{'_'.join(cols)}", table, list(cols))


def upgrade() -> None:
    op.create_table(
        "alerts",
        _id(),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("severity", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("alertname", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("acked_at", sa.Double, nullable=True),
        sa.Column("acked_by", sa.Text, nullable=True),
        sa.Column("context", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("fingerprint", "starts_at", name="uq_alerts_fingerprint_starts_at"),
        **_AUTOINC,
    )
    _indexes(
        "alerts",
        ("status", "id"),
        ("service", "id"),
        ("severity", "id"),
        ("mode", "id"),
        ("status", "ends_at"),
    )

    op.create_table(
        "alert_history",
        _id(),
        _alert_ref("alert_history", nullable=False),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_history"),
        **_AUTOINC,
    )
    _indexes("alert_history", ("alert_id", "time"))

    op.create_table(
        "feedback",
        _id(),
        _alert_ref("feedback", nullable=False),
        sa.Column("time", sa.Double, nullable=False),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        **_AUTOINC,
    )
    _indexes("feedback", ("alert_id",), ("service", "metric", "time"))

    op.create_table(
        "anomalies",
        _id(),
        _alert_ref("anomalies", nullable=True),
        sa.Column("series", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("expected", sa.Double, nullable=True),
        sa.Column("lower", sa.Double, nullable=True),
        sa.Column("upper", sa.Double, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Double, nullable=True),
        sa.Column("window", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_anomalies"),
        **_AUTOINC,
    )
    _indexes("anomalies", ("series", "timestamp"), ("alert_id",), ("timestamp",))

    op.create_table(
        "events",
        _id(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("version", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=True),
        sa.Column("end", sa.Double, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        **_AUTOINC,
    )
    _indexes("events", ("service", "timestamp"), ("timestamp",))

    op.create_table(
        "silences",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("starts_at", sa.Double, nullable=False),
        sa.Column("ends_at", sa.Double, nullable=True),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("until_resolved", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    _indexes("silences", ("ends_at",))

    op.create_table(
        "outbox",
        _id(),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("sent_at", sa.Double, nullable=True),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
        **_AUTOINC,
    )
    _indexes("outbox", ("status", "next_attempt_at"), ("receiver", "id"), ("status", "updated_at"))

    op.create_table(
        "checkpoints",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_checkpoints"),
    )


def downgrade() -> None:
    for table in (
        "checkpoints",
        "outbox",
        "silences",
        "events",
        "anomalies",
        "feedback",
        "alert_history",
        "alerts",
    ):
        op.drop_table(table)
