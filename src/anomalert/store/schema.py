"""The one schema, for SQLite and PostgreSQL alike; Alembic migrations must match it.

Choices that keep both backends identical:

- Strings are ``Text``: SQLite ignores lengths, so a ``VARCHAR(n)`` would truncate (or fail)
  on PostgreSQL only.
- Times are unix seconds in ``Double`` (double precision), like everywhere else in the code.
  Nullable floats store NaN as NULL because SQLite turns NaN into NULL anyway.
- Labels, annotations, payloads and contexts are ``JSON``: read back as the same dict.
- Integer ids with ``sqlite_autoincrement``: SQLite would otherwise reuse the id of a deleted
  newest row, and an old dashboard link or a keyset page would point to another alert.
- ``alerts`` copies ``service``, ``metric``, ``alertname`` and ``summary`` out of the JSON
  labels and annotations so the dashboard can filter and search with plain indexed columns.
- Every list the dashboard pages through newest first has an index ending in ``id``, so
  ``WHERE x = ? AND id < ? ORDER BY id DESC LIMIT n`` reads n index entries, not the table.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _alert_ref(nullable: bool) -> sa.Column[int]:
    return sa.Column(
        "alert_id", sa.Integer, sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=nullable
    )


alerts = sa.Table(
    "alerts",
    metadata,
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
    #: When a firing external alert resolves unless sent again (revision 0005).
    sa.Column("expires_at", sa.Double, nullable=True),
    sa.UniqueConstraint("fingerprint", "starts_at"),
    sa.Index(None, "status", "id"),
    sa.Index(None, "service", "id"),
    sa.Index(None, "severity", "id"),
    sa.Index(None, "mode", "id"),
    sa.Index(None, "status", "ends_at"),
    #: The services page's counts per (service, metric) and start day (revision 0003).
    sa.Index(None, "service", "metric", "starts_at"),
    sqlite_autoincrement=True,
)

alert_history = sa.Table(
    "alert_history",
    metadata,
    _id(),
    _alert_ref(nullable=False),
    sa.Column("time", sa.Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index(None, "alert_id", "time"),
    sqlite_autoincrement=True,
)

feedback = sa.Table(
    "feedback",
    metadata,
    _id(),
    _alert_ref(nullable=False),
    sa.Column("time", sa.Double, nullable=False),
    sa.Column("helpful", sa.Boolean, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Index(None, "alert_id"),
    sa.Index(None, "service", "metric", "time"),
    sqlite_autoincrement=True,
)

anomalies = sa.Table(
    "anomalies",
    metadata,
    _id(),
    _alert_ref(nullable=True),
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
    sa.Index(None, "series", "timestamp"),
    sa.Index(None, "alert_id"),
    sa.Index(None, "timestamp"),
    sqlite_autoincrement=True,
)

events = sa.Table(
    "events",
    metadata,
    _id(),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("service", sa.Text, nullable=False),
    sa.Column("timestamp", sa.Double, nullable=False),
    sa.Column("version", sa.Text, nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("link", sa.Text, nullable=True),
    sa.Column("end", sa.Double, nullable=True),
    sa.Index(None, "service", "timestamp"),
    sa.Index(None, "timestamp"),
    sqlite_autoincrement=True,
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("matchers", sa.JSON, nullable=False),
    sa.Column("starts_at", sa.Double, nullable=False),
    sa.Column("ends_at", sa.Double, nullable=True),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("until_resolved", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index(None, "ends_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
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
    sa.UniqueConstraint("key"),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "receiver", "id"),
    sa.Index(None, "status", "updated_at"),
    sqlite_autoincrement=True,
)

# Checkpoints (revision 0004): each part's blob in chunks, written by generation; the head
# table names each part's current generation, flipped for all parts in one transaction.
checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

checkpoint_chunks = sa.Table(
    "checkpoint_chunks",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("generation", sa.BigInteger, primary_key=True),
    sa.Column("chunk", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

# -- the trust loop (revision 0002) ---------------------------------------------------------

service_settings = sa.Table(
    "service_settings",
    metadata,
    sa.Column("service", sa.Text, primary_key=True),
    #: The rollout mode set at runtime by an admin (NULL: the configured mode applies).
    sa.Column("mode", sa.Text, nullable=True),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
)

sensitivity = sa.Table(
    "sensitivity",
    metadata,
    sa.Column("service", sa.Text, primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    #: Feedback before this time no longer moves the threshold (an admin's reset).
    sa.Column("reset_at", sa.Double, nullable=True),
    #: The threshold the feedback rule last computed (NULL: the configured one applies).
    sa.Column("threshold", sa.Double, nullable=True),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

labelled_incidents = sa.Table(
    "labelled_incidents",
    metadata,
    _id(),
    #: The id the incident has where it came from (INC-001); re-importing updates, not adds.
    sa.Column("external_id", sa.Text, nullable=True),
    #: The service it hit (NULL: any service).
    sa.Column("service", sa.Text, nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("start", sa.Double, nullable=False),
    sa.Column("end", sa.Double, nullable=False),
    #: Where it was entered: page, csv, json, scenario.
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.UniqueConstraint("external_id"),
    sa.Index(None, "start"),
    sqlite_autoincrement=True,
)
