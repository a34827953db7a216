"""The dashboard's pages and files through the real API app, and the incident filter they use.

Pages are shells served next to the API: HTML for people (an unknown alert is a readable 404
page), while every ``/api`` answer, including errors, keeps the one JSON shape.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.model import Alert
from anomalert.store import Store
from tests.support.alerts import firing_alert

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_700_000_000.0
PAGES = ["/", "/services", "/services/checkout", "/silences", "/reports/shadow", "/reports/audit"]


def alert(service: str, metric: str, start: float, incident: str) -> Alert:
    labels = {"alertname": "Anomaly", "service": service, "metric": metric, "incident": incident}
    return firing_alert(labels, start, summary=f"{metric} of {service} far above the usual")


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, Store]]:
    out = {"name": "out", "jsonl": {"path": str(tmp_path / "n.jsonl")}}
    config = parse_config({"route": {"receiver": "out"}, "receivers": [out]})
    store = Store.open(f"sqlite:///{tmp_path}/a.db")
    app = App(config, store, EventClock(NOW))
    with TestClient(create_api(app)) as client:
        yield client, store
    store.close()


def test_every_page_is_html_with_its_script(setup: tuple[TestClient, Store]) -> None:
    client, _ = setup
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        assert "static/js/" in r.text and '<script type="module"' in r.text
        assert f'data-now="{NOW}"' in r.text
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/js/chart.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


def test_an_alert_page_and_the_readable_404(setup: tuple[TestClient, Store]) -> None:
    client, store = setup
    alert_id = store.upsert_alert(alert("checkout", "latency_ms", NOW - 60, "inc-1"))
    r = client.get(f"/alerts/{alert_id}")
    assert r.status_code == 200 and f'data-id="{alert_id}"' in r.text
    # every link is relative, so a proxy may serve the dashboard under a path prefix
    assert 'data-root="../"' in r.text and 'href="../static/app.css' in r.text
    assert 'href="/' not in r.text and 'src="/' not in r.text
    for missing in ("/alerts/999", "/alerts/abc"):
        r = client.get(missing)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "Not found" in r.text and "There is no alert with id" in r.text
    # the API keeps its JSON errors
    r = client.get("/api/v1/alerts/999")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert client.get("/static/nothing.js").json()["error"]["status"] == 404


def test_pages_do_not_shadow_the_api_or_the_probes(setup: tuple[TestClient, Store]) -> None:
    client, _ = setup
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert client.get("/api/v1/alerts").json() == {"alerts": [], "next": None}
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert not any(p == "/" or p.startswith(("/alerts", "/services", "/reports")) for p in paths)


def test_the_incident_filter_keeps_one_group(setup: tuple[TestClient, Store]) -> None:
    client, store = setup
    ids = {}
    for i, (svc, inc) in enumerate(
        [("db", "a"), ("search", "a"), ("auth", "b"), ("checkout", "a")]
    ):
        ids[svc] = store.upsert_alert(alert(svc, "latency_ms", NOW - 600 + i, f"db-{inc}"))
    r = client.get("/api/v1/alerts", params={"incident": "db-a"})
    assert [a["service"] for a in r.json()["alerts"]] == ["checkout", "search", "db"]
    r = client.get(
        "/api/v1/alerts", params={"incident": "db-a", "limit": 1, "before": ids["checkout"]}
    )
    assert [a["service"] for a in r.json()["alerts"]] == ["search"]
    assert r.json()["next"] == ids["search"]
    assert client.get("/api/v1/alerts", params={"incident": "none"}).json()["alerts"] == []


def test_the_incident_filter_scans_a_bounded_window(setup: tuple[TestClient, Store]) -> None:
    _, store = setup
    import anomalert.store.alerts as alerts_module

    old = store.upsert_alert(alert("db", "cpu", NOW - 900, "db-old"))
    for i in range(5):
        store.upsert_alert(alert("web", f"m{i}", NOW - 800 + i, "web-x"))
    assert [r.id for r in store.list_alerts(incident="db-old")] == [old]
    scan = alerts_module.INCIDENT_SCAN
    alerts_module.INCIDENT_SCAN = 3
    try:
        assert store.list_alerts(incident="db-old") == []  # beyond the window: not scanned
        assert [r.id for r in store.list_alerts(incident="db-old", before_id=old + 2)] == [old]
    finally:
        alerts_module.INCIDENT_SCAN = scan
