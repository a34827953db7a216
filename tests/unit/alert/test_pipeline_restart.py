"""Snapshot and restore: a restart anywhere continues exactly, a crash re-run repeats the
same keys (so the outbox drops them) instead of paging twice, and a snapshot older than
messages already sent catches up with them (``Pipeline.catch_up``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from anomalert.alert.escalation import EscalationConfig
from anomalert.alert.inhibit import InhibitRule
from anomalert.alert.pipeline import Pipeline
from anomalert.alert.route import Route, RouteConfig
from anomalert.alert.silence import Silencer
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

Action = Callable[[Pipeline, float], list[Notification]]


def push(*alerts: Alert) -> Action:
    def act(p: Pipeline, now: float) -> list[Notification]:
        p.push(alerts, now)
        return []

    return act


def ack(fp: str) -> Action:
    def act(p: Pipeline, now: float) -> list[Notification]:
        return p.ack(fp, now, by="ana")

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
            keys.extend(n.key for n in SCRIPT[t](p, float(t)))
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
            first.extend(n.key for n in SCRIPT[t](p, float(t)))
        first.extend(n.key for n in p.tick(float(t)))
    # The re-run after the crash ticks at other instants (every 7 s): same messages, same keys.
    again = fresh()
    again.restore(blob)
    second: list[str] = []
    for t in range(500, 3_500):
        if t in SCRIPT:
            second.extend(n.key for n in SCRIPT[t](again, float(t)))
        if t % 7 == 0:
            second.extend(n.key for n in again.tick(float(t)))
    assert sorted(second) == sorted(first)


def told_until(end: int, snapshot_at: int) -> tuple[Pipeline, bytes, list[Notification]]:
    """The pipeline after the script's first ``end`` seconds, its snapshot at
    ``snapshot_at``, and every message, in order (the outbox)."""
    p, told, blob = fresh(), [], b""
    for t in range(end):
        if t == snapshot_at:
            blob = p.snapshot()
        if t in SCRIPT:
            told.extend(SCRIPT[t](p, float(t)))
        told.extend(p.tick(float(t)))
    return p, blob, told


def told_state(p: Pipeline) -> dict[str, object]:
    """What the pipeline knows it told: the notification log, escalations, the counts."""
    state = json.loads(p.snapshot())
    return {k: state[k] for k in ("nflog", "escalations", "sequence")}


@pytest.mark.parametrize("crash", [21, 40, 935, 1_235, 1_900, 2_001, 3_031, 3_400, 4_000])
def test_an_old_snapshot_catches_up_with_what_the_outbox_says_was_told(crash: int) -> None:
    p, blob, told = told_until(crash, snapshot_at=20)
    again = fresh()
    again.restore(blob)
    assert again.catch_up(told) == len(told)  # all of them came after the snapshot
    assert told_state(again) == told_state(p)
    assert again.catch_up(told) == 0  # twice changes nothing
    assert told_state(again) == told_state(p)


def test_catching_up_from_a_snapshot_that_knew_everything_changes_nothing() -> None:
    p, _, told = told_until(2_500, snapshot_at=0)
    again = fresh()
    again.restore(p.snapshot())
    assert again.catch_up(told) == 0
    assert again.snapshot() == p.snapshot()


def test_after_catching_up_the_next_news_is_told_once_and_nothing_twice() -> None:
    """The crash lost the snapshot after 40 s; the alerts firing then are pushed back (as
    the service does from its store). API's resolve and the rest are told as without the
    crash, under keys the outbox has not seen; nothing before the crash is repeated."""
    whole: list[Notification] = told_until(4_001, snapshot_at=0)[2]
    p, blob, told = told_until(1_000, snapshot_at=20)
    again = fresh()
    again.restore(blob)
    again.catch_up(told)
    again.push(p.firing(), 1_000.0)
    after: list[Notification] = []
    for t in range(1_000, 4_001):
        if t in SCRIPT:
            after.extend(SCRIPT[t](again, float(t)))
        after.extend(again.tick(float(t)))

    def news(notes: list[Notification]) -> list[tuple[object, ...]]:
        return [
            (
                n.receiver,
                n.tier,
                n.status,
                n.acknowledged,
                sorted((a.name, a.status) for a in n.alerts),
            )
            for n in notes
        ]

    assert news(after) == news([n for n in whole if n.time >= 1_000])
    assert not {n.key for n in after} & {n.key for n in told}


def test_restore_with_a_changed_tree_drops_what_it_cannot_place() -> None:
    p = fresh()
    p.push([API, DB], 10.0)
    blob = p.snapshot()
    smaller = Pipeline(Route.build(RouteConfig(receiver="ops")), Silencer())
    smaller.restore(blob)  # dba's route is gone; the root remains, now sending to ops
    assert [(n.receiver, n.alerts) for n in smaller.tick(40.0)] == [("ops", (API,))]
    assert smaller.firing() == [API, DB]


def test_unknown_snapshot_versions_are_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        fresh().restore(b'{"version": 99}')


def test_after_catching_up_an_acknowledgement_taking_another_alert_is_still_told() -> None:
    """Two alerts of api's group fire; ana takes one, the crash loses the snapshot after
    that, and bob takes the other. Uncrashed, bob's acknowledgement is told (the log marks
    the alerts taken one by one). Until 2026-12-07 catching up marked every firing alert of
    the acknowledgement message taken, and bob's went untold."""
    errors = alert("Errors", "api", "P2", 5.0)

    def play(crash: bool) -> list[tuple[str, int, bool, str]]:
        p, told, blob = fresh(), [], b""
        p.push([API, errors], 5.0)
        for t in range(5, 400):
            if t == 100:
                blob = p.snapshot()
            if t == 200:
                told.extend(p.ack(API.fingerprint, 200.0, by="ana"))
            told.extend(p.tick(float(t)))
        if crash:
            firing = p.firing()
            p = fresh()
            p.restore(blob)
            assert p.catch_up(told) == 1  # ana's acknowledgement, after the snapshot
            p.push(firing, 400.0)
        return [
            (n.receiver, n.tier, n.acknowledged, n.taken)
            for n in p.ack(errors.fingerprint, 400.0, by="bob")
        ]

    assert play(crash=False) == [("primary", 0, True, errors.fingerprint)]
    assert play(crash=True) == play(crash=False)
