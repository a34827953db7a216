"""Snapshot and restore: a restart anywhere continues exactly, and a crash re-run repeats the
same keys (so the outbox drops them) instead of paging twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from anomalert.alert.escalation import EscalationConfig
from anomalert.alert.inhibit import InhibitRule
from anomalert.alert.pipeline import Pipeline
from anomalert.alert.route import Route, RouteConfig
from anomalert.alert.silence import Silencer
from anomalert.model import Alert, fingerprint

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
TREE = {
    "receiver": "primary",
    "group_by": ["service"],
    "group_wait": "30s",
    "group_interval": "5m",
    "escalation": "pager",
    "routes": [{"matchers": ["service=db"], "receiver": "dba", "continue": True}],
}
RULE = InhibitRule(
    source_matchers=["alertname=ClusterDown"], target_matchers=["alertname=Slow"], equal=[]
)


def alert(name: str, service: str, severity: str, t: float) -> Alert:
    lab = {"alertname": name, "service": service, "severity": severity}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        t,
        None,
        "firing",
        0.9,
        severity,
        "alerting",
        "rule",
        t,  # type: ignore[arg-type]
    )


def resolved(a: Alert, t: float) -> Alert:
    return replace(a, status="resolved", ends_at=t, updated_at=t)


API = alert("Down", "api", "P1", 0.0)
DB = alert("Slow", "db", "P2", 10.0)
CLUSTER = alert("ClusterDown", "k8s", "P2", 1_200.0)

Action = Callable[[Pipeline, float], list[str]]


def push(*alerts: Alert) -> Action:
    def act(p: Pipeline, now: float) -> list[str]:
        p.push(alerts, now)
        return []

    return act


def ack(fp: str) -> Action:
    def act(p: Pipeline, now: float) -> list[str]:
        return [n.key for n in p.ack(fp, now, by="ana")]

    return act


SCRIPT: dict[int, Action] = {
    0: push(API),
    10: push(DB),
    1_200: push(CLUSTER),  # inhibits DB's "Slow" from here on
    2_000: ack(API.fingerprint),
    3_000: push(resolved(API, 3_000)),
    3_100: push(resolved(DB, 3_100)),  # still inhibited, but it paged: its resolve goes out
    3_500: push(resolved(CLUSTER, 3_500)),
}


def fresh() -> Pipeline:
    route = Route.build(RouteConfig.model_validate(TREE))
    return Pipeline(route, Silencer(), [RULE], {"pager": PAGER})


def run(restarts: tuple[int, ...] = (), end: int = 4_000, step: int = 1) -> list[str]:
    """Keys of every notification, in order, restarting before the listed seconds."""
    p, keys = fresh(), []
    for t in range(0, end + 1, step):
        if t in restarts:
            blob = p.snapshot()
            p = fresh()
            p.restore(blob)
        if t in SCRIPT:
            keys.extend(SCRIPT[t](p, float(t)))
        keys.extend(n.key for n in p.tick(float(t)))
    return keys


def test_the_script_pages_as_expected() -> None:
    p, notes = fresh(), []
    for t in range(4_001):
        if t in SCRIPT:
            SCRIPT[t](p, float(t))
        notes.extend(p.tick(float(t)))
    got = [(n.time, n.receiver, n.tier, n.status) for n in notes]
    assert got == [
        (30.0, "primary", 0, "firing"),
        (40.0, "dba", 0, "firing"),  # continue, but no later sibling: only dba
        (930.0, "secondary", 1, "firing"),
        (1_230.0, "primary", 0, "firing"),  # ClusterDown's own group
        (1_830.0, "lead", 2, "firing"),
        (3_030.0, "primary", 0, "resolved"),
        (3_030.0, "secondary", 1, "resolved"),
        (3_030.0, "lead", 2, "resolved"),
        (3_340.0, "dba", 0, "resolved"),
        (3_630.0, "primary", 0, "resolved"),  # ClusterDown's grid: 1230 + 300k
    ]
    assert len({n.key for n in notes}) == len(notes)


@pytest.mark.parametrize(
    "restarts",
    [(15,), (35,), (1_000,), (1_300,), (1_830, 1_831), (2_001,), (2_600,), (3_050,), (3_200,)],
    ids=lambda r: "restart-at-" + "-".join(map(str, r)),
)
def test_restart_continues_exactly(restarts: tuple[int, ...]) -> None:
    assert run(restarts) == run()


def test_a_crash_rerun_repeats_the_same_keys() -> None:
    p = fresh()
    for t in range(0, 500):
        if t in SCRIPT:
            SCRIPT[t](p, float(t))
        p.tick(float(t))
    blob = p.snapshot()
    first: list[str] = []
    for t in range(500, 3_500):
        if t in SCRIPT:
            first.extend(SCRIPT[t](p, float(t)))
        first.extend(n.key for n in p.tick(float(t)))
    # The re-run after the crash ticks at other instants (every 7 s): same messages, same keys.
    again = fresh()
    again.restore(blob)
    second: list[str] = []
    for t in range(500, 3_500):
        if t in SCRIPT:
            second.extend(SCRIPT[t](again, float(t)))
        if t % 7 == 0:
            second.extend(n.key for n in again.tick(float(t)))
    assert sorted(second) == sorted(first)


def test_restore_with_a_changed_tree_drops_what_it_cannot_place() -> None:
    p = fresh()
    p.push([API, DB], 10.0)
    blob = p.snapshot()
    smaller = Pipeline(Route.build(RouteConfig(receiver="ops")), Silencer())
    smaller.restore(blob)  # route "0/0" (dba) is gone; "0" remains, now sending to ops
    assert [(n.receiver, n.alerts) for n in smaller.tick(40.0)] == [("ops", (API,))]
    assert smaller.firing() == [API, DB]


def test_unknown_snapshot_versions_are_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        fresh().restore(b'{"version": 99}')
