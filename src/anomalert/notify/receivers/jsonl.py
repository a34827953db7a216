"""Append one JSON line per notification to a file: the ``replay --notifications`` format.

Each line is :func:`render.replay_record`: for a group of several alerts, ``service``,
``labels``, ``severity``, ``score`` and ``reason`` describe the lead alert (highest
severity, then highest score) and ``alerts`` lists them all. A line is written and flushed
(the file closed) before ``send`` returns, so a crash loses at most the line being written.
A crash between the write and the outbox's record of it can repeat a line; it carries the
notification ``key``, by which readers drop the copy.
"""

from __future__ import annotations

import json
from pathlib import Path

from anomalert.model import Notification
from anomalert.notify.receivers.base import IntegrationConfig, os_error
from anomalert.notify.render import replay_record


class JsonlConfig(IntegrationConfig):
    """``path`` of the file to append to (its folder is created)."""

    path: Path


class JsonlReceiver:
    """Appends :func:`render.replay_record` lines to a file."""

    def __init__(self, path: Path | str, name: str = "jsonl") -> None:
        self.name = name
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"JsonlReceiver(name={self.name!r}, path={str(self.path)!r})"

    def send(self, n: Notification) -> None:
        """Append the line; flushed to the OS before returning."""
        line = json.dumps(replay_record(n), ensure_ascii=False, allow_nan=False)
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            raise os_error(f"{self.name} ({path})", exc) from None
