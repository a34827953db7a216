"""When a firing external alert resolves unless it is sent again: ``alerts.expires_at``.

An alert sent in Alertmanager's format carries its end (``endsAt``, a few evaluation
intervals ahead while it fires) and resolves then unless re-sent, as in Alertmanager; the
store keeps that time so a restarted service resolves what expired while it was down. Rows
stored before are NULL: the app gives a firing one ``ingest.alerts.resolve_timeout`` after
its last update.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("expires_at", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("expires_at")
