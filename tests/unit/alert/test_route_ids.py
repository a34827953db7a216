"""Route ids follow the matchers (Alertmanager's route keys), so a restart after routes were
added, removed or reordered finds every group, and what each receiver was told, on the route
it belongs to. State written while ids were positions ("0/1": snapshot version 1, the
outbox's messages) is read at the upgrade as the routes at those positions."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from anomalert.alert.escalation import EscalationConfig
from anomalert.alert.pipeline import SNAPSHOT_VERSION, Pipeline
from anomalert.alert.route import Route, RouteConfig
from anomalert.alert.silence import Silencer
from anomalert.model import Alert, Notification, fingerprint
from anomalert.notify.render import notification_from_dict

PAGER = EscalationConfig.model_validate(
    {
        "name": "pager",
        "tiers": [{"after": "0m", "receiver": "b"}, {"after": "15m", "receiver": "b-lead"}],
    }
)
TEAM_A = {"matchers": ['service="a"'], "receiver": "a"}
TEAM_B = {"matchers": ['service="b"'], "receiver": "b", "escalation": "pager"}
TEAM_C = {"matchers": ['service="c"'], "receiver": "c"}


def tree(*routes: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "ops",
        "group_by": ["service"],
        "group_wait": "30s",
        "group_interval": "5m",
        "routes": list(routes),
    }


TEAMS = tree(TEAM_A, TEAM_B)
KEY_B = '{}/{service="b"}:{service="b"}'
#: Service b's group key while route ids were positions (TEAMS: b's route is the second).
OLD_KEY_B = '0/1:{service="b"}'


def build(config: dict[str, Any]) -> Route:
    return Route.build(RouteConfig.model_validate(config))


def pipeline(config: dict[str, Any]) -> Pipeline:
    return Pipeline(build(config), Silencer(), escalations={"pager": PAGER})


def alert(service: str) -> Alert:
    lab = {"alertname": "Down", "service": service, "severity": "P1"}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        0.0,
        None,
        "firing",
        0.9,
        "P1",
        "alerting",
        "rule",
        0.0,  # type: ignore[arg-type]
    )


B = alert("b")


def resolved(a: Alert, t: float) -> Alert:
    return replace(a, status="resolved", ends_at=t, updated_at=t)


def run(p: Pipeline, start: int, end: int) -> list[Notification]:
    return [n for t in range(start, end + 1) for n in p.tick(float(t))]


def told(notes: list[Notification]) -> list[tuple[str, int, str]]:
    return [(n.receiver, n.tier, n.status) for n in notes]


# -- ids ---------------------------------------------------------------------------------------


def test_the_root_and_nested_children_are_named_by_their_matchers() -> None:
    root = build(
        {
            "receiver": "ops",
            "routes": [
                {
                    "matchers": ["team=db", 'severity!~"P3"'],
                    "routes": [{"matchers": ["service=~pg|mysql"], "receiver": "dba"}],
                }
            ],
        }
    )
    (db,) = root.routes
    assert root.id == "{}"
    assert db.id == '{}/{team="db",severity!~"P3"}'  # written order, canonical quoting
    assert db.routes[0].id == '{}/{team="db",severity!~"P3"}/{service=~"pg|mysql"}'
    assert root.find(db.routes[0].id) is db.routes[0]


def test_siblings_with_the_same_matchers_get_ids_of_their_own() -> None:
    root = build(
        {
            "receiver": "ops",
            "routes": [
                {"matchers": ["team=db"], "receiver": "first", "continue": True},
                {"matchers": ['team="db"'], "routes": [{"matchers": ["severity=P1"]}]},
                {"matchers": ["team=db"], "receiver": "third"},
                {"receiver": "no-matchers"},
                {"receiver": "no-matchers-either"},
            ],
        }
    )
    assert [r.id for r in root.walk()] == [
        "{}",
        '{}/{team="db"}',
        '{}/{team="db"}#2',
        '{}/{team="db"}#2/{severity="P1"}',
        '{}/{team="db"}#3',
        "{}/{}",
        "{}/{}#2",
    ]


def test_inserting_or_reordering_routes_leaves_the_others_ids_alone() -> None:
    nested_a = {**TEAM_A, "routes": [{"matchers": ["severity=P1"], "receiver": "a-pager"}]}
    before = build(tree(nested_a, TEAM_B))
    nested_a["routes"] = [{"matchers": ["severity=P2"], "receiver": "a-p2"}, *nested_a["routes"]]
    after = build(tree(TEAM_C, TEAM_B, nested_a))

    def ids(root: Route) -> dict[str, str]:
        return {r.receiver: r.id for r in root.walk()}

    kept = ids(before)
    assert {name: ids(after)[name] for name in kept} == kept
    assert kept["b"] == '{}/{service="b"}'
    assert kept["a-pager"] == '{}/{service="a"}/{severity="P1"}'


def test_config_errors_are_located_where_the_yaml_has_them() -> None:
    root = build(tree(TEAM_A, {**TEAM_B, "routes": [{"matchers": ["x=1"]}, {}]}))
    assert [r.where for r in root.walk()] == [
        "route",
        "route.routes[0]",
        "route.routes[1]",
        "route.routes[1].routes[0]",
        "route.routes[1].routes[1]",
    ]


# -- restarts across a config change ------------------------------------------------------------


@pytest.mark.parametrize(
    "changed",
    [tree(TEAM_C, TEAM_A, TEAM_B), tree(TEAM_B, TEAM_A), tree(TEAM_B)],
    ids=["a-route-inserted-first", "routes-reordered", "the-other-route-removed"],
)
def test_a_restart_after_a_config_change_keeps_each_group_on_its_route(
    changed: dict[str, Any],
) -> None:
    """b was paged about service b; the restarted pipeline's tree has b's route elsewhere.
    Until route ids followed the matchers the group came back on whatever route then had
    b's old position ("0/1"): another team's receiver was paged, and b never heard the
    resolve (it found no group on b's route)."""
    p = pipeline(TEAMS)
    p.push([B], 0.0)
    first = run(p, 0, 100)
    assert told(first) == [("b", 0, "firing")]
    again = pipeline(changed)
    again.restore(p.snapshot())
    again.push([B], 100.0)  # the service pushes its firing alerts again
    assert told(run(again, 100, 599)) == []  # b was told already; nothing to a or c
    again.push([resolved(B, 600.0)], 600.0)
    end = run(again, 600, 1_000)
    assert told(end) == [("b", 0, "resolved")]
    # The same group key, so the resolve closes the incident the page opened (dedup_key).
    assert end[0].group_key == first[0].group_key == KEY_B


# -- the upgrade: state written while route ids were positions ----------------------------------

#: As the pipeline before this version wrote them (TEAMS; service b's P1 alert pushed at 0).
_B_V1 = {
    "annotations": {},
    "ends_at": None,
    "fingerprint": "c6d1e9e5befaf38a",
    "labels": {"alertname": "Down", "service": "b", "severity": "P1"},
    "mode": "alerting",
    "score": 0.9,
    "severity": "P1",
    "source": "rule",
    "starts_at": 0.0,
    "status": "firing",
    "updated_at": 0.0,
}
_PAGE_V1 = {
    "acknowledged": False,
    "alerts": [_B_V1],
    "group_key": '0/1:{service="b"}',
    "group_labels": {"service": "b"},
    "now": 30.0,
    "receiver": "b",
    "route": "0/1",
    "taken": "",
    "tier": 0,
}
_GROUP_V1 = {
    "alerts": [_B_V1],
    "key": '0/1:{service="b"}',
    "labels": {"service": "b"},
    "next_flush": 30.0,
    "route": "0/1",
}
#: Taken at 20 s, before b was paged.
V1_BEFORE_PAGE = json.dumps(
    {
        "escalations": [],
        "groups": [_GROUP_V1],
        "nflog": [],
        "seen": [_B_V1],
        "sequence": [],
        "version": 1,
    }
).encode()
#: Taken at 100 s, after b was paged at 30 s (tier 0 of the escalation, covered by the page).
V1_AFTER_PAGE = json.dumps(
    {
        "escalations": [
            {
                "acked": False,
                "active": [_B_V1["fingerprint"]],
                "config": "pager",
                "covered": [0],
                "group_key": '0/1:{service="b"}',
                "last": _PAGE_V1,
                "paged": [_B_V1["fingerprint"]],
                "sent": [],
                "started": 30.0,
            }
        ],
        "groups": [{**_GROUP_V1, "next_flush": 330.0}],
        "nflog": [{"acked": [], "flush": _PAGE_V1}],
        "seen": [_B_V1],
        "sequence": [['0/1:{service="b"}', "b", 1]],
        "version": 1,
    }
).encode()
#: The outbox's payload of b's page at 30 s (its own format's version, 1, is unchanged).
OLD_PAGE = {
    **{k: v for k, v in _PAGE_V1.items() if k != "now"},
    "key": "54da44e1aff12f8f482184f5d6e9ee1a",
    "sequence": 0,
    "severity": "P1",
    "status": "firing",
    "time": 30.0,
    "version": 1,
}


def test_a_snapshot_from_before_the_upgrade_is_read_by_position() -> None:
    """Nothing is told again, the escalation goes on, and every later message about the
    group names it by the key its receivers know it by (PagerDuty resolves the incident the
    page opened by it), counting on from the snapshot's numbers. Once the group ends, the
    next one takes the new key."""
    p = pipeline(TEAMS)
    p.restore(V1_AFTER_PAGE)
    p.push([B], 100.0)
    assert told(run(p, 100, 929)) == []
    lead = run(p, 930, 930)
    assert told(lead) == [("b-lead", 1, "firing")]  # 15 minutes after b's page, as planned
    p.push([resolved(B, 1_000.0)], 1_000.0)
    end = run(p, 1_000, 1_300)
    assert told(end) == [("b", 0, "resolved"), ("b-lead", 1, "resolved")]
    assert {n.group_key for n in (*lead, *end)} == {OLD_KEY_B}
    assert [n.sequence for n in end] == [1, 1]  # b's second message, b-lead's second
    state = json.loads(p.snapshot())
    assert state["version"] == SNAPSHOT_VERSION
    p.push([replace(B, starts_at=2_000.0, updated_at=2_000.0)], 2_000.0)
    again = run(p, 2_000, 2_100)
    assert told(again) == [("b", 0, "firing")]
    assert (again[0].group_key, again[0].sequence) == (KEY_B, 0)


def test_a_group_open_at_the_upgrade_keeps_its_key_across_later_restarts() -> None:
    p = pipeline(TEAMS)
    p.restore(V1_AFTER_PAGE)
    p.push([B], 100.0)
    assert told(run(p, 100, 200)) == []
    later = pipeline(tree(TEAM_C, TEAM_A, TEAM_B))  # a route inserted in the next restart
    later.restore(p.snapshot())
    later.push([B], 300.0)
    assert told(run(later, 300, 929)) == []
    lead = run(later, 930, 930)
    assert told(lead) == [("b-lead", 1, "firing")]
    later.push([resolved(B, 1_000.0)], 1_000.0)
    end = run(later, 1_000, 1_300)
    assert told(end) == [("b", 0, "resolved"), ("b-lead", 1, "resolved")]
    assert {n.group_key for n in (*lead, *end)} == {OLD_KEY_B}


def test_positions_the_tree_does_not_have_are_dropped() -> None:
    p = pipeline(tree())
    p.restore(V1_AFTER_PAGE)
    state = json.loads(p.snapshot())
    assert [state[k] for k in ("groups", "nflog", "escalations", "sequence")] == [[], [], [], []]
    assert told(run(p, 100, 2_000)) == []


def test_catching_up_with_a_message_enqueued_before_the_upgrade() -> None:
    """The snapshot was taken before b's page; the outbox holds the page, naming its route
    and group by position. It is counted under the key b knows the group by, and b is not
    paged again when the firing alert is pushed back."""
    p = pipeline(TEAMS)
    p.restore(V1_BEFORE_PAGE)
    assert p.catch_up([notification_from_dict(OLD_PAGE)]) == 1
    assert json.loads(p.snapshot())["sequence"] == [[OLD_KEY_B, "b", 1]]
    p.push([B], 100.0)
    assert told(run(p, 20, 599)) == []
    p.push([resolved(B, 600.0)], 600.0)
    end = run(p, 600, 1_000)
    assert told(end) == [("b", 0, "resolved")]
    assert (end[0].group_key, end[0].sequence) == (OLD_KEY_B, 1)


def test_catching_up_with_a_group_the_old_snapshot_did_not_have() -> None:
    """b's alert fired, and was paged, after the last snapshot before the upgrade: the
    outbox tells of a group the snapshot does not hold. The alert pushed back joins it under
    the key b knows (no second page, no second incident), and its resolve names that key."""
    p = pipeline(TEAMS)
    p.restore(json.dumps({**json.loads(V1_BEFORE_PAGE), "groups": [], "seen": []}).encode())
    assert p.catch_up([notification_from_dict(OLD_PAGE)]) == 1
    p.push([B], 100.0)
    assert told(run(p, 100, 599)) == []
    p.push([resolved(B, 600.0)], 600.0)
    end = run(p, 600, 1_000)
    assert told(end) == [("b", 0, "resolved")]
    assert (end[0].group_key, end[0].sequence) == (OLD_KEY_B, 1)


def test_after_the_upgrade_messages_naming_positions_are_not_news_again() -> None:
    """The upgrade's restart took the old page back; its snapshot counts it. A restart after
    a route was inserted reads the outbox again (the page is within the margin before the
    checkpoint), where position "0/1" is now team a's route: the page is skipped, not
    taken as one a's route sent."""
    upgraded = pipeline(TEAMS)
    upgraded.restore(V1_BEFORE_PAGE)
    assert upgraded.catch_up([notification_from_dict(OLD_PAGE)]) == 1
    upgraded.push([B], 100.0)
    assert told(run(upgraded, 20, 100)) == []
    p = pipeline(tree(TEAM_C, TEAM_A, TEAM_B))
    p.restore(upgraded.snapshot())
    restored = p.snapshot()
    assert p.catch_up([notification_from_dict(OLD_PAGE)]) == 0
    assert p.snapshot() == restored
    p.push([B], 200.0)
    assert told(run(p, 200, 599)) == []
    p.push([resolved(B, 600.0)], 600.0)
    assert told(run(p, 600, 1_000)) == [("b", 0, "resolved")]
