"""What each integration sends: the parts the conformance suite cannot check generically."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from anomalert.model import Alert, Notification, fingerprint
from anomalert.notify.receivers.alertmanager import AlertmanagerConfig, AlertmanagerReceiver
from anomalert.notify.receivers.base import BasicAuth
from anomalert.notify.receivers.discord import DiscordConfig, DiscordReceiver
from anomalert.notify.receivers.email import EmailConfig, EmailReceiver
from anomalert.notify.receivers.jsonl import JsonlReceiver
from anomalert.notify.receivers.log import LogConfig, LogReceiver
from anomalert.notify.receivers.opsgenie import OpsgenieConfig, OpsgenieReceiver
from anomalert.notify.receivers.pagerduty import PagerDutyConfig, PagerDutyReceiver
from anomalert.notify.receivers.slack import SlackConfig, SlackReceiver
from anomalert.notify.receivers.teams import TeamsConfig, TeamsReceiver
from anomalert.notify.receivers.webhook import WebhookConfig, WebhookReceiver
from anomalert.notify.render import dedup_key
from tests.support.smtp import smtp_server

T0 = 1_704_099_600.0  # 2024-01-01 09:00 UTC
RUNBOOK = "https://rb.example.com/checkout"


def alert(name: str, severity: str = "P1", score: float = 0.97, resolved: bool = False) -> Alert:
    labels = {"alertname": name, "service": "checkout", "severity": severity}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": f"{name}: p99 840 ms <b>", "runbook_url": RUNBOOK},
        starts_at=T0,
        ends_at=T0 + 900 if resolved else None,
        status="resolved" if resolved else "firing",
        score=score,
        severity="P1" if severity == "P1" else "P2" if severity == "P2" else "P3",
        mode="alerting",
        source="anomaly",
        updated_at=T0,
    )


def notification(
    status: str = "firing", severity: str = "P1", acknowledged: bool = False, n: int = 2
) -> Notification:
    resolved = status == "resolved"
    alerts = tuple(alert(f"A{i}", severity, 0.97 - i / 100, resolved) for i in range(n))
    return Notification(
        key=f"k/{status}/{acknowledged}",
        receiver="oncall",
        group_key='{}:{service="checkout"}',
        group_labels={"service": "checkout"},
        status="resolved" if resolved else "firing",
        alerts=alerts,
        time=T0 + 60,
        severity=alerts[0].severity,
        acknowledged=acknowledged,
    )


class Api:
    """A mock SaaS endpoint that records requests and answers 202."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(202)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def api() -> Iterator[Api]:
    a = Api()
    yield a
    a.client.close()


def test_pagerduty_triggers_acknowledges_and_resolves_one_incident(api: Api) -> None:
    config = PagerDutyConfig(routing_key=SecretStr("RK"))
    pd = PagerDutyReceiver("oncall/pagerduty[0]", config, api.client)
    for n in (notification(), notification(acknowledged=True), notification("resolved")):
        pd.send(n)
    trigger, ack, resolve = api.bodies()
    assert [b["event_action"] for b in (trigger, ack, resolve)] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert trigger["dedup_key"] == ack["dedup_key"] == resolve["dedup_key"]
    assert trigger["dedup_key"] == dedup_key(notification())
    assert {b["routing_key"] for b in (trigger, ack, resolve)} == {"RK"}
    assert ack.keys() == resolve.keys() == {"routing_key", "event_action", "dedup_key"}
    payload = trigger["payload"]
    assert payload["summary"] == "[FIRING:2] checkout: A0: p99 840 ms <b>"
    assert (payload["severity"], payload["source"], payload["component"]) == (
        "critical",
        "checkout",
        "checkout",
    )
    assert payload["timestamp"] == "2024-01-01T09:00:00Z"
    assert payload["custom_details"]["alert_count"] == 2
    assert trigger["links"] == [{"href": RUNBOOK, "text": "Runbook"}]
    assert str(api.requests[0].url) == "https://events.pagerduty.com/v2/enqueue"


@pytest.mark.parametrize(
    ("ours", "theirs"), [("P1", "critical"), ("P2", "error"), ("P3", "warning")]
)
def test_pagerduty_severity_mapping(api: Api, ours: str, theirs: str) -> None:
    pd = PagerDutyReceiver("p", PagerDutyConfig(routing_key=SecretStr("RK")), api.client)
    pd.send(notification(severity=ours))
    assert api.bodies()[0]["payload"]["severity"] == theirs


def test_opsgenie_creates_acknowledges_and_closes_by_alias(api: Api) -> None:
    config = OpsgenieConfig.model_validate(
        {"api_key": "GK", "url": "https://api.eu.opsgenie.com", "tags": ["prod"]}
    )
    og = OpsgenieReceiver("oncall/opsgenie[0]", config, api.client)
    for n in (notification(), notification(acknowledged=True), notification("resolved")):
        og.send(n)
    create, ack, close = api.requests
    alias = dedup_key(notification())
    assert str(create.url) == "https://api.eu.opsgenie.com/v2/alerts"
    assert str(ack.url) == (
        f"https://api.eu.opsgenie.com/v2/alerts/{alias}/acknowledge?identifierType=alias"
    )
    assert str(close.url) == (
        f"https://api.eu.opsgenie.com/v2/alerts/{alias}/close?identifierType=alias"
    )
    assert {r.headers["authorization"] for r in api.requests} == {"GenieKey GK"}
    body = json.loads(create.content)
    assert body["alias"] == alias and body["priority"] == "P1"
    assert len(body["message"]) <= 130
    assert body["details"]["runbook_url"] == RUNBOOK
    assert body["tags"] == ["P1", "checkout", "prod"]
    assert f"runbook: {RUNBOOK}" in body["description"]


@pytest.mark.parametrize(("ours", "theirs"), [("P1", "P1"), ("P2", "P3"), ("P3", "P5")])
def test_opsgenie_priority_mapping(api: Api, ours: str, theirs: str) -> None:
    og = OpsgenieReceiver("o", OpsgenieConfig(api_key=SecretStr("GK")), api.client)
    og.send(notification(severity=ours))
    assert api.bodies()[0]["priority"] == theirs


def test_slack_escapes_reasons_links_the_runbook_and_honours_overrides(api: Api) -> None:
    config = SlackConfig.model_validate(
        {"url": "https://hooks.slack.example.com/x", "channel": "#ops", "username": "anomalert"}
    )
    SlackReceiver("oncall/slack[0]", config, api.client).send(notification())
    (body,) = api.bodies()
    assert (body["channel"], body["username"]) == ("#ops", "anomalert")
    assert body["text"].startswith("[FIRING:2] checkout")
    section = body["blocks"][1]["text"]["text"]
    assert "p99 840 ms &lt;b&gt;" in section and "<b>" not in section
    assert f"<{RUNBOOK}|runbook>" in section
    assert body["blocks"][-1]["elements"][0]["url"] == RUNBOOK


def test_chat_integrations_can_skip_resolved(api: Api) -> None:
    config = SlackConfig.model_validate({"url": "https://h.example.com/x", "send_resolved": False})
    slack = SlackReceiver("s", config, api.client)
    slack.send(notification("resolved"))
    assert api.requests == []
    slack.send(notification())
    assert len(api.requests) == 1


def test_teams_sends_an_adaptive_card_or_a_message_card(api: Api) -> None:
    url = "https://example.webhook.office.com/x"
    TeamsReceiver("t", TeamsConfig.model_validate({"url": url}), api.client).send(notification())
    legacy = TeamsConfig.model_validate({"url": url, "card": "messagecard"})
    TeamsReceiver("t", legacy, api.client).send(notification("resolved"))
    adaptive, card = api.bodies()
    content = adaptive["attachments"][0]["content"]
    assert content["type"] == "AdaptiveCard"
    assert content["actions"] == [{"type": "Action.OpenUrl", "title": "Runbook", "url": RUNBOOK}]
    assert card["@type"] == "MessageCard" and card["title"].startswith("[RESOLVED:2]")
    assert card["themeColor"] == "2EB67D"
    assert card["potentialAction"][0]["targets"][0]["uri"] == RUNBOOK


def test_discord_pings_nobody_and_links_the_runbook(api: Api) -> None:
    config = DiscordConfig.model_validate({"url": "https://discord.example.com/w", "username": "a"})
    DiscordReceiver("d", config, api.client).send(notification())
    (body,) = api.bodies()
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert embed["url"] == RUNBOOK and embed["timestamp"] == "2024-01-01T09:01:00Z"
    assert {"name": "Runbook", "value": RUNBOOK, "inline": False} in embed["fields"]


def test_webhook_basic_auth_and_max_alerts(api: Api) -> None:
    config = WebhookConfig(
        url=SecretStr("https://hooks.example.com/x"),
        basic_auth=BasicAuth(username="u", password=SecretStr("p")),
        max_alerts=1,
    )
    WebhookReceiver("w", config, api.client).send(notification())
    (request,) = api.requests
    assert request.headers["authorization"] == "Basic dTpw"
    body = json.loads(request.content)
    assert (len(body["alerts"]), body["truncatedAlerts"]) == (1, 1)


def test_alertmanager_firing_alerts_expire_after_the_ttl_resolved_carry_their_end(
    api: Api,
) -> None:
    config = AlertmanagerConfig.model_validate({"url": "http://am:9093/", "firing_ttl": "2h"})
    am = AlertmanagerReceiver("a", config, api.client)
    am.send(notification())
    am.send(notification("resolved"))
    assert str(api.requests[0].url) == "http://am:9093/api/v2/alerts"
    firing, resolved = api.bodies()
    assert {a["endsAt"] for a in firing} == {"2024-01-01T11:01:00Z"}
    assert {a["endsAt"] for a in resolved} == {"2024-01-01T09:15:00Z"}
    assert firing[0]["labels"] == {"alertname": "A0", "service": "checkout", "severity": "P1"}
    assert firing[0]["startsAt"] == "2024-01-01T09:00:00Z"


def test_email_logs_in_and_sends_a_readable_message() -> None:
    with smtp_server(auth=("anomalert", "pw")) as server:
        config = EmailConfig.model_validate(
            {
                "host": server.host,
                "port": server.port,
                "from": "anomalert@example.com",
                "to": ["a@example.com", "b@example.com"],
                "username": "anomalert",
                "password": "pw",
            }
        )
        EmailReceiver("oncall/email[0]", config).send(notification())
        (received,) = server.messages
        assert server.logins[-1] == ("anomalert", True)
    msg = received.message
    assert received.mail_from == "anomalert@example.com"
    assert received.rcpt_tos == ("a@example.com", "b@example.com")
    assert msg["Subject"] == "[FIRING:2] checkout"
    assert msg["To"] == "a@example.com, b@example.com"
    assert msg["Message-ID"].endswith("@example.com>")
    assert parsedate_to_datetime(str(msg["Date"])).timestamp() == T0 + 60
    part = msg.get_body()
    assert part is not None
    body = part.get_content()
    assert "P1 checkout: A0: p99 840 ms <b> (score 0.97)" in body
    assert f"runbook: {RUNBOOK}" in body


def test_log_line_is_readable_and_can_go_to_a_logger(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    LogReceiver("terminal/log[0]", LogConfig(), stream).send(notification())
    assert stream.getvalue() == (
        "2024-01-01T09:01:00Z oncall FIRING P1 checkout A0: p99 840 ms <b> (score 0.97)"
        f" +1 more runbook: {RUNBOOK}\n"
    )
    with caplog.at_level(logging.INFO, logger="anomalert.notifications"):
        LogReceiver("l", LogConfig(logger="anomalert.notifications")).send(notification("resolved"))
    (record,) = caplog.records
    assert record.getMessage().startswith("2024-01-01T09:01:00Z oncall RESOLVED P1 checkout")


def test_jsonl_appends_one_flushed_line_per_notification(tmp_path: Path) -> None:
    path = tmp_path / "replay" / "notifications.jsonl"
    receiver = JsonlReceiver(path, name="terminal/jsonl[0]")
    receiver.send(notification())
    assert len(path.read_text().splitlines()) == 1  # on disk before the next send
    receiver.send(notification("resolved", n=1))
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert (first["status"], second["status"]) == ("firing", "resolved")
    assert (first["service"], first["severity"], first["score"]) == ("checkout", "P1", 0.97)
    assert len(first["alerts"]) == 2 and len(second["alerts"]) == 1
    assert second["alerts"][0]["ends_at"] == "2024-01-01T09:15:00Z"


# -- links back to the dashboard ("Explain this alert") ------------------------------------

BASE = "https://alerts.example.com/anomalert"  # behind a proxy, under a path prefix


def page(a: Alert) -> str:
    """The link every format must carry for ``a``."""
    return f"{BASE}/alerts/by-fingerprint/{a.fingerprint}?starts_at=1704099600"


def test_slack_links_each_alert_and_has_an_explain_button(api: Api) -> None:
    n = notification()
    config = SlackConfig.model_validate({"url": "https://hooks.slack.example.com/x"})
    SlackReceiver("s", config, api.client, BASE + "/").send(n)
    (body,) = api.bodies()
    section = body["blocks"][1]["text"]["text"]
    assert all(f"<{page(a)}|explain>" in section for a in n.alerts)
    explain, runbook = body["blocks"][-1]["elements"]
    assert explain["text"]["text"] == "Explain this alert" and explain["url"] == page(n.alerts[0])
    assert explain["style"] == "primary" and runbook["url"] == RUNBOOK


def test_teams_cards_open_the_alert_page(api: Api) -> None:
    n = notification()
    url = "https://example.webhook.office.com/x"
    TeamsReceiver("t", TeamsConfig.model_validate({"url": url}), api.client, BASE).send(n)
    legacy = TeamsConfig.model_validate({"url": url, "card": "messagecard"})
    TeamsReceiver("t", legacy, api.client, BASE).send(n)
    adaptive, card = api.bodies()
    content = adaptive["attachments"][0]["content"]
    assert content["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Explain this alert",
        "url": page(n.alerts[0]),
    }
    assert {"title": "Explain this alert", "value": page(n.alerts[0])} in content["body"][2][
        "facts"
    ]
    assert all(f"[explain]({page(a)})" in content["body"][3]["text"] for a in n.alerts)
    first = card["potentialAction"][0]
    assert (first["name"], first["targets"][0]["uri"]) == ("Explain this alert", page(n.alerts[0]))


def test_discord_embed_title_opens_the_alert_page(api: Api) -> None:
    n = notification()
    config = DiscordConfig.model_validate({"url": "https://discord.example.com/w"})
    DiscordReceiver("d", config, api.client, BASE).send(n)
    (embed,) = api.bodies()[0]["embeds"]
    assert embed["url"] == page(n.alerts[0])
    field = {"name": "Explain this alert", "value": page(n.alerts[0]), "inline": False}
    assert field in embed["fields"]
    assert all(f"[explain]({page(a)})" in embed["description"] for a in n.alerts)


def test_pagerduty_links_the_alert_page_as_client_url_and_first_link(api: Api) -> None:
    n = notification()
    PagerDutyReceiver("p", PagerDutyConfig(routing_key=SecretStr("RK")), api.client, BASE).send(n)
    (trigger,) = api.bodies()
    assert trigger["client_url"] == page(n.alerts[0])
    assert trigger["links"] == [
        {"href": page(n.alerts[0]), "text": "Explain this alert"},
        {"href": RUNBOOK, "text": "Runbook"},
        {"href": page(n.alerts[1]), "text": "Explain this alert: checkout A1"},
    ]


def test_opsgenie_details_and_description_carry_the_alert_pages(api: Api) -> None:
    n = notification()
    OpsgenieReceiver("o", OpsgenieConfig(api_key=SecretStr("GK")), api.client, BASE).send(n)
    (body,) = api.bodies()
    assert body["details"]["dashboard_url"] == page(n.alerts[0])
    assert all(f"explain: {page(a)}" in body["description"] for a in n.alerts)


def test_webhook_generator_urls_and_external_url(api: Api) -> None:
    n = notification()
    config = WebhookConfig(url=SecretStr("https://hooks.example.com/x"))
    WebhookReceiver("w", config, api.client, BASE).send(n)
    own = WebhookConfig(url=SecretStr("https://hooks.example.com/x"), external_url="http://in:80")
    WebhookReceiver("w", own, api.client, BASE).send(n)
    body, overridden = api.bodies()
    assert body["externalURL"] == BASE
    assert [a["generatorURL"] for a in body["alerts"]] == [page(a) for a in n.alerts]
    assert overridden["externalURL"] == "http://in:80"  # this webhook's own base wins
    assert overridden["alerts"][0]["generatorURL"].startswith("http://in:80/alerts/")


def test_alertmanager_generator_url_is_ours_unless_the_sender_gave_one(api: Api) -> None:
    theirs = "http://prometheus:9090/graph?g0.expr=up"
    ext = alert("Up")
    ext = Alert(**{**vars(ext), "annotations": {**ext.annotations, "generator_url": theirs}})
    n = notification()
    n = Notification(**{**vars(n), "alerts": (*n.alerts, ext)})
    config = AlertmanagerConfig.model_validate({"url": "http://am:9093/"})
    AlertmanagerReceiver("a", config, api.client, BASE).send(n)
    (sent,) = api.bodies()
    assert [a["generatorURL"] for a in sent] == [page(n.alerts[0]), page(n.alerts[1]), theirs]


def test_email_text_links_each_alert_page() -> None:
    n = notification()
    with smtp_server() as server:
        config = EmailConfig.model_validate(
            {"host": server.host, "port": server.port, "from": "a@example.com", "to": "b@x.org"}
        )
        EmailReceiver("e", config, BASE).send(n)
        (received,) = server.messages
    part = received.message.get_body()
    assert part is not None
    body = part.get_content()
    assert all(f"  explain: {page(a)}" in body.splitlines() for a in n.alerts)
    assert body.index("explain:") < body.index("runbook:")


def test_log_line_ends_with_the_lead_alert_page() -> None:
    n = notification()
    stream = io.StringIO()
    LogReceiver("terminal/log[0]", LogConfig(), stream, BASE).send(n)
    assert stream.getvalue().endswith(f" +1 more explain: {page(n.alerts[0])} runbook: {RUNBOOK}\n")
