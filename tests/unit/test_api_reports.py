"""Labelled incidents and the reports over the HTTP API, on a real App over SQLite.

Built as tests/unit/test_api_contract.py builds its clients: a real App on an event clock,
its FastAPI app through the ASGI test client; errors checked in the one shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anomalert.app import App
from anomalert.model import Alert, fingerprint
from tests.support.api import ClientFactory, api_clients, assert_error

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
H = 3600.0
DAY = 86400.0
NOW = T0 + 20 * DAY
ADMIN = "admin-tok-4c1d"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
CONFIG: dict[str, Any] = {
    "services": {"checkout": {"mode": "shadow"}, "payments": {}},
    "route": {"receiver": "out"},
}

Make = ClientFactory


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    with api_clients(tmp_path, CONFIG, NOW) as build:
        yield build


def add_alert(app: App, start: float, end: float | None, severity: str = "P2", **kw: Any) -> int:
    labels = {"alertname": "Anomaly", "service": "checkout", "metric": "latency"}
    labels.update(kw.pop("labels", {}))
    alert = Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": "latency 4σ above"},
        starts_at=start,
        ends_at=end,
        status="firing" if end is None else "resolved",
        score=kw.pop("score", 0.95),
        severity=severity,  # type: ignore[arg-type]
        mode=kw.pop("mode", "shadow"),
        source="anomaly",
        updated_at=start,
    )
    return app.store.upsert_alert(alert)


def test_enter_list_and_delete_labelled_incidents(make: Make) -> None:
    client, _ = make()
    body = {
        "id": "INC-9",
        "service": "checkout",
        "title": "slow",
        "start": T0,
        "end": "2026-01-01T01:00:00Z",
    }
    r = client.post("/api/v1/incidents/labelled", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created == {
        "id": created["id"],
        "external_id": "INC-9",
        "service": "checkout",
        "title": "slow",
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T01:00:00Z",
        "source": "page",
    }
    client.post("/api/v1/incidents/labelled", json={"start": T0 + DAY, "end": T0 + DAY + H})
    got = client.get("/api/v1/incidents/labelled").json()["incidents"]
    assert [i["external_id"] for i in got] == ["INC-9", None]
    got = client.get("/api/v1/incidents/labelled", params={"since": "2026-01-01T12:00:00Z"})
    assert [i["start"] for i in got.json()["incidents"]] == ["2026-01-02T00:00:00Z"]
    got = client.get("/api/v1/incidents/labelled", params={"until": str(T0 + 60)})
    assert [i["id"] for i in got.json()["incidents"]] == [created["id"]]
    got = client.get("/api/v1/incidents/labelled", params={"service": "payments"})
    assert [i["external_id"] for i in got.json()["incidents"]] == [None]
    assert client.delete(f"/api/v1/incidents/labelled/{created['id']}").status_code == 204
    assert_error(client.delete(f"/api/v1/incidents/labelled/{created['id']}"), 404, "incident_id")
    assert len(client.get("/api/v1/incidents/labelled").json()["incidents"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"start": T0}, "end"),
        ({"start": "soon", "end": T0}, "start"),
        ({"start": T0 + 60, "end": T0}, "end"),
        ({"start": T0, "end": T0 + 1, "severity": "P1"}, "severity"),
        ([1], "body"),
    ],
)
def test_a_bad_incident_is_400_naming_the_field(make: Make, body: Any, field: str) -> None:
    client, _ = make()
    assert_error(client.post("/api/v1/incidents/labelled", json=body), 400, field)


def test_import_keeps_good_items_and_names_bad_ones(make: Make) -> None:
    client, app = make()
    content = json.dumps(
        [
            {"id": "A", "root_service": "checkout", "type": "latency", "start": T0, "end": T0 + H},
            {"id": "B", "start": "bad", "end": T0},
            {"id": "C", "start": T0 + DAY, "end": T0 + DAY + H},
            {"start": T0 + 2 * DAY, "end": T0 + 2 * DAY + H},  # no id: one made of its times
        ]
    )
    r = client.post(
        "/api/v1/incidents/labelled/import", json={"format": "json", "content": content}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["imported"] == 3 and len(out["ids"]) == 3
    assert out["rejected"] == [
        {"index": 1, "field": "start", "message": out["rejected"][0]["message"]}
    ]
    assert out["rejected"][0]["message"].startswith("incidents[1].start: not a time")
    # Importing the same file again updates, it does not duplicate.
    again = client.post(
        "/api/v1/incidents/labelled/import", json={"format": "json", "content": content}
    )
    assert again.json()["ids"] == out["ids"]
    csv = "id,service,start,end\nD,payments,2026-01-03T00:00:00Z,2026-01-03T02:00:00Z\n"
    r = client.post("/api/v1/incidents/labelled/import", json={"format": "csv", "content": csv})
    assert r.json()["imported"] == 1 and r.json()["rejected"] == []
    rows = app.store.labelled_incidents()
    assert [(i.external_id, i.source) for i in rows] == [
        ("A", "json"),
        ("C", "json"),
        ("*@2026-01-03T00:00:00Z/2026-01-03T01:00:00Z", "json"),
        ("D", "csv"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"format": "json", "content": '[{"start": 1}]'}, 422, "content"),
        ({"format": "json", "content": "[]"}, 422, "content"),
        ({"format": "json", "content": "[{"}, 400, "content"),
        ({"format": "xml", "content": ""}, 400, "format"),
        ({"format": "csv"}, 400, "content"),
        ({"format": "csv", "content": "", "x": 1}, 400, "x"),
        ("text", 400, "body"),
    ],
)
def test_import_errors(make: Make, body: Any, status: int, field: str) -> None:
    client, app = make()
    msg = assert_error(client.post("/api/v1/incidents/labelled/import", json=body), status, field)
    if status == 422:
        assert msg.startswith("no valid incident to import")
        assert (
            client.post("/api/v1/incidents/labelled/import", json=body).json()["error"]["code"]
            == "unprocessable"
        )
    assert app.store.labelled_incidents() == []


def test_writes_need_the_admin_token_and_reads_do_not(make: Make) -> None:
    client, _ = make({"admin_tokens": [ADMIN], "write_tokens": ["w-1"]})
    inc = {"start": T0, "end": T0 + H}
    imp = {"format": "json", "content": json.dumps([inc])}
    assert_error(client.post("/api/v1/incidents/labelled", json=inc), 401)
    assert_error(client.post("/api/v1/incidents/labelled/import", json=imp), 401)
    assert_error(client.delete("/api/v1/incidents/labelled/1"), 401)
    bad = {"Authorization": "Bearer w-1"}
    assert_error(client.post("/api/v1/incidents/labelled", json=inc, headers=bad), 403)
    assert client.post("/api/v1/incidents/labelled", json=inc, headers=AUTH).status_code == 201
    assert (
        client.post("/api/v1/incidents/labelled/import", json=imp, headers=AUTH).status_code == 200
    )
    assert client.delete("/api/v1/incidents/labelled/1", headers=AUTH).status_code == 204
    for path in ("/api/v1/incidents/labelled", "/api/v1/reports/shadow", "/api/v1/reports/audit"):
        assert client.get(path).status_code == 200, path


def test_shadow_report(make: Make) -> None:
    client, app = make()
    incidents = [
        {"id": f"I{i}", "service": "checkout", "start": T0 + i * DAY, "end": T0 + i * DAY + H}
        for i in range(1, 4)
    ]
    r = client.post(
        "/api/v1/incidents/labelled/import",
        json={"format": "json", "content": json.dumps(incidents)},
    )
    assert r.json()["imported"] == 3
    for i in (1, 2):
        add_alert(app, T0 + i * DAY - 600, T0 + i * DAY + 600, "P1")
    add_alert(app, T0 + 5 * DAY, T0 + 5 * DAY + 60, "P3")  # a dashboard-only blip
    add_alert(app, T0 + 2 * DAY, None, "P1", labels={"service": "payments"}, mode="alerting")
    out = client.get("/api/v1/reports/shadow").json()
    assert out["since"] == "2026-01-01T23:50:00Z" and out["until"] == "2026-01-21T00:00:00Z"
    assert "precision ≥ 0.8" in out["rule"]
    (svc,) = out["services"]  # only checkout is in shadow mode
    assert svc["service"] == "checkout" and svc["mode"] == "shadow"
    assert (svc["alerts"], svc["would_page"], svc["incidents"], svc["detected"]) == (3, 2, 3, 2)
    assert svc["precision_pages"] == 1.0 and svc["precision_alerts"] == 0.6667
    assert svc["recall"] == 0.6667 and svc["lead_times_minutes"] == [10.0, 10.0]
    assert svc["median_lead_time_minutes"] == 10.0
    assert [p["incident"] for p in svc["pages"]] == ["I1", "I2"]
    assert svc["verdict"].startswith("ready for assistive: precision 1.00 ≥ 0.8 and recall 0.67")
    # Asked for by name, a service in another mode is reported too; since/until narrow.
    out = client.get(
        "/api/v1/reports/shadow",
        params={
            "service": ["checkout", "payments"],
            "since": "2026-01-02T12:00:00Z",
            "until": str(T0 + 4 * DAY),
        },
    ).json()
    checkout, payments = out["services"]
    assert (checkout["alerts"], checkout["incidents"], checkout["detected"]) == (1, 2, 1)
    assert (payments["mode"], payments["alerts"], payments["incidents"]) == ("alerting", 1, 0)
    assert payments["verdict"].startswith("alerting: not enough evidence")
    assert_error(client.get("/api/v1/reports/shadow", params={"since": "monday"}), 400, "since")


def test_shadow_report_follows_a_runtime_mode(make: Make) -> None:
    client, app = make()
    app.store.set_service_mode("payments", "shadow", NOW, "ana")
    app.store.set_service_mode("checkout", "assistive", NOW, "ana")
    out = client.get("/api/v1/reports/shadow").json()
    assert [(s["service"], s["mode"]) for s in out["services"]] == [("payments", "shadow")]
    # An empty service parameter (a form left blank) means the default too.
    assert client.get("/api/v1/reports/shadow", params={"service": ""}).json() == out


def test_audit_report(make: Make) -> None:
    client, app = make()
    ids = [
        add_alert(
            app, NOW - i * DAY + 2 * H, NOW - i * DAY + 3 * H, mode="alerting", labels={"n": str(i)}
        )
        for i in range(1, 6)
    ]
    old = add_alert(app, NOW - 9 * DAY, NOW - 9 * DAY + H, mode="alerting", labels={"n": "old"})
    for alert_id in [*ids, old]:
        app.store.add_history(
            alert_id, NOW, "notification", {"receiver": "out", "status": "firing"}
        )
    app.store.ack(ids[0], NOW, "ana")
    for alert_id in ids[1:]:
        app.store.add_feedback(alert_id, NOW, False, "noise")
    out = client.get("/api/v1/reports/audit").json()
    assert out["since"] == "2026-01-14T00:00:00Z" and out["until"] == "2026-01-21T00:00:00Z"
    assert out["noisy"] == 1
    (group,) = out["groups"]
    assert group == {
        "service": "checkout",
        "metric": "latency",
        "alertname": "Anomaly",
        "alerts": 5,
        "notified": 5,
        "acknowledged": 1,
        "helpful": 0,
        "not_helpful": 4,
        "ignored": 4,
        "ignored_ratio": 0.8,
        "noisy": True,
        "suggestion": "raise the threshold from 0.90 to 0.96 (4 of 5 marked not helpful)",
    }
    wider = client.get("/api/v1/reports/audit", params={"days": 10}).json()
    assert wider["groups"][0]["alerts"] == 6
    earlier = client.get("/api/v1/reports/audit", params={"until": "2026-01-13T00:00:00Z"}).json()
    assert earlier["groups"][0]["alerts"] == 1 and earlier["noisy"] == 0
    assert_error(client.get("/api/v1/reports/audit", params={"days": 0}), 400, "days")
    assert_error(client.get("/api/v1/reports/audit", params={"until": "2026-01-13"}), 400, "until")
