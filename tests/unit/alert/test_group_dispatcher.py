"""Aggregation groups: keys, group_wait then the group_interval grid, resolved alerts dropped."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from anomalert.alert.group import Dispatcher, GroupFlush
from anomalert.alert.route import Route, RouteConfig
from anomalert.model import Alert, fingerprint


def alert(name: str = "Down", t: float = 0.0, **labels: str) -> Alert:
    lab = {"alertname": name, "severity": "P2", "service": "api", **labels}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        t,
        None,
        "firing",
        0.9,
        "P2",
        "alerting",
        "rule",
        t,  # type: ignore[arg-type]
    )


def resolved(a: Alert, t: float) -> Alert:
    return replace(a, status="resolved", ends_at=t, updated_at=t)


def dispatcher(**cfg: Any) -> Dispatcher:
    base = {"receiver": "ops", "group_by": ["service"], "group_wait": 30, "group_interval": 300}
    return Dispatcher(Route.build(RouteConfig.model_validate({**base, **cfg})))


def flushes_until(d: Dispatcher, start: float, end: float) -> list[GroupFlush]:
    out: list[GroupFlush] = []
    for t in range(int(start), int(end) + 1):
        out.extend(d.due(float(t)))
    return out


def test_first_flush_after_group_wait_then_on_the_interval_grid() -> None:
    d = dispatcher()
    d.add(alert(), 0.0)
    assert flushes_until(d, 0, 29) == []
    (first,) = d.due(30.0)
    assert (
        first.now == 30.0 and first.receiver == "ops" and first.group_labels == {"service": "api"}
    )
    assert first.group_key == '{}:{service="api"}'
    assert [f.now for f in flushes_until(d, 31, 930)] == [330.0, 630.0, 930.0]


def test_late_ticks_stay_on_the_grid() -> None:
    d = dispatcher()
    d.add(alert(), 0.0)
    assert [f.now for f in d.due(1000.0)] == [1000.0]  # one flush, not a burst
    assert d.next_due() == 1230.0  # 30 + 300k, the next after 1000


def test_groups_by_label_values() -> None:
    d = dispatcher()
    d.add(alert(service="api"), 0.0)
    d.add(alert(service="api", instance="2"), 5.0)
    d.add(alert(service="db"), 10.0)
    by_key = {f.group_key: f for f in d.due(40.0)}
    assert sorted(by_key) == ['{}:{service="api"}', '{}:{service="db"}']
    assert len(by_key['{}:{service="api"}'].alerts) == 2


def test_latest_snapshot_by_fingerprint() -> None:
    d = dispatcher()
    a = alert()
    d.add(a, 0.0)
    d.add(replace(a, score=0.99), 10.0)
    (f,) = d.due(30.0)
    assert [x.score for x in f.alerts] == [0.99]


def test_resolved_alerts_leave_after_their_flush_and_empty_groups_go() -> None:
    d = dispatcher()
    a, b = alert(), alert(instance="2")
    d.add(a, 0.0)
    d.add(b, 0.0)
    d.due(30.0)
    d.add(resolved(a, 100.0), 100.0)
    (f,) = d.due(330.0)
    assert {x.fingerprint: x.status for x in f.alerts} == {
        a.fingerprint: "resolved",
        b.fingerprint: "firing",
    }
    (f,) = d.due(630.0)
    assert [x.fingerprint for x in f.alerts] == [b.fingerprint]
    d.add(resolved(b, 700.0), 700.0)
    d.due(930.0)
    assert d.next_due() is None  # the group is gone


def test_a_resolve_nobody_holds_opens_no_group() -> None:
    d = dispatcher()
    assert d.add(resolved(alert(), 5.0), 5.0) == []
    assert d.next_due() is None


def test_every_matching_route_gets_the_alert() -> None:
    d = dispatcher(
        routes=[
            {"matchers": ["service=api"], "receiver": "a", "continue": True},
            {"matchers": ["severity=P2"], "receiver": "b", "group_by": ["..."]},
        ]
    )
    keys = d.add(alert(), 0.0)
    assert keys == [
        '{}/{service="api"}:{service="api"}',
        '{}/{severity="P2"}:{alertname="Down",service="api",severity="P2"}',
    ]
    assert sorted(f.receiver for f in d.due(30.0)) == ["a", "b"]


def test_snapshot_restore_keeps_timers_and_alerts() -> None:
    d = dispatcher()
    d.add(alert(), 0.0)
    d.add(alert(service="db"), 20.0)
    d.due(30.0)
    again = dispatcher()
    again.restore(d.snapshot())
    assert again.next_due() == d.next_due() == 50.0
    assert [(f.group_key, f.alerts) for f in again.due(400.0)] == [
        (f.group_key, f.alerts) for f in d.due(400.0)
    ]
