"""Escalation on a timeline: primary at once, secondary at 15m, the lead at 30m, unless acked."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from anomalert.alert.escalation import EscalationConfig
from anomalert.alert.matchers import Matcher
from anomalert.alert.pipeline import Pipeline
from anomalert.alert.route import Route, RouteConfig
from anomalert.alert.silence import Silence, Silencer
from anomalert.errors import ConfigError
from anomalert.model import Alert, Notification, fingerprint

PAGER = EscalationConfig.model_validate(
    {
        "name": "pager",
        "tiers": [
            {"after": "0m", "receiver": "primary"},
            {"after": "15m", "receiver": "secondary"},
            {"after": "30m", "receiver": "lead"},
        ],
    }
)
ROUTE: dict[str, Any] = {
    "receiver": "primary",
    "group_by": ["service"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "4h",
    "escalation": "pager",
}


def alert(name: str = "Down", severity: str = "P1", **labels: str) -> Alert:
    lab = {"alertname": name, "service": "api", "severity": severity, **labels}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        0.0,
        None,
        "firing",
        0.99,
        severity,
        "alerting",
        "rule",
        0.0,  # type: ignore[arg-type]
    )


def resolved(a: Alert, t: float) -> Alert:
    return replace(a, status="resolved", ends_at=t, updated_at=t)


def pipeline(esc: EscalationConfig = PAGER, route: dict[str, Any] = ROUTE) -> Pipeline:
    cfg = RouteConfig.model_validate(route)
    return Pipeline(Route.build(cfg), Silencer(), escalations={esc.name: esc})


def run(p: Pipeline, start: int, end: int) -> list[Notification]:
    return [n for t in range(start, end + 1) for n in p.tick(float(t))]


def summary(notes: list[Notification]) -> list[tuple[float, str, int, str, bool]]:
    return [(n.time, n.receiver, n.tier, n.status, n.acknowledged) for n in notes]


def test_unacknowledged_p1_climbs_every_tier() -> None:
    p = pipeline()
    a = alert()
    p.push([a], 0.0)
    assert summary(run(p, 0, 3_000)) == [
        (30.0, "primary", 0, "firing", False),
        (930.0, "secondary", 1, "firing", False),
        (1_830.0, "lead", 2, "firing", False),
    ]
    p.push([resolved(a, 3_000)], 3_000.0)
    assert summary(run(p, 3_001, 3_330)) == [
        (3_030.0, "primary", 0, "resolved", False),
        (3_030.0, "secondary", 1, "resolved", False),
        (3_030.0, "lead", 2, "resolved", False),
    ]
    assert run(p, 3_331, 10_000) == []


def test_ack_at_ten_minutes_stops_it_and_acknowledges() -> None:
    p = pipeline()
    a = alert()
    p.push([a], 0.0)
    run(p, 0, 630)
    (ack,) = p.ack(a.fingerprint, 630.0, by="ana")
    assert (ack.receiver, ack.tier, ack.status, ack.acknowledged) == ("primary", 0, "firing", True)
    assert ack.alerts == (a,)
    assert p.ack(a.fingerprint, 640.0, by="bo") == []  # once
    assert run(p, 631, 5_000) == []  # nobody else is paged
    p.push([resolved(a, 5_000)], 5_000.0)
    assert summary(run(p, 5_001, 5_400)) == [(5_130.0, "primary", 0, "resolved", False)]


def test_ack_after_the_secondary_acknowledges_both() -> None:
    p = pipeline()
    a = alert()
    p.push([a], 0.0)
    run(p, 0, 1_000)
    notes = p.ack(a.fingerprint, 1_000.0, by="ana")
    assert summary(notes) == [
        (1_000.0, "primary", 0, "firing", True),
        (1_000.0, "secondary", 1, "firing", True),
    ]
    assert run(p, 1_001, 4_000) == []


def test_acking_any_alert_of_the_group_stops_it() -> None:
    p = pipeline()
    p1, p2 = alert(), alert("Slow", severity="P2")
    p.push([p1, p2], 0.0)
    run(p, 0, 100)
    assert [n.receiver for n in p.ack(p2.fingerprint, 100.0, by="ana")] == ["primary"]
    assert run(p, 101, 4_000) == []


def test_p2_is_not_escalated() -> None:
    p = pipeline()
    p.push([alert(severity="P2")], 0.0)
    assert summary(run(p, 0, 4_000)) == [(30.0, "primary", 0, "firing", False)]


def test_a_zero_tier_with_another_receiver_is_paged_with_the_first_message() -> None:
    esc = EscalationConfig.model_validate(
        {
            "name": "pager",
            "tiers": [{"after": 0, "receiver": "chat"}, {"after": "15m", "receiver": "lead"}],
        }
    )
    p = pipeline(esc)
    p.push([alert()], 0.0)
    assert summary(run(p, 0, 1_000)) == [
        (30.0, "primary", 0, "firing", False),
        (30.0, "chat", 0, "firing", False),
        (930.0, "lead", 1, "firing", False),
    ]


def test_a_silenced_group_does_not_escalate() -> None:
    p = pipeline()
    a = alert()
    p.push([a], 0.0)
    run(p, 0, 100)
    p.silencer.add(Silence("", (Matcher.parse("service=api"),), 100.0, 9e9), now=100.0)
    assert run(p, 101, 4_000) == []


def test_escalation_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        EscalationConfig.model_validate({"name": "x", "tiers": []})
    with pytest.raises(ValidationError, match="earlier"):
        EscalationConfig.model_validate(
            {
                "name": "x",
                "tiers": [{"after": "15m", "receiver": "a"}, {"after": "5m", "receiver": "b"}],
            }
        )
    assert EscalationConfig.model_validate(
        {"name": "x", "tiers": [{"after": "1m", "receiver": "a"}]}
    ).severities == ["P1"]


def test_unknown_escalation_names_its_route() -> None:
    route = {"receiver": "x", "routes": [{"receiver": "y"}, {"escalation": "nope"}]}
    with pytest.raises(ConfigError) as err:
        Pipeline(Route.build(RouteConfig.model_validate(route)), Silencer())
    assert err.value.problems == [("route.routes[1].escalation", "no escalation named 'nope'")]
