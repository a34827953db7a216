"""A write request's work runs off the event loop: one long batch holds no other request.

The endpoints are async to read their bodies; until 2026-12-07 they then detected, stored
and routed on the event loop itself, so a batch that took 13 s (one series' 3,000 points
beside 11,000 others) held ``/healthz``, the dashboard and every other write for 13 s.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from anomalert.model import Sample
from tests.support.api import api_clients

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_a_batch_being_detected_holds_no_other_request(tmp_path: Path) -> None:
    """The batch's detection waits until ``/healthz`` has answered: that happens only if
    the health check is served while the batch is in the app (a blocked loop would serve
    it after the batch, and the batch would give up waiting)."""
    with api_clients(tmp_path, {"route": {"receiver": "out"}}, NOW) as build:
        client, app = build()
        inside, answered = threading.Event(), threading.Event()
        seen: dict[str, Any] = {}
        ingest = app.ingest

        def held(samples: list[Sample], source: str = "json") -> Any:
            inside.set()
            seen["answered first"] = answered.wait(30.0)
            return ingest(samples, source)

        app.ingest = held  # type: ignore[method-assign]
        body = {
            "samples": [
                {"metric": "cpu", "labels": {"service": "api"}, "timestamp": NOW - 60, "value": 1}
            ]
        }
        with client:  # one event loop for every request, as a server has
            thread = threading.Thread(
                target=lambda: seen.update(batch=client.post("/api/v1/samples", json=body))
            )
            thread.start()
            assert inside.wait(30.0)
            health = client.get("/healthz")
            answered.set()
            thread.join()
        assert health.status_code == 200
        assert seen["answered first"] is True
        assert seen["batch"].status_code == 200 and seen["batch"].json()["accepted"] == 1
