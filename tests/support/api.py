"""A real App behind its HTTP API, in process: the clients the API tests share.

Each client is the FastAPI app over a real ``App`` (SQLite file, event clock, a jsonl
receiver, an HTTP client that fails every outside call) through Starlette's ASGI test
client, so a test exercises routing, validation, tokens and the store, without a socket.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.exceptions import StarletteDeprecationWarning

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.store import Store

with warnings.catch_warnings():
    # starlette asks for the httpx2 fork; the httpx it falls back to works the same here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

#: Builds one client: ``build(server={...}, url=...)`` -> (client, app).
ClientFactory = Callable[..., tuple[TestClient, App]]


@contextmanager
def api_clients(folder: Path, config: Mapping[str, Any], now: float) -> Iterator[ClientFactory]:
    """Clients over ``config`` (its ``server`` section given per client), each over its own
    SQLite file or the database ``url`` names (a PostgreSQL one: tests/unit/store); all
    closed after."""
    opened: list[tuple[TestClient, App]] = []

    def build(
        server: dict[str, Any] | None = None, url: str | None = None
    ) -> tuple[TestClient, App]:
        out = {"name": "out", "jsonl": {"path": str(folder / "out.jsonl")}}
        parsed = parse_config({**config, "server": server or {}, "receivers": [out]})
        store = Store.open(url or f"sqlite:///{folder}/api{len(opened)}.db")
        http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
        app = App(parsed, store, EventClock(now), http=http)
        client = TestClient(create_api(app))
        opened.append((client, app))
        return client, app

    try:
        yield build
    finally:
        for client, app in opened:
            client.close()
            app.http.close()
            app.store.close()


def assert_error(r: Any, status: int, field: str | None = None) -> str:
    """The one error shape, with this status (and field, when given); its message."""
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(r.json()) == {"error"} and err["status"] == status
    assert set(err) <= {"status", "code", "message", "field"}
    if field is not None:
        assert err.get("field") == field, err
    return str(err["message"])


def record_body(service: str, timestamp: float, **fields: Any) -> dict[str, Any]:
    """One valid aggregate record (``POST /api/v1/records``) of ``service`` at
    ``timestamp``, ``fields`` replacing its defaults."""
    return {
        "service": service,
        "timestamp": timestamp,
        "window": "5m",
        "total_requests": 100,
        "error_rate": 0.01,
        "latency_p99_ms": 80,
        "latency_p95_ms": 40,
        "latency_mean_ms": 20,
        "unique_users": 10,
        "unique_ips": 10,
        "risk_score": 0,
        **fields,
    }
