"""The trust loop: runtime service modes, feedback-tuned sensitivity, labelled incidents.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_settings",
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=True),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("service", name="pk_service_settings"),
    )
    op.create_table(
        "sensitivity",
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("reset_at", sa.Double, nullable=True),
        sa.Column("threshold", sa.Double, nullable=True),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("service", "metric", name="pk_sensitivity"),
    )
    op.create_table(
        "labelled_incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("service", sa.Text, nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("start", sa.Double, nullable=False),
        sa.Column("end", sa.Double, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_labelled_incidents"),
        sa.UniqueConstraint("external_id", name="uq_labelled_incidents_external_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_labelled_incidents_start", "labelled_incidents", ["start"])


def downgrade() -> None:
    for table in ("labelled_incidents", "sensitivity", "service_settings"):
        op.drop_table(table)
