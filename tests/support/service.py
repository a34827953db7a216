"""Run the real ``anomalert run`` process for a test: 127.0.0.1, a free port, its own database.

The process is the installed script next to the test interpreter (``.venv/bin/anomalert``),
so a test exercises exactly what ``make run`` and an operator start: the CLI, the config
loader, uvicorn, the background loops, the store and the receivers. Output goes to a log file
that :func:`tests.support.procs.running` shows when the process fails to start.

A test stops the process itself when the stop matters (``stop()`` sends SIGTERM, as systemd
and Kubernetes do, and the service checkpoints; ``kill()`` sends SIGKILL, a crash); otherwise
the ``with`` block terminates it on the way out.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.procs import free_port, http_ok, running

#: The installed console script of the venv the tests run in.
BINARY = Path(sys.executable).with_name("anomalert")


def service_config(
    webhook_url: str | None = None,
    *,
    group_wait: str = "1s",
    group_interval: str = "2s",
    repeat_interval: str = "4h",
    **sections: Any,
) -> dict[str, Any]:
    """A config mapping for a test service; ``sections`` replace top-level keys.

    The live window is a day (``server.max_sample_age: 1d``) so a test can send hours of
    history through the live endpoint, a series may alert after an hour of it
    (``detection.min_age``, a day by default), and the group timers are short so
    notifications show up within seconds. With ``webhook_url`` the one receiver is a
    webhook, else a log.
    """
    receiver: dict[str, Any] = {"name": "hook"}
    if webhook_url is None:
        receiver["log"] = {}
    else:
        receiver["webhook"] = {"url": webhook_url}
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "max_sample_age": "1d"},
        "detection": {"min_age": "1h"},
        "route": {
            "receiver": "hook",
            "group_by": ["service"],
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [receiver],
    }
    config.update(sections)
    return config


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """Write ``config`` as YAML to ``path`` (folders created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    return path


def sqlite_url(folder: Path) -> str:
    """A SQLite URL in ``folder`` (the store creates the file and its folder)."""
    return f"sqlite:///{folder / 'state' / 'anomalert.db'}"


def run_argv(config: Path, port: int, db: str | None = None, host: str | None = None) -> list[str]:
    """The ``anomalert run`` command line."""
    argv = [str(BINARY), "run", "--config", str(config), "--port", str(port)]
    if db is not None:
        argv += ["--db", db]
    if host is not None:
        argv += ["--host", host]
    return argv


@dataclass
class Service:
    """A running ``anomalert run`` process and how to reach it."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path`` on the service."""
        return httpx.get(self.url + path, timeout=10.0, **kwargs)

    def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        """POST ``body`` as JSON, with a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.url + path, json=body, headers=headers, timeout=30.0)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: a graceful stop (the service checkpoints); the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> int:
        """SIGKILL and wait: a crash, nothing runs on the way out; the exit code."""
        self.proc.kill()
        return self.proc.wait(timeout=30.0)

    def output(self) -> str:
        """What the process wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def anomalert_run(
    config: Path,
    log: Path,
    db: str | None = None,
    port: int | None = None,
    timeout: float = 60.0,
) -> Iterator[Service]:
    """Start ``anomalert run`` and yield it once ``/readyz`` answers; terminated at the end."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = run_argv(config, port, db=db)
    with running(argv, http_ok(url + "/readyz"), log, timeout=timeout, env=env) as proc:
        yield Service(proc, url, log)


def run_cli(*args: str | Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the ``anomalert`` script to completion (for commands that exit by themselves)."""
    return subprocess.run(
        [str(BINARY), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
