"""The routing tree: Alertmanager's depth-first matching, continue, inheritance, ids."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from anomalert.alert.route import Route, RouteConfig, routes_test
from anomalert.errors import ConfigError

TREE: dict[str, Any] = {
    "receiver": "default",
    "group_by": ["service"],
    "group_wait": "10s",
    "escalation": "standard",
    "routes": [
        {
            "matchers": ["team=db"],
            "receiver": "db-team",
            "group_interval": "1m",
            "routes": [
                {"matchers": ["severity=P1"], "receiver": "db-pager", "repeat_interval": "1h"},
                {"matchers": ["severity=~P2|P3"], "group_by": ["..."]},
            ],
        },
        {"matchers": ['env!="prod"'], "receiver": "staging", "continue": True},
        {"matchers": ["service=~api|web"], "receiver": "frontend", "escalation": "frontend"},
        {"matchers": ["service=~api.*"], "receiver": "never-reached"},
    ],
}


def build(tree: dict[str, Any] = TREE) -> Route:
    return Route.build(RouteConfig.model_validate(tree))


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "db", "severity": "P1", "env": "prod"}, ["db-pager"]),
        ({"team": "db", "severity": "P2", "env": "prod"}, ["db-team"]),  # inherits receiver
        ({"team": "db", "severity": "P9", "env": "prod"}, ["db-team"]),  # no child: the node
        ({"service": "api", "env": "prod"}, ["frontend"]),  # first match wins
        ({"service": "api", "env": "dev"}, ["staging", "frontend"]),  # continue
        ({"service": "other", "env": "dev"}, ["staging"]),
        ({"service": "other", "env": "prod"}, ["default"]),  # nothing matches: the root
    ],
)
def test_matching(labels: dict[str, str], receivers: list[str]) -> None:
    assert routes_test(build(), labels) == receivers


def test_children_inherit_unset_settings() -> None:
    root = build()
    db, db_p1, db_low = root.routes[0], root.routes[0].routes[0], root.routes[0].routes[1]
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (10.0, 300.0, 14400.0)
    assert (db.group_wait, db.group_interval, db.group_by) == (10.0, 60.0, ("service",))
    assert (db_p1.group_interval, db_p1.repeat_interval) == (60.0, 3600.0)
    assert db_low.receiver == "db-team" and db_low.group_all and db_low.group_by == ()
    assert db_p1.escalation == "standard" and root.routes[2].escalation == "frontend"


def test_ids_follow_the_matchers() -> None:
    root = build()
    assert [r.id for r in root.walk()] == [
        "{}",
        '{}/{team="db"}',
        '{}/{team="db"}/{severity="P1"}',
        '{}/{team="db"}/{severity=~"P2|P3"}',
        '{}/{env!="prod"}',
        '{}/{service=~"api|web"}',
        '{}/{service=~"api.*"}',
    ]
    found = root.find('{}/{team="db"}/{severity=~"P2|P3"}')
    assert found is not None and found.group_all
    assert root.find('{}/{team="web"}') is None
    assert found.where == "route.routes[0].routes[1]" and root.where == "route"


def test_group_labels() -> None:
    root = build()
    labels = {"service": "db", "team": "db", "severity": "P2", "env": "prod"}
    assert root.group_labels(labels) == {"service": "db"}
    assert root.group_labels({"team": "x"}) == {}  # absent labels are left out
    (low,) = root.match(labels)
    assert low.group_labels(labels) == labels


def test_the_root_needs_a_receiver_and_no_matchers() -> None:
    with pytest.raises(ConfigError) as err:
        Route.build(RouteConfig.model_validate({"matchers": ["a=b"]}))
    assert [loc for loc, _ in err.value.problems] == ["route.receiver", "route.matchers"]


def test_intervals_must_be_positive_and_errors_locate_them() -> None:
    tree = {"receiver": "x", "routes": [{"routes": [{"group_interval": 0}]}]}
    with pytest.raises(ConfigError) as err:
        Route.build(RouteConfig.model_validate(tree))
    assert err.value.problems[0][0] == "route.routes[0].routes[0].group_interval"


def test_config_errors() -> None:
    with pytest.raises(ValidationError) as err:
        RouteConfig.model_validate({"receiver": "x", "routes": [{"matchers": ["a=~("]}]})
    assert err.value.errors()[0]["loc"] == ("routes", 0, "matchers", 0)
    with pytest.raises(ValidationError):
        RouteConfig.model_validate({"receiver": "x", "group_by": ["...", "service"]})
    with pytest.raises(ValidationError):
        RouteConfig.model_validate({"receiver": "x", "group_wiat": "1m"})
    with pytest.raises(ValidationError):
        RouteConfig.model_validate({"receiver": "x", "group_wait": "soon"})
