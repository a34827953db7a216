"""The routing tree: which receiver hears about an alert, and how its group is timed.

Alertmanager's semantics: an alert enters at the root and walks down depth first; the first
matching child takes it unless that child says ``continue``, in which case later siblings are
tried too; a node none of whose children match takes the alert itself. Children inherit every
setting they leave unset, which is why the config fields are optional and only the built
:class:`Route` has every value resolved.

Each built route has an id made of the matchers on its path, as Alertmanager's route keys:
the root is ``{}``, a child its parent's id, ``/`` and its own matchers in braces
(``{}/{team="db"}/{severity="P1"}``), with ``#2``, ``#3`` after the second and third of
siblings whose matchers are the same. Group keys, snapshots and the outbox's messages name
routes by it, so a restart after routes were added, removed or reordered elsewhere in the
tree finds every route's groups again; a route whose matchers change is a new route, whose
groups are dropped at the restart as a removed route's are. Ids were positions ("0", "0/1",
"0/1/0") until snapshot version 2: after such a change, a restored group flushed to
whichever route had taken its place, another team's receiver. :func:`id_at_position` reads
those old ids.

>>> root = Route.build(RouteConfig.model_validate(
...     {"receiver": "ops", "routes": [{"matchers": ["severity=P1"], "receiver": "pager"}]}))
>>> routes_test(root, {"severity": "P1"}), routes_test(root, {"severity": "P3"})
(['pager'], ['ops'])
>>> root.id, root.routes[0].id
('{}', '{}/{severity="P1"}')
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import ConfigDict, Field, field_validator

from anomalert.alert.matchers import Matcher, MatcherText, matches_all, parse_all
from anomalert.configbase import Duration, StrictModel
from anomalert.errors import ConfigError
from anomalert.model import Labels

GROUP_BY_ALL = "..."
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0
ROOT_ID = "{}"

_POSITIONAL = re.compile(r"0(/\d+)*")


class RouteConfig(StrictModel):
    """One node of the routing tree as written in the YAML; unset fields inherit."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    receiver: str | None = None
    matchers: list[MatcherText] = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)
    escalation: str | None = None

    @field_validator("group_by")
    @classmethod
    def _all_or_names(cls, value: list[str] | None) -> list[str] | None:
        if value and GROUP_BY_ALL in value and len(value) > 1:
            raise ValueError(f"{GROUP_BY_ALL!r} (group by all labels) must be alone")
        return value


@dataclass(frozen=True)
class Route:
    """A node of the built tree with every setting resolved; ``where`` is its place in the
    YAML (``route.routes[1].routes[0]``), for errors found after the build."""

    id: str
    where: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    continue_: bool
    escalation: str | None
    routes: tuple[Route, ...]

    @classmethod
    def build(cls, cfg: RouteConfig) -> Route:
        """Resolve inheritance; every problem is reported with its location in the tree."""
        problems: list[tuple[str, str]] = []
        if cfg.receiver is None:
            problems.append(("route.receiver", "the root route needs a receiver"))
        if cfg.matchers:
            problems.append(("route.matchers", "the root route takes every alert: no matchers"))
        if cfg.continue_:
            problems.append(("route.continue", "the root route cannot continue"))
        if problems:
            raise ConfigError("config", problems)
        root = _Defaults(
            receiver=cfg.receiver or "",
            group_by=(),
            group_wait=DEFAULT_GROUP_WAIT,
            group_interval=DEFAULT_GROUP_INTERVAL,
            repeat_interval=DEFAULT_REPEAT_INTERVAL,
            escalation=None,
        )
        route = _build(cfg, (), root, ROOT_ID, "route", problems)
        if problems:
            raise ConfigError("config", problems)
        return route

    def match(self, labels: Labels) -> list[Route]:
        """The routes that take these labels (empty only when this node does not match)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            taken = child.match(labels)
            found.extend(taken)
            if taken and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Labels) -> Labels:
        """The labels that decide an alert's group on this route (absent ones left out)."""
        if self.group_all:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def walk(self) -> Iterator[Route]:
        """This route and every descendant, depth first."""
        yield self
        for child in self.routes:
            yield from child.walk()

    def find(self, route_id: str) -> Route | None:
        """The descendant with this id (None when the tree has no such node)."""
        return next((r for r in self.walk() if r.id == route_id), None)


def is_positional(route_id: str) -> bool:
    """Whether a route id is a position ("0/1"), as written before ids followed matchers."""
    return _POSITIONAL.fullmatch(route_id) is not None


def id_at_position(tree: Route, positional: str) -> str | None:
    """The id of the route at a position ("0/1": the root's second child), or None when
    ``tree`` has no route there or the id is not a position.

    Only for state written by a pipeline with the same configuration (snapshot version 1,
    the outbox's messages before it): a position says nothing once routes moved.
    """
    if not is_positional(positional):
        return None
    node = tree
    for step in positional.split("/")[1:]:
        index = int(step)
        if index >= len(node.routes):
            return None
        node = node.routes[index]
    return node.id


def key_at_position(tree: Route, group_key: str) -> str | None:
    """A group key whose route id is a position ("0/1:{...}"), with the id that route has
    now (see :func:`id_at_position`); None when there is no such route."""
    positional, colon, labels = group_key.partition(":")
    route_id = id_at_position(tree, positional)
    return None if route_id is None or not colon else f"{route_id}:{labels}"


def routes_test(route: Route, labels: Labels) -> list[str]:
    """The receivers an alert with these labels would reach (``anomalert routes test``)."""
    return [r.receiver for r in route.match(labels)]


@dataclass(frozen=True)
class _Defaults:
    receiver: str
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    escalation: str | None


def _build(
    cfg: RouteConfig,
    own_matchers: tuple[Matcher, ...],
    parent: _Defaults,
    rid: str,
    where: str,
    problems: list[tuple[str, str]],
) -> Route:
    own = _Defaults(
        receiver=cfg.receiver if cfg.receiver is not None else parent.receiver,
        group_by=tuple(cfg.group_by) if cfg.group_by is not None else parent.group_by,
        group_wait=_pick(cfg.group_wait, parent.group_wait),
        group_interval=_pick(cfg.group_interval, parent.group_interval),
        repeat_interval=_pick(cfg.repeat_interval, parent.repeat_interval),
        escalation=cfg.escalation if cfg.escalation is not None else parent.escalation,
    )
    for name in ("group_interval", "repeat_interval"):
        if getattr(own, name) <= 0:
            problems.append((f"{where}.{name}", "must be longer than zero"))
    matchers = [parse_all(child.matchers) for child in cfg.routes]
    ids = _child_ids(rid, matchers)
    children = tuple(
        _build(child, matchers[i], own, ids[i], f"{where}.routes[{i}]", problems)
        for i, child in enumerate(cfg.routes)
    )
    return Route(
        id=rid,
        where=where,
        receiver=own.receiver,
        matchers=own_matchers,
        group_by=() if own.group_by == (GROUP_BY_ALL,) else own.group_by,
        group_all=own.group_by == (GROUP_BY_ALL,),
        group_wait=own.group_wait,
        group_interval=own.group_interval,
        repeat_interval=own.repeat_interval,
        continue_=cfg.continue_,
        escalation=own.escalation,
        routes=children,
    )


def _child_ids(parent: str, matchers: Sequence[tuple[Matcher, ...]]) -> list[str]:
    """Siblings with the same matchers still need ids of their own: the first keeps the
    plain form (so a twin added after it leaves its groups where they were), the next ones
    count up."""
    seen: dict[str, int] = {}
    ids: list[str] = []
    for own in matchers:
        segment = "{" + ",".join(str(m) for m in own) + "}"
        seen[segment] = seen.get(segment, 0) + 1
        suffix = f"#{seen[segment]}" if seen[segment] > 1 else ""
        ids.append(f"{parent}/{segment}{suffix}")
    return ids


def _pick(value: float | None, inherited: float) -> float:
    return inherited if value is None else value
