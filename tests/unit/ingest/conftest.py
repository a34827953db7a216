"""Fixtures of the ingest tests: a remote_write endpoint a real Prometheus can send to."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self.bodies.append((dict(self.headers), data))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A tiny remote_write endpoint that keeps every POST (headers, body)."""
    bodies: list[tuple[dict[str, str], bytes]] = []
    handler = type("Handler", (_Receiver,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/write", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
