"""Checkpoints: the stages' pickled state, so a restarted service resumes where it stopped
instead of relearning every baseline.

Why chunks and generations: a checkpoint is one consistent moment of several parts
(detector, policy, pipeline...), and the detector's part grows with the series followed
(about 470 MB at 100,000). Stored as one field per part, PostgreSQL refused it past 1 GB,
and each part was replaced in its own transaction, so a crash between two parts resumed
with a detector from one moment and a policy from another (an alert the detector had
already flagged, unknown to the policy, was lost). Now each part's blob is written as
chunks of at most ``CHUNK`` bytes under a new generation, each chunk in a short transaction
(SQLite's write lock is held for one chunk, not for the whole checkpoint), and then one
transaction moves every part's head (``checkpoints``) to that generation: a crash before
it leaves the previous checkpoint whole, and its stray chunks are removed by the next save.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from anomalert.store import schema
from anomalert.store.engine import insert

#: Bytes per chunk row: far under PostgreSQL's 1 GB per field, and few rows per checkpoint.
CHUNK = 64 * 1024 * 1024


class CheckpointsMixin:
    """Checkpoints of :class:`anomalert.store.Store`."""

    _engine: sa.Engine

    def save_checkpoints(self, parts: Mapping[str, bytes], now: float) -> None:
        """Replace the blobs of ``parts`` (by name) together: a reader sees all of the
        new ones or none (the other names keep theirs)."""
        if not parts:
            return
        heads, chunks = schema.checkpoints, schema.checkpoint_chunks
        with self._engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(chunks.c.generation))).scalar()
        generation = int(newest or 0) + 1
        for name, blob in parts.items():
            view = memoryview(blob)
            for i, start in enumerate(range(0, max(len(view), 1), CHUNK)):
                row = {"name": name, "generation": generation, "chunk": i}
                with self._engine.begin() as conn:
                    conn.execute(chunks.insert().values(**row, data=view[start : start + CHUNK]))
        stmt = insert(self._engine, heads)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"generation": stmt.excluded.generation, "updated_at": stmt.excluded.updated_at},
        )
        rows = [{"name": name, "generation": generation, "updated_at": now} for name in parts]
        with self._engine.begin() as conn:
            conn.execute(stmt, rows)
        # The earlier generations of these parts, and chunks a crash left behind.
        with self._engine.begin() as conn:
            conn.execute(
                chunks.delete().where(
                    chunks.c.name.in_(list(parts)), chunks.c.generation != generation
                )
            )

    def save_checkpoint(self, name: str, data: bytes, now: float) -> None:
        """Replace the blob stored under ``name``."""
        self.save_checkpoints({name: data}, now)

    def load_checkpoints(self, names: Iterable[str]) -> dict[str, bytes | None]:
        """The current blob of each name (None: never saved), all of one moment: the heads
        are read together."""
        names = list(names)
        heads, chunks = schema.checkpoints, schema.checkpoint_chunks
        out: dict[str, bytes | None] = dict.fromkeys(names)
        with self._engine.connect() as conn:
            current = dict(
                conn.execute(
                    sa.select(heads.c.name, heads.c.generation).where(heads.c.name.in_(names))
                ).all()
            )
            for name, generation in current.items():
                query = (
                    sa.select(chunks.c.data)
                    .where(chunks.c.name == name, chunks.c.generation == generation)
                    .order_by(chunks.c.chunk)
                )
                out[name] = b"".join(bytes(data) for data in conn.execute(query).scalars())
        return out

    def checkpoint_time(self, name: str) -> float | None:
        """When the blob under ``name`` was saved (the service's clock), or None."""
        heads = schema.checkpoints
        query = sa.select(heads.c.updated_at).where(heads.c.name == name)
        with self._engine.connect() as conn:
            t = conn.execute(query).scalar()
        return None if t is None else float(t)

    def load_checkpoint(self, name: str) -> bytes | None:
        """The blob stored under ``name``, or None."""
        return self.load_checkpoints([name])[name]
