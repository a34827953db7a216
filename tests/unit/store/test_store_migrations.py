"""Opening, reopening and migrating: the Alembic history is the schema, on both backends."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from anomalert.model import Alert
from anomalert.store import Store
from anomalert.store.engine import MIGRATIONS
from anomalert.store.schema import metadata

#: The newest revision: every store is migrated to it on open.
HEAD = "0005"


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs during the test."""
    seen: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", capture)


def _revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_match_the_metadata(store: Store) -> None:
    assert _revision(store) == HEAD
    with store.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    assert diff == []


def test_open_twice_is_a_no_op_migration(
    db_url: str, make_alert: Callable[..., Alert], statements: list[str]
) -> None:
    first = Store.open(db_url)
    alert_id = first.upsert_alert(make_alert())
    assert any("CREATE TABLE" in s for s in statements)
    statements.clear()
    second = Store.open(db_url)
    try:
        ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
        assert ddl == []
        assert _revision(second) == HEAD
        assert second.get_alert(alert_id) == first.get_alert(alert_id)
    finally:
        first.close()
        second.close()


def test_two_processes_opening_a_new_database_at_once(db_url: str) -> None:
    """Two service replicas starting together: one migrates, the other waits and reuses it."""
    opened, errors = _open_together(db_url, 3)
    try:
        assert errors == []
        assert [_revision(s) for s in opened] == [HEAD] * 3
        assert opened[0].enqueue("k", "r", {}, now=0.0)
        assert not opened[1].enqueue("k", "r", {}, now=0.0)
    finally:
        for s in opened:
            s.close()


def _open_together(url: str, replicas: int) -> tuple[list[Store], list[BaseException]]:
    """``Store.open(url)`` from that many threads at once: the stores opened, the errors."""
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            opened.append(Store.open(url))
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return opened, errors


def test_replicas_starting_together_on_new_sqlite_files(tmp_path: Path) -> None:
    """The same start, repeated on fresh files: switching a new file to WAL used to fail
    with "database is locked" about once in twenty starts (SQLite does not wait on a busy
    journal-mode change)."""
    for round_ in range(30):
        opened, errors = _open_together(f"sqlite:///{tmp_path}/{round_}.db", 3)
        for s in opened:
            s.close()
        assert errors == [], f"round {round_}: {errors}"
        assert len(opened) == 3


def test_reopening_a_file_database_keeps_data(
    tmp_path: Path, make_alert: Callable[..., Alert]
) -> None:
    """A restart: close, open the same file again, everything is still there."""
    url = f"sqlite:///{tmp_path}/deep/er/state.db"
    store = Store.open(url)
    alert_id = store.upsert_alert(make_alert(), {"band": [1.0, 2.0]})
    store.enqueue("k", "pager", {"x": 1}, now=5.0)
    store.save_checkpoint("detector", b"state", now=5.0)
    store.close()
    assert (tmp_path / "deep" / "er" / "state.db").is_file()
    again = Store.open(url)
    try:
        row = again.get_alert(alert_id)
        assert row is not None and row.to_alert() == make_alert()
        assert row.context == {"band": [1.0, 2.0]}
        assert [i.key for i in again.due(now=5.0)] == ["k"]
        assert again.load_checkpoint("detector") == b"state"
        with again.engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            fks = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        assert (mode, fks) == ("wal", 1)
    finally:
        again.close()


def test_in_memory_sqlite_is_shared_between_threads(make_alert: Callable[..., Alert]) -> None:
    store = Store.open("sqlite:///:memory:")
    try:
        ids: list[int] = []
        worker = threading.Thread(target=lambda: ids.append(store.upsert_alert(make_alert())))
        worker.start()
        worker.join()
        assert store.get_alert(ids[0]) is not None
    finally:
        store.close()


def test_downgrade_and_upgrade_again(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        with store.engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
    finally:
        store.close()
    store = Store.open(db_url)
    try:
        assert _revision(store) == HEAD
        assert store.enqueue("k", "r", {}, now=0.0)
    finally:
        store.close()


def test_alembic_command_line_path_uses_the_url(tmp_path: Path) -> None:
    """``alembic -x url=...`` (no store connection) migrates a database too."""
    url = f"sqlite:///{tmp_path}/cli.db"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    command.upgrade(config, "head")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
            assert "outbox" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_url_is_normalised_and_the_password_masked(
    db_url: str, tmp_path: Path, make_alert: Callable[..., Alert]
) -> None:
    if db_url.startswith("sqlite"):
        store = Store.open(db_url)
        assert store.url == db_url
        store.close()
        return
    # trust authentication ignores the password: it is here to be hidden
    with_secret = db_url.replace("postgresql://postgres@", "postgres://postgres:s3cr3t@")
    store = Store.open(with_secret)
    try:
        assert store.engine.url.drivername == "postgresql+psycopg"
        assert "s3cr3t" not in store.url and "s3cr3t" not in repr(store)
        assert store.url.startswith("postgresql+psycopg://postgres:***@127.0.0.1:")
        assert store.upsert_alert(make_alert()) > 0
    finally:
        store.close()


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        Store.open("mysql://u@h/db")


def _migrate(store: Store, verb: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, verb)(config, revision)


def test_checkpoints_written_before_chunks_carry_over(db_url: str) -> None:
    """A database at revision 0003 held each checkpoint part as one row; migrated, every
    part reads back the same, and a later save replaces it; back down, a part of one chunk
    is a row again and a part written in several is forgotten (relearned)."""
    store = Store.open(db_url)
    try:
        _migrate(store, "downgrade", "0003")
        with store.engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO checkpoints (name, data, updated_at) VALUES (:n, :d, 1.0)"),
                [{"n": "detector", "d": b"\x00old state"}, {"n": "policy", "d": b""}],
            )
        _migrate(store, "upgrade", "head")
        assert store.load_checkpoints(["detector", "policy", "rules"]) == {
            "detector": b"\x00old state",
            "policy": b"",
            "rules": None,
        }
        store.save_checkpoints({"detector": b"new" * 10, "rules": b"r"}, now=2.0)
        assert store.load_checkpoint("detector") == b"new" * 10
        assert store.load_checkpoint("policy") == b""
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("anomalert.store.checkpoints.CHUNK", 4)
            store.save_checkpoint("rules", b"0123456789", now=3.0)  # three chunks
        _migrate(store, "downgrade", "0003")
        with store.engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT name, data FROM checkpoints")).all())
        assert {k: bytes(v) for k, v in rows.items()} == {"detector": b"new" * 10, "policy": b""}
    finally:
        store.close()
