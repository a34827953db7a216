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

import httpx
import numpy as np
import pytest

from anomalert.app import App, EventClock
from anomalert.ingest.prometheus_pull import PrometheusPull, PullConfig
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Sample
from tests.support.api import TestClient, api_clients, assert_error, record_body

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
    record = record_body("db", T0 - 60)
    r = client.post("/api/v1/records", json=[{**record, "service": f"d{NUL}b"}, record])
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"] == [{"index": 0, "error": refused("records[0].service", 2)}]
    assert [s["name"] for s in client.get("/api/v1/services").json()["services"]] == ["db"]


def test_a_pulled_series_with_a_nul_is_skipped_and_the_good_one_alerts(
    service: tuple[TestClient, App], tmp_path: Path
) -> None:
    """A Prometheus answering every minute's query_range with a good series and one whose
    job holds a NUL, both spiking after three hours. On PostgreSQL the bad series' first
    alert failed the poll's ingest (a DataError in the service loop, every poll): the good
    series' alert was stored, never notified."""
    client, app = service
    rng = np.random.default_rng(5)

    def answer(request: httpx.Request) -> httpx.Response:
        t = float(request.url.params["end"])
        value = 400.0 if t >= T0 + 185 * 60 else 100.0 + 2.0 * float(rng.normal())
        result = [
            {"metric": {"__name__": "lat", "job": job}, "values": [[t, str(value)]]}
            for job in ("pulled", f"pu{NUL}led")
        ]
        data = {"resultType": "matrix", "result": result}
        return httpx.Response(200, json={"status": "success", "data": data})

    config = {
        "url": "http://prom:9090",
        "lookback": "1m",
        "queries": [{"metric": "lat", "query": "lat"}],
    }
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        pull = PrometheusPull(PullConfig.model_validate(config), http)
        for minute in range(190):
            t = T0 + 60.0 * minute
            clock(app).advance(t)
            app.ingest(pull.poll(t), "prometheus")
            app.tick()
            app.deliver()
    (skipped,) = pull.last_rejections
    assert skipped.error.startswith("queries[0] (lat): series {'job': 'pu\\x00led'} skipped")
    assert app.detector.followed == 1
    assert alerts(client) == [("Anomaly", "pulled", "firing")]
    assert notified(tmp_path) == ["pulled"]


# -- the other writes, and the queries ------------------------------------------------------

SILENCE: dict[str, Any] = {"matchers": [{"name": "service", "value": "db"}], "endsAt": T0 + 600}
INCIDENT: dict[str, Any] = {"start": T0 - 600, "end": T0 - 60}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v2/silences", {**SILENCE, "comment": f"c{NUL}"}, "comment"),
        ("POST", "/api/v2/silences", {**SILENCE, "createdBy": f"a{NUL}"}, "createdBy"),
        (
            "POST",
            "/api/v2/silences",
            {**SILENCE, "matchers": [{"name": "service", "value": f"d{NUL}b"}]},
            "matchers[0].value",
        ),
        ("POST", "/api/v1/incidents/labelled", {**INCIDENT, "title": f"t{NUL}"}, "title"),
        ("POST", "/api/v1/incidents/labelled", {**INCIDENT, "service": f"d{NUL}b"}, "service"),
        ("POST", "/api/v1/incidents/labelled", {**INCIDENT, "id": f"INC{NUL}"}, "id"),
        (
            "POST",
            "/api/v1/incidents/labelled/import",
            {"format": "json", "content": json.dumps([{**INCIDENT, "title": f"t{NUL}"}])},
            "content",
        ),
        ("POST", "/api/v1/alerts/1/ack", {"by": f"ana{NUL}"}, "by"),
        ("POST", "/api/v1/alerts/1/feedback", {"helpful": False, "comment": f"x{NUL}"}, "comment"),
        ("PUT", "/api/v1/services/db/mode", {"mode": "shadow", "by": f"ana{NUL}"}, "by"),
        ("POST", "/api/v1/services/db/metrics/m/sensitivity/reset", {"by": f"a{NUL}"}, "by"),
    ],
)
def test_a_write_with_a_nul_is_400_naming_its_field_and_changes_nothing(
    service: tuple[TestClient, App], method: str, path: str, body: dict[str, Any], field: str
) -> None:
    """On PostgreSQL each was a 500, some after the change was made in memory: the silence
    muted alerts, listed, and was gone at the next restart."""
    client, app = service
    client.post("/api/v2/alerts", json=[{"labels": {"alertname": "A", "service": "db"}}])
    before = client.get("/api/v1/services/db").json()
    r = client.request(method, path, json=body)
    assert r.status_code == (422 if path.endswith("import") else 400), r.text
    assert r.json()["error"]["field"] == field
    assert "must not contain control characters" in r.json()["error"]["message"]
    assert client.get("/api/v2/silences").json() == []
    assert app.store.list_silences() == []
    assert client.get("/api/v1/incidents/labelled").json()["incidents"] == []
    (alert,) = client.get("/api/v1/alerts").json()["alerts"]
    assert alert["acknowledged_by"] is None
    history = client.get(f"/api/v1/alerts/{alert['id']}").json()["history"]
    assert [h["kind"] for h in history] == ["state"]
    assert client.get("/api/v1/services/db").json() == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/api/v1/alerts?service=d%00b", "service"),
        ("/api/v1/alerts?search=d%00b", "search"),
        ("/api/v1/alerts?incident=i%00", "incident"),
        ("/api/v1/outbox?receiver=o%00ut", "receiver"),
        ("/api/v1/incidents/labelled?service=d%00b", "service"),
        ("/api/v1/reports/shadow?service=db&service=d%00b", "service[1]"),
        ("/api/v1/reports/audit?until=1%00", "until"),
    ],
)
def test_a_query_parameter_with_a_nul_is_400_naming_it(
    service: tuple[TestClient, App], query: str, field: str
) -> None:
    """Nothing is stored, yet the store compares it with its columns: PostgreSQL refused
    the query (a 500)."""
    client, _ = service
    message = assert_error(client.get(query), 400, field)
    assert "must not contain control characters (got \\x00" in message


def test_a_dashboard_link_with_a_nul_is_a_404_page(service: tuple[TestClient, App]) -> None:
    """A notification's link to an alert names its fingerprint: on PostgreSQL, one with a
    NUL was a 500 instead of the dashboard's not-found page."""
    client, _ = service
    for path in ("/alerts/by-fingerprint/ab%00cd", "/services/d%00b"):
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "\\x00" in r.text


def test_comments_keep_their_line_breaks_and_tabs(service: tuple[TestClient, App]) -> None:
    client, app = service
    comment = "reindexing\r\n\tuntil noon"
    r = client.post("/api/v2/silences", json={**SILENCE, "comment": comment, "createdBy": "ana"})
    assert r.status_code == 200, r.text
    assert [s.comment for s in app.store.list_silences()] == [comment]
    client.post("/api/v2/alerts", json=[{"labels": {"alertname": "A", "service": "db"}}])
    r = client.post("/api/v1/alerts/1/feedback", json={"helpful": False, "comment": comment})
    assert r.status_code == 200, r.text
    assert [f.comment for f in app.store.feedback()] == [comment]
