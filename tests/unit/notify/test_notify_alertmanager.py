"""Against a real Prometheus Alertmanager: forwarding, resolving, and the webhook format.

One Alertmanager (the ``prometheus-alertmanager`` binary, 127.0.0.1, a free port, its own
storage folder, gossip off) routes everything to a webhook endpoint the test hosts. We
forward alerts to it, read them back from its API, watch it deliver them to the webhook,
and compare its webhook body with the one our own webhook integration sends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from anomalert.model import Alert, Notification, fingerprint
from anomalert.notify.links import alert_url
from anomalert.notify.receivers.alertmanager import AlertmanagerConfig, AlertmanagerReceiver
from anomalert.notify.receivers.webhook import WebhookConfig, WebhookReceiver
from anomalert.notify.render import webhook_message
from tests.support.alertmanager import Sink, alertmanager, webhook_sink
from tests.support.procs import wait_until


def _alert(name: str, now: float, resolved: bool) -> Alert:
    labels = {"alertname": name, "service": "checkout", "severity": "P1", "env": "test"}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": f"{name} on checkout", "runbook_url": "https://rb.example.com/c"},
        starts_at=now - 60,
        ends_at=now - 1 if resolved else None,
        status="resolved" if resolved else "firing",
        score=0.95,
        severity="P1",
        mode="alerting",
        source="anomaly",
        updated_at=now,
    )


def notification(now: float, resolved: bool) -> Notification:
    """Two checkout alerts stamped with the wall clock (Alertmanager runs on it)."""
    return Notification(
        key=f"am-test/{'resolved' if resolved else 'firing'}",
        receiver="oncall",
        group_key='{}:{service="checkout"}',
        group_labels={"service": "checkout"},
        status="resolved" if resolved else "firing",
        alerts=(_alert("HighLatency", now, resolved), _alert("HighErrorRate", now, resolved)),
        time=now,
        severity="P1",
    )


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with webhook_sink() as s:
        yield s


@pytest.fixture(scope="module")
def am_url(sink: Sink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with alertmanager(tmp_path_factory.mktemp("alertmanager"), sink.url) as url:
        yield url


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def _active(am_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{am_url}/api/v2/alerts", params={"filter": "service=checkout"})
    response.raise_for_status()
    return list(response.json())


def _webhooks(sink: Sink, status: str) -> list[dict[str, Any]]:
    return [b for b in sink.bodies() if b["status"] == status]


def _names(body: dict[str, Any]) -> list[str]:
    return sorted(a["labels"]["alertname"] for a in body["alerts"])


@pytest.fixture
def resolve_after(am_url: str, client: httpx.Client) -> Iterator[None]:
    """Resolve the test's alerts even when it fails, so the next test starts on a quiet group.

    A group still firing from a failed test would get no new notification for a resend of
    the same alerts (the repeat interval is an hour), and the next test would time out.
    """
    yield
    receiver = AlertmanagerReceiver(
        "oncall/alertmanager[0]", AlertmanagerConfig(url=am_url), client
    )
    receiver.send(notification(time.time(), resolved=True))


@pytest.mark.usefixtures("resolve_after")
def test_forwarded_alerts_fire_and_resolve_in_alertmanager(
    am_url: str, sink: Sink, client: httpx.Client
) -> None:
    base = "https://alerts.example.com/anomalert"
    receiver = AlertmanagerReceiver(
        "oncall/alertmanager[0]", AlertmanagerConfig(url=am_url), client, external_url=base
    )
    now = time.time()
    firing = notification(now, resolved=False)
    receiver.send(firing)
    receiver.send(firing)  # a resend after a crash: the same alerts, not new ones

    active = _active(am_url)
    assert sorted(a["labels"]["alertname"] for a in active) == ["HighErrorRate", "HighLatency"]
    pages = {a.labels["alertname"]: alert_url(base, a) for a in firing.alerts}
    for a in active:
        assert a["labels"]["service"] == "checkout"
        assert a["generatorURL"] == pages[a["labels"]["alertname"]]  # its "Source" link
        assert a["annotations"]["runbook_url"] == "https://rb.example.com/c"
        assert a["status"]["state"] == "active"

    # Alertmanager itself notifies its webhook receiver about the group. On a loaded machine
    # its group wait can end between the two alerts of one POST; the next flush of the group
    # then carries both, so wait for a delivery with the whole group.
    both = ["HighErrorRate", "HighLatency"]
    wait_until(
        lambda: any(_names(b) == both for b in _webhooks(sink, "firing")),
        timeout=20,
        what="firing webhook with both alerts",
    )

    receiver.send(notification(time.time(), resolved=True))
    assert _active(am_url) == []  # resolved alerts leave the active list
    wait_until(lambda: bool(_webhooks(sink, "resolved")), timeout=10, what="resolved webhook")
    resolved = _webhooks(sink, "resolved")[0]
    assert {a["status"] for a in resolved["alerts"]} == {"resolved"}


@pytest.mark.usefixtures("resolve_after")
def test_our_webhook_body_has_alertmanagers_shape(
    am_url: str, sink: Sink, client: httpx.Client
) -> None:
    """Field for field, what Alertmanager sends a webhook is what our webhook sends."""
    receiver = AlertmanagerReceiver(
        "oncall/alertmanager[0]", AlertmanagerConfig(url=am_url), client
    )
    seen = len(_webhooks(sink, "firing"))
    now = time.time()
    receiver.send(notification(now, resolved=False))
    wait_until(lambda: len(_webhooks(sink, "firing")) > seen, timeout=10, what="firing webhook")
    theirs = _webhooks(sink, "firing")[seen]
    ours = webhook_message(notification(now, resolved=False))
    assert set(ours) == set(theirs)
    assert set(ours["alerts"][0]) == set(theirs["alerts"][0])
    assert ours["version"] == theirs["version"] == "4"
    assert theirs["alerts"][0]["endsAt"] == ours["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert ours["commonLabels"] == theirs["commonLabels"]
    assert ours["groupLabels"] == {"service": "checkout"}
    receiver.send(notification(time.time(), resolved=True))


def test_webhook_integration_posts_to_a_real_http_server(client: httpx.Client) -> None:
    """Against a sink of its own: the module's sink also gets Alertmanager's notifications,
    which arrive when Alertmanager's group timers say (a resolved one from the tests above
    landed in the middle of this one on a loaded machine, 2026-12-05)."""
    with webhook_sink() as sink:
        config = WebhookConfig(url=SecretStr(sink.url), bearer_token=SecretStr("t0ken"))
        n = notification(time.time(), resolved=False)
        WebhookReceiver("oncall/webhook[0]", config, client).send(n)
        assert sink.bodies() == [webhook_message(n)]
        posted = sink.headers[0]
    headers = {k.lower(): v for k, v in posted.items()}
    assert headers["idempotency-key"] == n.key
    assert headers["authorization"] == "Bearer t0ken"
