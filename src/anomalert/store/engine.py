"""Connecting to SQLite or PostgreSQL, migrating, and the one dialect difference we use.

SQLite is the embedded default (one process, no server); PostgreSQL is for production. The
engine is shared by the asyncio thread and the delivery thread, so SQLite connections are
opened with ``check_same_thread=False`` and every one gets the same pragmas: WAL (readers
never block the writer), foreign keys (cascades work as on PostgreSQL) and a busy timeout
(a second writer waits instead of failing at once).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
MIGRATION_LOCK = 0x616E6F6D  # PostgreSQL advisory lock key: "anom"

Insert = postgresql.Insert | sqlite.Insert


def normalise_url(url: str) -> URL:
    """The SQLAlchemy URL with the driver we ship (psycopg 3) for PostgreSQL.

    >>> normalise_url("postgresql://u:pw@db:5432/a").drivername
    'postgresql+psycopg'
    >>> normalise_url("sqlite:///data/a.db").database
    'data/a.db'
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed


def masked(url: URL) -> str:
    """The URL as logs and answers may show it: the password replaced by ``***``."""
    return url.render_as_string(hide_password=True)


def create_engine(url: URL) -> sa.Engine:
    """One engine per store, ready for use from several threads of one process."""
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True)
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or each thread sees its own DB
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL
    finally:
        cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the database file to WAL, waiting for other connections doing the same.

    Why a loop: SQLite answers "database is locked" at once, without its busy handler, when
    two connections change the journal mode of a new file together (replicas starting at
    the same moment). WAL is a property of the file, so once one of them has switched it,
    the others find it switched and have nothing to do.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def upgrade(engine: sa.Engine) -> None:
    """Alembic ``upgrade head`` on this engine's database; a no-op when up to date.

    One transaction that holds a lock, so two processes starting at once on a new database
    do not both create the tables: the second waits, then finds nothing to do. (Python's
    sqlite3 would otherwise run each CREATE in autocommit mode, outside any transaction.)
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def insert(engine: sa.Engine, table: sa.Table) -> Insert:
    """An INSERT that knows ``ON CONFLICT``: both dialects spell it the same way."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
