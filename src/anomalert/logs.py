"""Structured logs: one JSON object per line on stderr (time, level, logger, message, extras).

Secrets never reach a log line: configuration secrets are ``SecretStr`` and receivers mask
URLs and keys in their errors before anything is logged.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Each record as one JSON line; ``extra=`` fields are kept."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, int | float | str | bool) else str(value)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup_logging(level: int = logging.INFO, json_lines: bool = True) -> None:
    """Log the ``anomalert`` loggers to stderr (JSON lines, or plain text for a terminal)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("anomalert")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
