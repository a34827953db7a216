"""Start a real PostgreSQL server for tests: own data dir, 127.0.0.1, a free port, trust auth.

initdb refuses to run as root, so when the tests run as root the server runs as the
``postgres`` OS user (through ``runuser``) in a temporary directory it owns. Fsync is off:
the data dies with the test anyway, and it makes creating databases fast.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tests.support.procs import free_port, running

USER = "postgres"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory; fails (not skips) when missing."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed; run the suite through `make test`")
    return Path(found[-1]).parent


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *argv] if os.geteuid() == 0 else argv


def _ready(port: int) -> bool:
    with psycopg.connect(
        host="127.0.0.1", port=port, user=USER, dbname="postgres", connect_timeout=2
    ):
        return True


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url``; its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def postgres_server(database: str = "anomalert_test") -> Iterator[str]:
    """Run a server until the block ends; yields ``postgresql://postgres@127.0.0.1:PORT/db``."""
    bindir = bin_dir()
    tmp = Path(tempfile.mkdtemp(prefix="anomalert-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(tmp, user=USER)
        data = tmp / "data"
        done = subprocess.run(
            _as_owner(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        port = free_port()
        argv = [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(tmp),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        with running(argv, lambda: _ready(port), tmp / "server.log", user=USER):
            try:
                admin = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
                yield create_database(admin, database)
            finally:
                # fast shutdown (SIGINT): disconnects clients instead of waiting for them
                subprocess.run(
                    _as_owner([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast"]),
                    check=False,
                    capture_output=True,
                    timeout=60,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
