"""Inhibition: sources mute targets with equal labels; never themselves; resolve un-mutes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from anomalert.alert.inhibit import Inhibitor, InhibitRule
from anomalert.model import Alert, fingerprint


def alert(name: str, status: str = "firing", **labels: str) -> Alert:
    lab = {"alertname": name, "severity": "P1", **labels}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        0.0,
        None,
        status,
        0.9,
        "P1",
        "alerting",
        "rule",
        0.0,  # type: ignore[arg-type]
    )


CLUSTER = InhibitRule(
    source_matchers=["alertname=ClusterDown"],
    target_matchers=["alertname=ServiceDown"],
    equal=["cluster"],
)


def test_cluster_down_mutes_its_services_only() -> None:
    inhibitor = Inhibitor([CLUSTER])
    source = alert("ClusterDown", cluster="a")
    inhibitor.observe(source)
    in_a = alert("ServiceDown", cluster="a", service="api").labels
    in_b = alert("ServiceDown", cluster="b", service="api").labels
    assert inhibitor.mutes(in_a, 0.0) and not inhibitor.mutes(in_b, 0.0)
    assert inhibitor.inhibited_by(in_a, 0.0) == [source.fingerprint]
    assert not inhibitor.mutes(source.labels, 0.0)  # not a target


def test_resolve_of_the_source_unmutes() -> None:
    inhibitor = Inhibitor([CLUSTER])
    source = alert("ClusterDown", cluster="a")
    inhibitor.observe(source)
    target = alert("ServiceDown", cluster="a").labels
    assert inhibitor.mutes(target, 0.0)
    inhibitor.observe(replace(source, status="resolved"))
    assert not inhibitor.mutes(target, 0.0)


def test_missing_equal_labels_are_equal() -> None:
    inhibitor = Inhibitor([CLUSTER])
    inhibitor.observe(alert("ClusterDown"))
    assert inhibitor.mutes(alert("ServiceDown").labels, 0.0)
    assert not inhibitor.mutes(alert("ServiceDown", cluster="a").labels, 0.0)


def test_an_alert_never_inhibits_itself() -> None:
    rule = InhibitRule(source_matchers=["severity=P1"], target_matchers=["severity=~P.*"])
    inhibitor = Inhibitor([rule])
    only = alert("Down", service="api")
    inhibitor.observe(only)
    assert not inhibitor.mutes(only.labels, 0.0)


def test_two_sided_matches_do_not_mute_each_other() -> None:
    # Both alerts are sources and targets: Alertmanager lets neither mute the other.
    rule = InhibitRule(
        source_matchers=["alertname=ServiceDown"],
        target_matchers=["alertname=ServiceDown"],
        equal=["cluster"],
    )
    inhibitor = Inhibitor([rule])
    a, b = alert("ServiceDown", cluster="a", service="x"), alert("ServiceDown", cluster="a")
    inhibitor.observe(a)
    inhibitor.observe(b)
    assert not inhibitor.mutes(a.labels, 0.0) and not inhibitor.mutes(b.labels, 0.0)


def test_rule_config_is_validated() -> None:
    with pytest.raises(ValidationError) as err:
        InhibitRule.model_validate(
            {"source_matchers": ["a=~("], "target_matchers": ["b=c"], "equal": []}
        )
    assert err.value.errors()[0]["loc"] == ("source_matchers", 0)
    with pytest.raises(ValidationError):
        InhibitRule.model_validate({"source_matchers": ["a=b"], "target_matchers": ["b=c"], "x": 1})
