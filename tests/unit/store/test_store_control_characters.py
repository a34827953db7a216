"""Ingested text with a NUL, through the HTTP API, on SQLite and on a real PostgreSQL.

PostgreSQL cannot store a NUL in text. Before the ingest refused control characters, a
batch holding one beside good items was taken whole on SQLite, and on PostgreSQL was a 500
when the text reached a column: for samples when their series first alerted (the good
series' alert of the same batch stored, its notification never queued) and again when it
resolved; for an Alertmanager alert at every re-send; for events and records at once, the
batch's good events lost with it. Now the item is rejected naming its field, the batch's
good items are kept, and the service (its reads, its next batches) goes on as if the item
had never come, on either backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anomalert.app import App, EventClock
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Sample
from tests.support.api import TestClient, api_clients

T0 = 1_767_600_000.0
CONFIG: dict[str, Any] = {
    # Series may page after two hours (not two days): three hours of data, then a spike.
    "detection": {"min_age": "2h"},
    "defaults": {"mode": "alerting"},
    "route": {"receiver": "out", "group_wait": "0s"},
}
NUL = "\x00"


def refused(field: str, at: int) -> str:
    return f"{field}: must not contain control characters (got \\x00 at character {at})"


@pytest.fixture
def service(tmp_path: Path, db_url: str) -> Iterator[tuple[TestClient, App]]:
    """The API over a store of each backend (``db_url``: tests/unit/store/conftest.py)."""
    with api_clients(tmp_path, CONFIG, T0) as build:
        yield build(url=db_url)


def clock(app: App) -> EventClock:
    assert isinstance(app.clock, EventClock)
    return app.clock


def notified(folder: Path) -> list[str]:
    """The services of the alerts notified (the jsonl receiver's lines), in order."""
    lines = (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()
    return [a["labels"].get("service", "") for x in lines for a in json.loads(x)["alerts"]]


def write(client: TestClient, *samples: Sample) -> Any:
    body = encode_write_request(samples)
    return client.post(
        "/api/v1/write", content=body, headers={"content-type": "application/x-protobuf"}
    )


def alerts(client: TestClient) -> list[tuple[str, str, str]]:
    r = client.get("/api/v1/alerts")
    assert r.status_code == 200, r.text
    return sorted(
        (a["labels"]["alertname"], a["labels"].get("service", ""), a["state"])
        for a in r.json()["alerts"]
    )


def test_series_with_a_nul_are_rejected_and_the_good_ones_alert(
    service: tuple[TestClient, App], tmp_path: Path
) -> None:
    """Every minute a JSON batch and a remote_write request, each with a good series and
    one whose service holds a NUL; after three hours both spike."""
    client, app = service
    rng = np.random.default_rng(3)
    for minute in range(190):
        t = T0 + 60.0 * minute
        clock(app).advance(t)
        value = 400.0 if minute >= 185 else 100.0 + 2.0 * float(rng.normal())
        batch = [
            {"metric": "latency_ms", "labels": {"service": s}, "timestamp": t, "value": value}
            for s in ("json", f"js{NUL}n")
        ]
        r = client.post("/api/v1/samples", json={"samples": batch})
        assert r.json() == {
            "accepted": 1,
            "rejected": [{"index": 1, "error": refused("samples[1].labels.service", 3)}],
        }
        sent = [Sample("latency_ms", {"job": job}, t, value) for job in ("remote", f"re{NUL}")]
        assert write(client, *sent).status_code == 204
        app.tick()
        app.deliver()
    assert app.detector.followed == 2
    assert alerts(client) == [("Anomaly", "json", "firing"), ("Anomaly", "remote", "firing")]
    assert sorted(notified(tmp_path)) == ["json", "remote"]
    services = client.get("/api/v1/services").json()["services"]
    assert sorted(s["name"] for s in services) == ["json", "remote"]


def test_an_alert_with_a_nul_is_rejected_and_the_good_one_notified(
    service: tuple[TestClient, App], tmp_path: Path
) -> None:
    """Prometheus re-sends its firing alerts every minute: each time, the same answer."""
    client, app = service
    batch = [
        {"labels": {"alertname": "Good", "service": "db"}, "startsAt": T0},
        {"labels": {"alertname": "Bad", "service": f"d{NUL}b"}, "startsAt": T0},
        {"labels": {"alertname": "Bad", "service": "db"}, "annotations": {"summary": NUL}},
        {"labels": {"alertname": f"Bad{NUL}"}, "startsAt": T0},
    ]
    for minute in range(3):
        clock(app).advance(T0 + 60.0 * minute)
        r = client.post("/api/v2/alerts", json=batch)
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1
        assert [x["index"] for x in r.json()["rejected"]] == [1, 2, 3]
        app.tick()
        app.deliver()
    assert alerts(client) == [("Good", "db", "firing")]
    assert notified(tmp_path) == ["db"]
    alert_id = client.get("/api/v1/alerts").json()["alerts"][0]["id"]
    assert client.get(f"/api/v1/alerts/{alert_id}").status_code == 200


def test_an_event_with_a_nul_is_rejected_and_the_good_ones_stored(
    service: tuple[TestClient, App],
) -> None:
    """The store takes a batch of events all or none: one NUL lost the batch on PostgreSQL."""
    client, app = service
    good = {"kind": "deployment", "service": "db", "timestamp": T0, "version": "v2"}
    notes = {**good, "description": "rolled out\n\tto 5%", "version": "v3"}
    batch = [good, {**good, "service": f"d{NUL}b"}, {**good, "description": NUL}, notes]
    r = client.post("/api/v1/events", json=batch)
    assert r.status_code == 200, r.text
    assert len(r.json()["ids"]) == 2
    assert [x["index"] for x in r.json()["rejected"]] == [1, 2]
    stored = [(e.service, e.version, e.description) for e in app.store.events()]
    assert stored == [("db", "v2", ""), ("db", "v3", "rolled out\n\tto 5%")]
    client.post("/api/v2/alerts", json=[{"labels": {"alertname": "A", "service": "db"}}])
    (shown,) = client.get("/api/v1/alerts").json()["alerts"]
    detail = client.get(f"/api/v1/alerts/{shown['id']}")  # the service's events beside it
    assert detail.status_code == 200, detail.text


def test_a_record_with_a_nul_is_rejected_and_the_good_one_taken(
    service: tuple[TestClient, App],
) -> None:
    client, _ = service
    record = {
        "service": "db",
        "timestamp": T0 - 60,
        "window": "5m",
        "total_requests": 100,
        "error_rate": 0.01,
        "latency_p99_ms": 80,
        "latency_p95_ms": 40,
        "latency_mean_ms": 20,
        "unique_users": 10,
        "unique_ips": 10,
        "risk_score": 0,
    }
    r = client.post("/api/v1/records", json=[{**record, "service": f"d{NUL}b"}, record])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"] == [{"index": 0, "error": refused("records[0].service", 2)}]
    assert [s["name"] for s in client.get("/api/v1/services").json()["services"]] == ["db"]
