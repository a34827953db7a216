"""An index for the services page: alert counts per (service, metric) and per day.

With 100,000 alerts stored, counting them per service, metric and start day read every
(wide, JSON-carrying) row; this narrow index covers those counts, so they read the index
only (one service: a range of it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_alerts_service_metric_starts_at", "alerts", ["service", "metric", "starts_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_service_metric_starts_at", table_name="alerts")
