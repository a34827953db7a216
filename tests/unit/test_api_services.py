"""The services API on a real App over SQLite: what a service page shows, the admin's mode
switch and sensitivity reset, and their errors in the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anomalert.app import App
from anomalert.model import Alert, fingerprint
from tests.support.api import ClientFactory, TestClient, api_clients
from tests.unit.test_api_contract import assert_error

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
DAY = 86400.0
WRITE, ADMIN = "write-tok-1", "admin-tok-2"
SERVICE_KEYS = {
    "name",
    "mode",
    "configured_mode",
    "mode_changed_by",
    "mode_changed_at",
    "criticality",
    "depends_on",
    "labels",
    "adaptive",
    "metrics",
    "feedback",
    "alerts",
    "volume",
}
CONFIG: dict[str, Any] = {
    "services": {
        "checkout": {
            "criticality": "high",
            "labels": {"team": "shop"},
            "depends_on": ["payments"],
            "metrics": {"latency": {"threshold": 0.95}, "fraud": {"adaptive": False}},
        },
        "payments": {"mode": "assistive"},
    },
    "route": {"receiver": "out"},
}

Make = ClientFactory


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    with api_clients(tmp_path, CONFIG, NOW) as build:
        yield build


@pytest.fixture
def client(make: Make) -> TestClient:
    return make()[0]


def store_alert(app: App, service: str, metric: str, starts_at: float, **kw: Any) -> int:
    labels = {"alertname": "Anomaly", "service": service, "metric": metric, "severity": "P2"}
    fields: dict[str, Any] = {
        "fingerprint": fingerprint(labels),
        "labels": labels,
        "annotations": {"summary": "up"},
        "starts_at": starts_at,
        "ends_at": None,
        "status": "firing",
        "score": 0.97,
        "severity": "P2",
        "mode": "alerting",
        "source": "anomaly",
        "updated_at": starts_at,
        **kw,
    }
    return app.store.upsert_alert(Alert(**fields))


def test_services_lists_configured_alerted_and_detected_ones(make: Make) -> None:
    client, app = make()
    store_alert(app, "billing", "queue_depth", NOW - 60)
    sample = {"metric": "qps", "labels": {"service": "search"}, "timestamp": NOW - 30, "value": 1}
    assert client.post("/api/v1/samples", json={"samples": [sample]}).status_code == 200
    services = client.get("/api/v1/services").json()["services"]
    assert [s["name"] for s in services] == ["billing", "checkout", "payments", "search"]
    assert all(set(s) == SERVICE_KEYS for s in services)
    billing, checkout, payments, search = services
    assert [m["metric"] for m in checkout["metrics"]] == ["fraud", "latency"]
    assert [m["metric"] for m in billing["metrics"]] == ["queue_depth"]
    assert [m["metric"] for m in search["metrics"]] == ["qps"]
    assert (payments["mode"], payments["configured_mode"]) == ("assistive", "assistive")
    assert checkout["depends_on"] == ["payments"] and checkout["labels"] == {"team": "shop"}
    assert checkout["criticality"] == "high" and billing["criticality"] == "medium"
    latency = checkout["metrics"][1]
    assert latency == {
        "metric": "latency",
        "threshold": 0.95,
        "base_threshold": 0.95,
        "adaptive": True,
        "explanation": "at the configured 0.95: no feedback in 7 days",
        "feedback": {"helpful": 0, "not_helpful": 0},
        "reset_at": None,
    }
    assert checkout["metrics"][0]["adaptive"] is False
    assert billing["feedback"] == {"helpful": 0, "not_helpful": 0, "precision": None}
    # A series that appears later is found too (the detector's index grows incrementally).
    later = {**sample, "metric": "errors", "timestamp": NOW - 20}
    assert client.post("/api/v1/samples", json={"samples": [later]}).status_code == 200
    search = client.get("/api/v1/services/search").json()
    assert [m["metric"] for m in search["metrics"]] == ["errors", "qps"]


def test_a_service_counts_its_alerts_per_day(make: Make) -> None:
    client, app = make()
    today = (NOW // DAY) * DAY
    store_alert(app, "checkout", "latency", NOW - 60)
    store_alert(app, "checkout", "latency", today - 1, status="resolved", ends_at=today)
    store_alert(app, "checkout", "errors", today - 10 * DAY, status="resolved", ends_at=today)
    store_alert(app, "checkout", "errors", today - 20 * DAY, status="resolved", ends_at=today)
    got = client.get("/api/v1/services/checkout").json()
    assert got["alerts"] == {"total": 4, "firing": 1, "last_7d": 2}
    volume = got["volume"]
    assert len(volume) == 14
    assert volume[-1] == {"day": "2023-11-14", "count": 1}
    assert volume[-2] == {"day": "2023-11-13", "count": 1}
    assert volume[3] == {"day": "2023-11-04", "count": 1}
    assert sum(v["count"] for v in volume) == 3


def test_feedback_shows_on_the_service_with_why_and_precision(make: Make) -> None:
    client, app = make()
    alert_id = store_alert(app, "checkout", "errors", NOW - 60)
    for helpful in (False, False, True, False, False, False):
        r = client.post(f"/api/v1/alerts/{alert_id}/feedback", json={"helpful": helpful})
        assert r.status_code == 200, r.text
    assert r.json()["threshold"] == {
        "service": "checkout",
        "metric": "errors",
        "before": 0.9225,
        "after": 0.93,
        "explanation": (
            "threshold raised from 0.90 to 0.93 after 1 helpful, 5 not-helpful in 7 days"
        ),
    }
    got = client.get("/api/v1/services/checkout").json()
    errors = next(m for m in got["metrics"] if m["metric"] == "errors")
    assert (errors["threshold"], errors["base_threshold"]) == (0.93, 0.90)
    assert errors["feedback"] == {"helpful": 1, "not_helpful": 5}
    assert errors["explanation"].startswith("threshold raised from 0.90 to 0.93")
    assert got["feedback"] == {"helpful": 1, "not_helpful": 5, "precision": 0.1667}

    app.clock.advance(NOW + 60)  # type: ignore[attr-defined]
    r = client.post("/api/v1/services/checkout/metrics/errors/sensitivity/reset", json={"by": "a"})
    assert r.status_code == 200, r.text
    errors = next(m for m in r.json()["metrics"] if m["metric"] == "errors")
    assert errors["threshold"] == 0.90 and errors["reset_at"] == "2023-11-14T22:14:20Z"
    assert errors["explanation"] == "at the configured 0.90: no feedback since the reset"
    assert errors["feedback"] == {"helpful": 1, "not_helpful": 5}  # recorded all the same
    r = client.post("/api/v1/services/checkout/metrics/errors/sensitivity/reset")
    assert r.status_code == 200  # the body is optional


def test_an_admin_switches_the_mode_and_back(client: TestClient) -> None:
    r = client.put("/api/v1/services/checkout/mode", json={"mode": "shadow", "by": "ana"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["mode"], got["configured_mode"]) == ("shadow", "alerting")
    assert (got["mode_changed_by"], got["mode_changed_at"]) == ("ana", "2023-11-14T22:13:20Z")
    assert client.get("/api/v1/services/checkout").json()["mode"] == "shadow"
    r = client.put("/api/v1/services/checkout/mode", json={"mode": None, "by": "bo"})
    assert (r.json()["mode"], r.json()["mode_changed_by"]) == ("alerting", "bo")
    # A service nobody configured can be switched (it uses `defaults`), and is then listed.
    r = client.put("/api/v1/services/newcomer/mode", json={"mode": "shadow"})
    assert r.status_code == 200 and r.json()["mode_changed_by"] == "api"
    names = [s["name"] for s in client.get("/api/v1/services").json()["services"]]
    assert "newcomer" in names


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "loud"}, "mode"),
        ({}, "mode"),
        ({"mode": "shadow", "by": ""}, "by"),
        ({"mode": "shadow", "who": "x"}, "who"),
        ([1], "body"),
    ],
)
def test_bad_mode_switches_name_the_field(client: TestClient, body: Any, field: str) -> None:
    assert_error(client.put("/api/v1/services/checkout/mode", json=body), 400, field)


def test_unknown_services_are_404_naming_the_service(client: TestClient) -> None:
    assert_error(client.get("/api/v1/services/nope"), 404, "service")
    r = client.post("/api/v1/services/nope/metrics/x/sensitivity/reset")
    assert_error(r, 404, "service")
    r = client.post("/api/v1/services/checkout/metrics/x/sensitivity/reset", json={"by": 3})
    assert_error(r, 400, "by")


def test_switches_need_the_admin_token_reads_none(make: Make) -> None:
    client, _ = make({"write_tokens": [WRITE], "admin_tokens": [ADMIN]})
    put = "/api/v1/services/checkout/mode"
    reset = "/api/v1/services/checkout/metrics/latency/sensitivity/reset"
    assert_error(client.put(put, json={"mode": "shadow"}), 401)
    write = {"Authorization": f"Bearer {WRITE}"}
    assert_error(client.put(put, json={"mode": "shadow"}, headers=write), 403)
    assert_error(client.post(reset, headers=write), 403)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert client.put(put, json={"mode": "shadow"}, headers=admin).status_code == 200
    assert client.post(reset, headers=admin).status_code == 200
    assert client.get("/api/v1/services").status_code == 200
    assert client.get("/api/v1/services/checkout").status_code == 200
