"""Start a real server for a test on 127.0.0.1 and a free port; always stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str) -> str:
    """The path of a server binary; fails the test (not skips) when it is missing.

    ``make test`` installs every server the suite needs, so a missing binary is a set-up bug.
    """
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed; run the suite through `make test`")
    return path


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "server") -> None:
    """Poll ``check`` until it is true, or raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness check: GET url answers 2xx."""
    return lambda: httpx.get(url, timeout=1.0).is_success


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    ready: Callable[[], bool],
    log: Path,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until the block ends; its output goes to ``log`` (shown on failure)."""
    cmd = list(argv)
    if user is not None and os.geteuid() == 0:
        cmd = ["runuser", "-u", user, "--", *cmd]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            wait_until(lambda: proc.poll() is None and ready(), timeout, argv[0])
        except TimeoutError as exc:
            raise RuntimeError(f"{argv[0]} did not start:\n{log.read_text()[-3000:]}") from exc
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
