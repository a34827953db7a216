"""Checkpoints in chunks, by generation.

One row per part held the whole pickled blob: the detector's at 100,000 series is about
470 MB, and PostgreSQL refuses a field past 1 GB (about 130,000 series); written in one
transaction, SQLite held its write lock for the whole blob. Each part's blob is now rows of
chunks under a generation number, and ``checkpoints`` names each part's current generation:
the chunks are written first, each in a short transaction, then every part's head moves to
the new generation in one (``store.checkpoints``). What was stored carries over as
generation 1, one chunk per part.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkpoint_chunks",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("chunk", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("name", "generation", "chunk", name="pk_checkpoint_chunks"),
    )
    op.execute(
        "INSERT INTO checkpoint_chunks (name, generation, chunk, data)"
        " SELECT name, 1, 0, data FROM checkpoints"
    )
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("data")
        batch.add_column(sa.Column("generation", sa.BigInteger, nullable=False, server_default="1"))
    with op.batch_alter_table("checkpoints") as batch:
        batch.alter_column("generation", server_default=None)


def downgrade() -> None:
    """Back to one row per part: a part written in more than one chunk is forgotten (the
    service relearns it), the others keep their blob."""
    op.execute(
        "DELETE FROM checkpoints WHERE EXISTS (SELECT 1 FROM checkpoint_chunks c"
        " WHERE c.name = checkpoints.name AND c.generation = checkpoints.generation"
        " AND c.chunk > 0)"
    )
    with op.batch_alter_table("checkpoints") as batch:
        batch.add_column(sa.Column("data", sa.LargeBinary, nullable=True))
    op.execute(
        "UPDATE checkpoints SET data = (SELECT c.data FROM checkpoint_chunks c"
        " WHERE c.name = checkpoints.name AND c.generation = checkpoints.generation"
        " AND c.chunk = 0)"
    )
    op.execute("DELETE FROM checkpoints WHERE data IS NULL")
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("generation")
        batch.alter_column("data", nullable=False)
    op.drop_table("checkpoint_chunks")
