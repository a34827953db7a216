"""The routing tree: which receiver hears about an alert, and how its group is timed.

Alertmanager's semantics: an alert enters at the root and walks down depth first; the first
matching child takes it unless that child says ``continue``, in which case later siblings are
tried too; a node none of whose children match takes the alert itself. Children inherit every
setting they leave unset, which is why the config fields are optional and only the built
:class:`Route` has every value resolved.

Each built route has a stable id, its path from the root ("0", "0/1", "0/1/0"): group keys and
snapshots name routes by it, so a restart with the same config finds its groups again.

>>> root = Route.build(RouteConfig.model_validate(
...     {"receiver": "ops", "routes": [{"matchers": ["severity=P1"], "receiver": "pager"}]}))
>>> routes_test(root, {"severity": "P1"}), routes_test(root, {"severity": "P3"})
(['pager'], ['ops'])
"""

from __future__ import annotations

from collections.abc import Iterator
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
    """A node of the built tree with every setting resolved."""

    id: str
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
        route = _build(cfg, root, "0", "route", problems)
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
    cfg: RouteConfig, parent: _Defaults, rid: str, where: str, problems: list[tuple[str, str]]
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
    children = tuple(
        _build(child, own, f"{rid}/{i}", f"{where}.routes[{i}]", problems)
        for i, child in enumerate(cfg.routes)
    )
    return Route(
        id=rid,
        receiver=own.receiver,
        matchers=parse_all(cfg.matchers),
        group_by=() if own.group_by == (GROUP_BY_ALL,) else own.group_by,
        group_all=own.group_by == (GROUP_BY_ALL,),
        group_wait=own.group_wait,
        group_interval=own.group_interval,
        repeat_interval=own.repeat_interval,
        continue_=cfg.continue_,
        escalation=own.escalation,
        routes=children,
    )


def _pick(value: float | None, inherited: float) -> float:
    return inherited if value is None else value
