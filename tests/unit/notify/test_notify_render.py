"""Shared rendering: titles, the lead alert, dedup keys, webhook JSON, payload and replay JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from anomalert.model import Alert, Notification, fingerprint
from anomalert.notify.links import alert_url
from anomalert.notify.render import (
    EXPLAIN,
    MAX_CHAT_LINES,
    ZERO_TIME,
    chat_message,
    dedup_key,
    lead_alert,
    notification_from_dict,
    notification_to_dict,
    replay_record,
    rfc3339,
    title,
    webhook_message,
)

T0 = 1_704_099_600.0  # 2024-01-01 09:00 UTC


def alert(
    name: str,
    severity: str = "P2",
    score: float = 0.9,
    status: str = "firing",
    service: str = "checkout",
    **annotations: str,
) -> Alert:
    labels = {"alertname": name, "service": service, "severity": severity, "env": "prod"}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": f"{name} reason", **annotations},
        starts_at=T0,
        ends_at=None if status == "firing" else T0 + 600.5,
        status="firing" if status == "firing" else "resolved",
        score=score,
        severity="P1" if severity == "P1" else "P3" if severity == "P3" else "P2",
        mode="alerting",
        source="anomaly",
        updated_at=T0,
    )


def notification(*alerts: Alert, status: str = "firing", **kw: Any) -> Notification:
    fields: dict[str, Any] = {
        "key": "k1",
        "receiver": "oncall",
        "group_key": '{}:{service="checkout"}',
        "group_labels": {"service": "checkout"},
        "status": status,
        "alerts": alerts,
        "time": T0 + 60,
        "severity": "P1",
    }
    fields.update(kw)
    return Notification(**fields)


def test_rfc3339_is_utc_with_zero_time_for_still_firing() -> None:
    assert rfc3339(T0) == "2024-01-01T09:00:00Z"
    assert rfc3339(T0 + 0.5) == "2024-01-01T09:00:00.500Z"
    assert rfc3339(None) == ZERO_TIME == "0001-01-01T00:00:00Z"


def test_lead_alert_is_highest_severity_then_highest_score() -> None:
    low = alert("A", "P2", 0.99)
    page = alert("B", "P1", 0.91)
    page_higher = alert("C", "P1", 0.95)
    assert lead_alert(notification(low, page, page_higher)) is page_higher
    # a firing message leads with a firing alert, even if a resolved one ranks higher
    gone = alert("D", "P1", 0.99, status="resolved")
    assert lead_alert(notification(gone, low)) is low
    assert lead_alert(notification(gone, low, status="resolved")) is gone


def test_title_counts_the_alerts_the_status_is_about() -> None:
    n = notification(alert("A"), alert("B"), alert("C", status="resolved"))
    assert title(n) == "[FIRING:2] checkout"
    grouped = notification(alert("A"), group_labels={"alertname": "A", "service": "checkout"})
    assert title(grouped) == "[FIRING:1] checkout A"
    assert title(notification(alert("A"), acknowledged=True)).startswith("[ACKNOWLEDGED:1]")
    ungrouped = notification(alert("HighLatency"), group_labels={})
    assert title(ungrouped) == "[FIRING:1] checkout HighLatency"


def test_dedup_key_is_the_same_for_trigger_ack_and_resolve_of_a_group() -> None:
    firing = notification(alert("A"))
    ack = notification(alert("A"), key="k2", acknowledged=True, tier=1)
    resolved = notification(alert("A", status="resolved"), key="k3", status="resolved")
    other = notification(alert("A"), group_key='{}:{service="cart"}')
    assert dedup_key(firing) == dedup_key(ack) == dedup_key(resolved) != dedup_key(other)
    assert len(dedup_key(firing)) < 64


def test_webhook_message_is_alertmanagers_version_4() -> None:
    a = alert("HighLatency", "P1", runbook_url="https://rb.example.com/x")
    b = alert("HighErrorRate", "P1", status="resolved", runbook_url="https://rb.example.com/x")
    msg = webhook_message(notification(a, b), external_url="http://anomalert:8080")
    assert msg["version"] == "4"
    assert msg["status"] == "firing" and msg["receiver"] == "oncall"
    assert msg["groupKey"] == '{}:{service="checkout"}'
    assert msg["groupLabels"] == {"service": "checkout"}
    assert msg["commonLabels"] == {"env": "prod", "service": "checkout", "severity": "P1"}
    assert msg["commonAnnotations"] == {"runbook_url": "https://rb.example.com/x"}
    assert msg["externalURL"] == "http://anomalert:8080"
    assert msg["truncatedAlerts"] == 0
    first, second = msg["alerts"]
    assert first == {
        "status": "firing",
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": "2024-01-01T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": alert_url("http://anomalert:8080", a),
        "fingerprint": a.fingerprint,
    }
    assert first["generatorURL"].startswith("http://anomalert:8080/alerts/by-fingerprint/")
    assert second["endsAt"] == "2024-01-01T09:10:00.500Z"
    json.dumps(msg)  # plain JSON all the way down


def test_webhook_message_keeps_the_generator_url_an_external_alert_came_with() -> None:
    theirs = alert("Up", generator_url="http://prometheus:9090/graph?g0.expr=up")
    ours = alert("HighLatency")
    base = "https://alerts.example.com/anomalert/"
    msg = webhook_message(notification(theirs, ours), external_url=base)
    assert [a["generatorURL"] for a in msg["alerts"]] == [
        "http://prometheus:9090/graph?g0.expr=up",
        f"https://alerts.example.com/anomalert/alerts/by-fingerprint/{ours.fingerprint}"
        "?starts_at=1704099600",
    ]
    assert msg["externalURL"] == "https://alerts.example.com/anomalert"
    no_base = webhook_message(notification(theirs, ours))
    assert [a["generatorURL"] for a in no_base["alerts"]] == [
        "http://prometheus:9090/graph?g0.expr=up",
        "",
    ]


def test_webhook_message_truncates_like_max_alerts() -> None:
    alerts = [alert(f"A{i}") for i in range(5)]
    msg = webhook_message(notification(*alerts), max_alerts=2)
    assert len(msg["alerts"]) == 2 and msg["truncatedAlerts"] == 3


def test_payload_round_trips_exactly_through_json() -> None:
    n = notification(
        alert("A", "P1", 0.97, runbook_url="https://rb.example.com/a"),
        alert("B", "P3", 0.5, status="resolved"),
        tier=2,
        acknowledged=True,
        route="0.1",
        sequence=3,
        taken="a1b2",
    )
    stored = json.loads(json.dumps(notification_to_dict(n)))
    assert notification_from_dict(stored) == n
    assert notification_from_dict(stored).alerts[1].ends_at == T0 + 600.5


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(version=2),
        lambda d: d.pop("alerts"),
        lambda d: d.update(status="burning"),
        lambda d: d["alerts"][0].update(severity="P9"),
    ],
)
def test_payload_that_cannot_be_read_is_an_error(damage: Callable[[Any], Any]) -> None:
    d = notification_to_dict(notification(alert("A")))
    damage(d)
    with pytest.raises((KeyError, ValueError)):
        notification_from_dict(d)


def test_replay_record_describes_the_lead_alert_and_lists_all() -> None:
    lead = alert(
        "HighLatency",
        "P1",
        0.97,
        runbook_url="https://rb.example.com/x",
        root_cause="deployment regression (v2.3.1)",
    )
    other = alert("HighErrorRate", "P2", 0.99, service="cart")
    record = replay_record(notification(other, lead, tier=1))
    assert record["time"] == "2024-01-01T09:01:00Z"
    assert (record["receiver"], record["status"], record["service"]) == (
        "oncall",
        "firing",
        "checkout",
    )
    assert record["labels"] == lead.labels
    assert (record["severity"], record["score"]) == ("P1", 0.97)
    assert record["reason"] == "HighLatency reason"
    assert record["runbook_url"] == "https://rb.example.com/x"
    assert record["root_cause"] == "deployment regression (v2.3.1)"
    assert (record["group_key"], record["tier"], record["key"]) == (
        '{}:{service="checkout"}',
        1,
        "k1",
    )
    assert [a["fingerprint"] for a in record["alerts"]] == [other.fingerprint, lead.fingerprint]
    assert record["alerts"][0] == {
        "fingerprint": other.fingerprint,
        "status": "firing",
        "labels": other.labels,
        "annotations": other.annotations,
        "starts_at": "2024-01-01T09:00:00Z",
        "ends_at": None,
        "score": 0.99,
    }


def test_replay_record_is_strict_json_even_without_a_score() -> None:
    record = replay_record(notification(alert("A", score=math.nan)))
    assert record["score"] is None and record["alerts"][0]["score"] is None
    json.dumps(record, allow_nan=False)


def test_chat_message_is_what_slack_teams_and_discord_all_say() -> None:
    lead = alert("HighLatency", "P1", 0.97, runbook_url="https://rb.example.com/x")
    others = [alert(f"A{i}", "P2", 0.9) for i in range(MAX_CHAT_LINES + 2)]
    base = "https://alerts.example.com/anomalert"
    m = chat_message(notification(*others, lead, tier=2), base)
    assert m.title == "[FIRING:13] checkout" and m.summary == "HighLatency reason"
    assert m.facts == (
        ("Severity", "P1"),
        ("Service", "checkout"),
        ("Score", "0.97"),
        ("Escalation tier", "2"),
    )
    assert m.links == ((EXPLAIN, alert_url(base, lead)), ("Runbook", "https://rb.example.com/x"))
    lines = m.lines()
    assert len(lines) == MAX_CHAT_LINES + 1 and lines[-1] == "…and 3 more"
    assert lines[0] == "P2 checkout: A0 reason (score 0.90)"
    assert m.markdown_line(others[0]) == f"{lines[0]} · [explain]({alert_url(base, others[0])})"


def test_chat_message_without_an_external_url_has_only_the_runbook() -> None:
    a = alert("HighLatency", "P1", runbook_url="runbooks/checkout.md")
    m = chat_message(notification(a))
    assert m.links == (("Runbook", "runbooks/checkout.md"),)
    assert m.buttons() == []  # not a web link: no button can open it
    assert m.markdown_line(a) == "P1 checkout: HighLatency reason (score 0.90)"
    assert ("Escalation tier", "0") not in m.facts
