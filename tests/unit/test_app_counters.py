"""Counters through the service: remote_write marks them, the engine and the rules see rates.

A request counter whose total climbs into the millions would breach a rule written on its
rate ("more than 20 requests a second") from its first sample, and its restarts would be
drops; the app follows its per-second rate from the second sample on (``detect.counters``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.stream import series_id
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Sample
from anomalert.store import Store

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

T0 = 1_767_600_000.0
LABELS = {"service": "api", "job": "api"}


def test_remote_write_counters_are_followed_and_ruled_on_their_rate(tmp_path: Path) -> None:
    config = parse_config(
        {
            "route": {"receiver": "out", "group_wait": "0s"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
            "rules": {
                "static": [
                    {"name": "TooBusy", "metric": "http_requests_total", "value": 20.0},
                ]
            },
        }
    )
    clock = EventClock(T0)
    store = Store.open(f"sqlite:///{tmp_path}/anomalert.db")
    app = App(config, store, clock)
    client = TestClient(create_api(app))

    def write(t: float, total: float) -> int:
        clock.advance(t)
        body = encode_write_request([Sample("http_requests_total", LABELS, t, total)])
        r = client.post(
            "/api/v1/write", content=body, headers={"content-type": "application/x-protobuf"}
        )
        app.tick()
        return r.status_code

    try:
        # The first sample alone is taken (204, not "none kept"): the rate starts from it.
        assert write(T0, 5_000_000.0) == 204
        for k in range(1, 6):  # 10 a second, then a restart, then 10 a second again
            total = 5_000_000.0 + 600.0 * k if k < 4 else 600.0 * (k - 3)
            assert write(T0 + 60.0 * k, total) == 204
        assert app.rules.active() == []
        sid = series_id("http_requests_total", LABELS)
        assert app.detector.context(sid).values == [10.0] * 5
        assert write(T0 + 360.0, 600.0 * 2 + 60.0 * 30) == 204  # 30 a second
        assert [a.labels["alertname"] for a in app.rules.active()] == ["TooBusy"]
        assert "30" in app.rules.active()[0].annotations["summary"]
    finally:
        client.close()
        app.http.close()
        store.close()
