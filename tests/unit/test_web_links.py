"""Links in notifications reach "Explain this alert": the by-fingerprint route, end to end.

A notification names an alert episode by fingerprint and start; the dashboard answers that
link with a 303 to ``/alerts/{id}``, or its readable 404 page. The redirect is relative, so
a service behind a proxy under a path prefix (``server.external_url`` =
``https://alerts.example.com/anomalert``) sends people to the page under the same prefix.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.model import Alert
from anomalert.notify.links import alert_url
from anomalert.store import Store
from tests.support.alerts import firing_alert

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_700_000_000.0
EXTERNAL = "https://alerts.example.com/anomalert"
DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def alert(start: float) -> Alert:
    labels = {"alertname": "Anomaly", "service": "checkout", "metric": "latency_ms"}
    return firing_alert(labels, start, summary="latency_ms of checkout far above the usual")


class Hook:
    """A webhook endpoint (mock transport) that keeps every body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(200)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[TestClient, App, Hook]]:
    """A real App whose notifications go to a webhook, its links under EXTERNAL."""
    config = parse_config(
        {
            "server": {"external_url": EXTERNAL},
            "route": {"receiver": "hook", "group_wait": "0s"},
            "receivers": [{"name": "hook", "webhook": {"url": "https://hooks.example.com/x"}}],
        }
    )
    store = Store.open(f"sqlite:///{tmp_path}/a.db")
    hook = Hook()
    app = App(config, store, EventClock(NOW), http=hook.client)
    with TestClient(create_api(app)) as client:
        yield client, app, hook
    hook.client.close()
    store.close()


def path_of(link: str) -> str:
    """What the proxy in front of the service forwards: the link without the prefix."""
    assert link.startswith(EXTERNAL + "/")
    return link[len(EXTERNAL) :]


def test_a_link_redirects_to_the_page_of_its_episode(
    service: tuple[TestClient, App, Hook],
) -> None:
    client, app, _ = service
    first = app.store.upsert_alert(alert(NOW - 7200.75))
    second = app.store.upsert_alert(alert(NOW - 60))
    for start, alert_id in ((NOW - 7200.75, first), (NOW - 60, second)):
        link = alert_url(EXTERNAL, alert(start))
        r = client.get(path_of(link), follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, f"../{alert_id}")
        # the browser resolves it against the link it followed: the prefix stays
        assert str(httpx.URL(link).join(r.headers["location"])) == f"{EXTERNAL}/alerts/{alert_id}"
        page = client.get(path_of(link))  # followed, without a proxy in between
        assert page.status_code == 200 and f'data-id="{alert_id}"' in page.text
    newest = client.get(f"/alerts/by-fingerprint/{alert(NOW).fingerprint}", follow_redirects=False)
    assert (newest.status_code, newest.headers["location"]) == (303, f"../{second}")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("/alerts/by-fingerprint/0123456789abcdef", "no alert with fingerprint 0123456789abcdef"),
        ("/alerts/by-fingerprint/{fp}?starts_at=1", "that started at 1970-01-01T00:00:01Z"),
        ("/alerts/by-fingerprint/{fp}?starts_at=yesterday", "is not a time in unix seconds"),
        ("/alerts/by-fingerprint/{fp}?starts_at=nan", "is not a time in unix seconds"),
    ],
)
def test_an_unknown_episode_is_a_readable_404_page(
    service: tuple[TestClient, App, Hook], query: str, says: str
) -> None:
    client, app, _ = service
    app.store.upsert_alert(alert(NOW - 60))
    r = client.get(query.format(fp=alert(NOW).fingerprint))
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert says in r.text


def test_a_notification_from_the_running_app_leads_to_explain_this_alert(
    service: tuple[TestClient, App, Hook],
) -> None:
    """Config -> receivers -> webhook body -> link -> the stored alert's page."""
    client, app, hook = service
    theirs = "http://prometheus:9090/graph?g0.expr=up"
    body = [
        {"labels": {"alertname": "HighLatency", "service": "checkout", "severity": "critical"}},
        {"labels": {"alertname": "Down", "service": "cart"}, "generatorURL": theirs},
    ]
    assert client.post("/api/v2/alerts", json=body).status_code == 200
    app.tick()
    app.deliver()
    sent = [a for b in hook.bodies for a in b["alerts"]]
    assert {b["externalURL"] for b in hook.bodies} == {EXTERNAL}
    ours = next(a for a in sent if a["labels"]["alertname"] == "HighLatency")
    assert next(a["generatorURL"] for a in sent if a["labels"]["alertname"] == "Down") == theirs
    stored = client.get("/api/v1/alerts", params={"service": "checkout"}).json()["alerts"]
    r = client.get(path_of(ours["generatorURL"]), follow_redirects=False)
    assert r.status_code == 303
    assert str(httpx.URL(ours["generatorURL"]).join(r.headers["location"])) == (
        f"{EXTERNAL}/alerts/{stored[0]['id']}"
    )


def test_the_route_is_in_the_api_reference() -> None:
    assert "`/alerts/by-fingerprint/{fingerprint}?starts_at=" in DOC.read_text()
