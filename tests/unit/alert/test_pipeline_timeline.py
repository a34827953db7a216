"""The pipeline on a timeline, as Alertmanager's acceptance tests drive it: push at t, tick
every second, expect each notification at exactly the second it is due and never before."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from anomalert.alert.inhibit import InhibitRule
from anomalert.alert.matchers import Matcher
from anomalert.alert.pipeline import Pipeline
from anomalert.alert.route import Route, RouteConfig
from anomalert.alert.silence import Silence, Silencer
from anomalert.model import Alert, Notification, fingerprint

ROUTE: dict[str, Any] = {
    "receiver": "ops",
    "group_by": ["service"],
    "group_wait": "30s",
    "group_interval": "5m",
    "repeat_interval": "4h",
}


def alert(
    name: str = "HighLatency",
    t: float = 0.0,
    severity: str = "P2",
    mode: str = "alerting",
    **labels: str,
) -> Alert:
    lab = {"alertname": name, "service": "api", "severity": severity, **labels}
    return Alert(
        fingerprint=fingerprint(lab),
        labels=lab,
        annotations={"summary": f"{name} on {lab['service']}"},
        starts_at=t,
        ends_at=None,
        status="firing",
        score=0.95,
        severity=severity,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        source="anomaly",
        updated_at=t,
    )


def resolved(a: Alert, t: float) -> Alert:
    return replace(a, status="resolved", ends_at=t, updated_at=t)


class Timeline:
    """Ticks the pipeline once a second; ``at(t)`` stops just before t so the caller can act."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.t = -1
        self.sent: list[Notification] = []

    def until(self, end: int) -> list[Notification]:
        """Tick every second up to ``end`` (inclusive); the notifications of those ticks."""
        new: list[Notification] = []
        while self.t < end:
            self.t += 1
            new.extend(self.p.tick(float(self.t)))
        self.sent.extend(new)
        return new

    def push(self, t: int, *alerts: Alert) -> None:
        self.until(t - 1)
        self.p.push(alerts, float(t))


def pipeline(route: dict[str, Any] | None = None, **kw: Any) -> Pipeline:
    cfg = RouteConfig.model_validate(route or ROUTE)
    return Pipeline(Route.build(cfg), kw.pop("silencer", Silencer()), **kw)


def when(notes: list[Notification]) -> list[tuple[float, str, str, int]]:
    return [(n.time, n.receiver, n.status, len(n.alerts)) for n in notes]


def test_group_wait_then_group_interval_then_repeat_then_resolve() -> None:
    tl = Timeline(pipeline())
    first = alert("HighLatency")
    tl.push(0, first)
    assert tl.until(29) == []  # not before group_wait
    (n,) = tl.until(30)
    assert (n.time, n.status, n.severity, n.alerts) == (30.0, "firing", "P2", (first,))
    assert n.group_labels == {"service": "api"} and n.tier == 0 and not n.acknowledged

    second = alert("HighErrors", severity="P1")
    tl.push(40, second)
    assert tl.until(329) == []  # the next message waits for the group_interval tick
    (n,) = tl.until(330)
    assert n.alerts == (first, second) and n.severity == "P1"

    assert tl.until(330 + 14_399) == []  # nothing changed: quiet until repeat_interval
    (n,) = tl.until(330 + 14_400)
    assert n.alerts == (first, second) and n.status == "firing"

    tl.push(15_000, resolved(first, 15_000), resolved(second, 15_000))
    assert tl.until(15_029) == []
    (n,) = tl.until(15_030)  # resolves go out on the next group_interval tick (30 + 300k)
    assert (n.time, n.status, n.severity) == (15_030.0, "resolved", "P1")
    assert {a.status for a in n.alerts} == {"resolved"}
    assert tl.until(20_000) == []  # the group is gone
    assert len({n.key for n in tl.sent}) == len(tl.sent) == 4


def test_partial_resolve_is_news() -> None:
    tl = Timeline(pipeline())
    a, b = alert("A"), alert("B")
    tl.push(0, a, b)
    tl.until(30)
    tl.push(100, resolved(a, 100))
    (n,) = tl.until(330)
    assert n.status == "firing" and {x.name: x.status for x in n.alerts} == {
        "A": "resolved",
        "B": "firing",
    }
    (n,) = tl.until(330 + 14_400)  # the resolved alert left the group
    assert [x.name for x in n.alerts] == ["B"]


def test_fired_and_resolved_between_ticks_is_not_news() -> None:
    tl = Timeline(pipeline())
    a = alert("A")
    tl.push(0, a)
    tl.until(30)
    b = alert("B")
    tl.push(100, b)
    tl.push(200, resolved(b, 200))
    assert tl.until(10_000) == []


def test_different_group_values_are_separate_notifications() -> None:
    tl = Timeline(pipeline())
    tl.push(0, alert(service="api"), alert(service="db"), alert("Other", service="db"))
    notes = tl.until(30)
    assert sorted((n.group_labels["service"], len(n.alerts)) for n in notes) == [
        ("api", 1),
        ("db", 2),
    ]
    assert len({n.group_key for n in notes}) == 2


def test_unchanged_snapshots_are_ignored() -> None:
    p = pipeline()
    tl = Timeline(p)
    a = alert()
    tl.push(0, a)
    tl.until(30)
    for t in range(60, 10_000, 60):  # upstream re-sends while firing, score jitters
        tl.push(t, replace(a, score=0.951 if t % 120 else 0.949, updated_at=float(t)))
    assert [n.time for n in tl.until(14_430)] == [14_430.0]  # only the repeat
    assert p.firing() == [a]


def test_routing_tree_with_continue_and_inheritance() -> None:
    route = {
        **ROUTE,
        "routes": [
            {"matchers": ["severity=P1"], "receiver": "pager", "continue": True},
            {"matchers": ['service=~"api|web"'], "receiver": "frontend", "group_wait": "1m"},
        ],
    }
    tl = Timeline(pipeline(route))
    tl.push(0, alert(severity="P1"), alert("Slow", service="db"))
    assert sorted(when(tl.until(30))) == [(30.0, "ops", "firing", 1), (30.0, "pager", "firing", 1)]
    assert when(tl.until(60)) == [(60.0, "frontend", "firing", 1)]  # its own group_wait


def test_shadow_and_assistive_alerts_never_notify() -> None:
    p = pipeline()
    tl = Timeline(p)
    shadow, assistive = alert("S", mode="shadow"), alert("A", mode="assistive")
    tl.push(0, shadow, assistive)
    assert tl.until(20_000) == []
    assert {a.name for a in p.firing()} == {"S", "A"}  # seen, just not routed


def test_a_resolve_reaches_who_heard_it_fire_even_after_a_demotion_to_shadow() -> None:
    tl = Timeline(pipeline())
    a = alert()
    tl.push(0, a)
    tl.until(30)
    tl.push(100, replace(resolved(a, 100), mode="shadow"))
    (n,) = tl.until(330)
    assert n.status == "resolved"
    tl.push(400, alert("Never", mode="shadow"))
    tl.push(500, resolved(alert("Never", mode="shadow"), 500))
    assert tl.until(2_000) == []


def test_silence_by_regex_and_negative_matchers_mutes_firing() -> None:
    silencer = Silencer()
    s = Silence(
        "",
        (Matcher.parse('service=~"ap.*"'), Matcher.parse("env!=staging")),
        0.0,
        1_000.0,
        "ana",
        "deploy",
    )
    sid = silencer.add(s, now=0.0).id
    p = pipeline(silencer=silencer)
    tl = Timeline(p)
    muted, staging = alert(env="prod"), alert("Other", env="staging")
    tl.push(0, muted, staging)
    (n,) = tl.until(30)
    assert n.alerts == (staging,)
    assert p.muted_by(muted.labels, 30.0) == [sid]
    assert p.muted_by(staging.labels, 30.0) == []
    # the silence expires at 1000: the alert it hid is news at the next tick
    assert tl.until(999) == []
    (n,) = tl.until(1_230)
    assert n.time == 1_230.0 and n.alerts == (muted, staging)


def test_expiring_a_silence_stops_muting() -> None:
    p = pipeline()
    sid = p.silencer.add(Silence("", (Matcher.parse("service=api"),), 0, 9e9), now=0.0).id
    tl = Timeline(p)
    tl.push(0, alert())
    assert tl.until(400) == []
    p.silencer.expire(sid, 400.0)
    assert [n.time for n in tl.until(700)] == [630.0]


def test_a_silenced_alert_that_paged_still_sends_its_resolve() -> None:
    p = pipeline()
    tl = Timeline(p)
    a = alert()
    tl.push(0, a)
    tl.until(30)
    p.silencer.add(Silence("", (Matcher.parse("service=api"),), 50, 9e9), now=50.0)
    assert tl.until(14_500) == []  # silenced: no repeat
    tl.push(15_000, resolved(a, 15_000))
    (n,) = tl.until(15_030)
    assert n.status == "resolved" and n.time == 15_030.0


def test_a_resolve_never_told_firing_stays_silenced() -> None:
    p = pipeline()
    p.silencer.add(Silence("", (Matcher.parse("service=api"),), 0, 9e9), now=0.0)
    tl = Timeline(p)
    a = alert()
    tl.push(0, a)
    tl.push(100, resolved(a, 100))
    assert tl.until(2_000) == []


def test_until_resolved_silence_expires_at_resolve() -> None:
    p = pipeline()
    s = Silence("", (Matcher.parse("service=api"),), 0, None, until_resolved=True)
    sid = p.silencer.add(s, now=0.0).id
    tl = Timeline(p)
    a = alert()
    tl.push(0, a)
    assert tl.until(60) == []
    tl.push(100, resolved(a, 100))
    after = p.silencer.get(sid)
    assert after is not None and after.ends_at == 100.0 and after.state(100.0) == "expired"
    tl.push(200, replace(a, starts_at=200.0, updated_at=200.0))  # fires again: not muted
    assert [n.time for n in tl.until(400)] == [330.0]


CLUSTER_RULE = InhibitRule(
    source_matchers=["alertname=ClusterDown"],
    target_matchers=["alertname=ServiceDown"],
    equal=["cluster"],
)


def test_cluster_down_inhibits_its_service_alerts_until_it_resolves() -> None:
    route = {**ROUTE, "group_by": ["alertname", "cluster"]}
    p = pipeline(route, inhibit_rules=[CLUSTER_RULE])
    tl = Timeline(p)
    cluster = alert("ClusterDown", severity="P1", cluster="a", service="k8s")
    in_a, in_b = alert("ServiceDown", cluster="a"), alert("ServiceDown", cluster="b")
    tl.push(0, cluster, in_a, in_b)
    notes = tl.until(30)
    assert sorted(n.group_labels["cluster"] + n.alerts[0].name for n in notes) == [
        "aClusterDown",
        "bServiceDown",
    ]
    assert p.muted_by(in_a.labels, 30.0) == [f"inhibited by {cluster.fingerprint}"]
    tl.push(100, resolved(cluster, 100))
    notes = tl.until(330)
    assert sorted((n.alerts[0].name, n.status) for n in notes) == [
        ("ClusterDown", "resolved"),
        ("ServiceDown", "firing"),
    ]
    assert p.muted_by(in_a.labels, 330.0) == []


def test_an_alert_does_not_inhibit_itself() -> None:
    rule = InhibitRule(source_matchers=["severity=P1"], target_matchers=["severity=P1"])
    tl = Timeline(pipeline(inhibit_rules=[rule]))
    tl.push(0, alert(severity="P1"))
    assert len(tl.until(30)) == 1


def test_keys_are_deterministic_and_distinct() -> None:
    def run() -> list[str]:
        tl = Timeline(pipeline())
        a = alert()
        tl.push(0, a)
        tl.push(100, resolved(a, 100))
        tl.push(1_000, replace(a, starts_at=1_000.0))  # a new episode of the same group
        tl.push(1_500, resolved(a, 1_500))
        tl.until(3_000)
        return [n.key for n in tl.sent]

    keys = run()
    assert len(keys) == 4 and len(set(keys)) == 4
    assert run() == keys
