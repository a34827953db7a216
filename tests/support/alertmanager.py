"""A real Prometheus Alertmanager for tests, and a webhook endpoint for it to deliver to.

``alertmanager(tmp, webhook_url)`` runs the ``prometheus-alertmanager`` binary on 127.0.0.1
and a free port, gossip off, its own storage folder, one route to ``webhook_url`` (or to a
receiver with no integration) with sub-second group timers so a test sees notifications
quickly. ``webhook_sink()`` is a plain ``http.server`` that records every POST.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.procs import free_port, http_ok, require_binary, running

BINARY = "prometheus-alertmanager"


def _config(webhook_url: str | None) -> str:
    receiver = "    webhook_configs:\n"
    receiver += f"      - url: {json.dumps(webhook_url)}\n        send_resolved: true\n"
    return (
        "route:\n"
        "  receiver: sink\n"
        "  group_by: [service]\n"
        "  group_wait: 100ms\n"
        "  group_interval: 300ms\n"
        "  repeat_interval: 1h\n"
        "receivers:\n"
        "  - name: sink\n" + (receiver if webhook_url else "")
    )


@contextlib.contextmanager
def alertmanager(tmp: Path, webhook_url: str | None = None) -> Iterator[str]:
    """Run Alertmanager until the block ends; yields its base URL."""
    binary = require_binary(BINARY)
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "alertmanager.yml"
    config.write_text(_config(webhook_url))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={tmp / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running(argv, http_ok(f"{url}/-/ready"), tmp / "alertmanager.log"):
        yield url


@dataclass
class Sink:
    """The recording webhook endpoint."""

    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self) -> list[dict[str, Any]]:
        """A copy of the JSON bodies received so far."""
        with self.lock:
            return list(self.posts)


@contextlib.contextmanager
def webhook_sink() -> Iterator[Sink]:
    """An HTTP server on a free port that answers 200 to every POST and keeps its JSON."""
    port = free_port()
    sink = Sink(url=f"http://127.0.0.1:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with sink.lock:
                sink.posts.append(json.loads(body))
                sink.headers.append(dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
