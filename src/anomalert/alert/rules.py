"""Familiar rules beside the ML: static thresholds, dynamic thresholds, week over week, SLOs.

People trust rules they can read ("error rate above 2x its 7-day average for 5 minutes"),
and some business checks are rules by nature, so they run in the same process and reach
the same pipeline as anomaly alerts (``source="rule"``, ``alertname`` = the rule's name).

A rule selects series by metric name and label equalities; each matching series is
tracked on its own (one alert per series). Samples update a rule's condition as they
arrive; :meth:`RuleEngine.evaluate` turns conditions into transitions on the caller's
clock, like a Prometheus rule group: a condition must hold for ``for`` before it fires,
and the alert resolves on the first sample where it no longer holds, or when the series
goes silent for ``stale_after``. History lives in fixed rings of hourly and per-minute
buckets, so memory per series is bounded whatever the traffic.
"""

from __future__ import annotations

import math
import operator
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, Field, model_validator

from anomalert.alert.slo import Buckets, ModeOf, SloConfig, SloTracker, always_alerting, span
from anomalert.configbase import Duration, StrictModel
from anomalert.detect.localtime import LocalTime
from anomalert.detect.reason import fmt
from anomalert.model import Alert, Labels, Sample, Severity, fingerprint

__all__ = [
    "DynamicRule",
    "RuleEngine",
    "RulesConfig",
    "SloConfig",
    "StaticRule",
    "WeekOverWeekRule",
]

Op = Literal[">", ">=", "<", "<="]
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_WORDS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
HOUR = 3600.0
WEEK = 7 * 86400.0
_SNAPSHOT_VERSION = 1
_UTC = LocalTime()


class _Rule(StrictModel):
    """What every rule has: a name, the series it selects, how loud it is, what to do."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    severity: Severity = "P2"
    runbook_url: str | None = None
    for_: Duration = Field(default=0.0, alias="for")

    def selects(self, sample: Sample) -> bool:
        """Whether the rule watches this sample's series."""
        return sample.metric == self.metric and all(
            sample.labels.get(k) == v for k, v in self.labels.items()
        )


class StaticRule(_Rule):
    """``metric op value`` for ``for``: the classic threshold."""

    op: Op = ">"
    value: float


class DynamicRule(_Rule):
    """Above ``factor`` times its own trailing average (``baseline``) for ``for``.

    The average excludes the hour the ``for`` span starts in, so the deviation does not
    raise its own bar; nothing fires before ``min_history`` of data, nor below ``floor``.
    """

    factor: float = Field(default=2.0, gt=0)
    baseline: Duration = 7 * 86400.0
    for_: Duration = Field(default=300.0, alias="for")
    min_history: Duration = 86400.0
    floor: float = 0.0


class WeekOverWeekRule(_Rule):
    """The last hour's mean down more than ``drop`` against the same hour a week before."""

    drop: float = Field(default=0.5, gt=0, lt=1)
    for_: Duration = Field(default=900.0, alias="for")


class RulesConfig(StrictModel):
    """Every rule and SLO; names are unique because each one is an ``alertname``."""

    static: tuple[StaticRule, ...] = ()
    dynamic: tuple[DynamicRule, ...] = ()
    week_over_week: tuple[WeekOverWeekRule, ...] = ()
    slos: tuple[SloConfig, ...] = ()
    #: A rule's series with no sample for this long resolves (no data is not "still bad").
    stale_after: Duration = 900.0

    @model_validator(mode="after")
    def _unique_names(self) -> RulesConfig:
        names = [r.name for r in self.rules] + [s.name for s in self.slos]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule and SLO names must be unique: {', '.join(dupes)}")
        return self

    @property
    def rules(self) -> tuple[StaticRule | DynamicRule | WeekOverWeekRule, ...]:
        """Every series rule (SLOs aside)."""
        return (*self.static, *self.dynamic, *self.week_over_week)


@dataclass(frozen=True)
class Verdict:
    """A rule's condition at one sample and the words that explain it."""

    holds: bool
    summary: str
    details: dict[str, str] = field(default_factory=dict)


class _Check(Protocol):
    """One rule's arithmetic on one series."""

    def add(self, t: float, value: float) -> Verdict: ...

    def state(self) -> dict[str, Any]: ...


def _for(for_: float) -> str:
    return f" for {span(for_)}" if for_ > 0 else ""


def _days(seconds: float) -> str:
    """ "7-day", "12-hour": how people name an averaging window."""
    for unit, size in (("day", 86400.0), ("hour", HOUR), ("minute", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}-{unit}"
    return span(seconds)


class _StaticCheck:
    def __init__(self, rule: StaticRule) -> None:
        self.rule = rule

    def add(self, t: float, value: float) -> Verdict:
        r = self.rule
        summary = f"{r.metric} {fmt(value)} is {_WORDS[r.op]} {fmt(r.value)}{_for(r.for_)}"
        return Verdict(OPS[r.op](value, r.value), summary, {"limit": fmt(r.value)})

    def state(self) -> dict[str, Any]:
        return {}


class _DynamicCheck:
    def __init__(self, rule: DynamicRule, state: dict[str, Any] | None = None) -> None:
        self.rule = rule
        self.span_hours = math.ceil(rule.baseline / HOUR)
        n = self.span_hours + math.ceil(rule.for_ / HOUR) + 2
        if state is None or len(state["hours"]["index"]) != n:  # new, or baseline changed
            self.hours, self.first = Buckets(HOUR, n), math.inf
        else:
            self.hours, self.first = Buckets.from_state(state["hours"]), state["first"]

    def add(self, t: float, value: float) -> Verdict:
        r = self.rule
        self.hours.add(t, value, 1.0)
        self.first = min(self.first, t)
        end = math.floor((t - r.for_) / HOUR) * HOUR
        total, count = self.hours.over(end - self.span_hours * HOUR, end)
        if count <= 0 or t - self.first < r.min_history:
            return Verdict(False, f"{r.metric}: not enough history for a baseline yet")
        base = total / count
        ratio = f"{value / base:.1f}x" if base > 0 else "far above"
        summary = (
            f"{r.metric} {fmt(value)} is {ratio} its {_days(r.baseline)} average "
            f"{fmt(base)}{_for(r.for_)}"
        )
        holds = value > r.factor * base and value > r.floor
        return Verdict(holds, summary, {"baseline": fmt(base)})

    def state(self) -> dict[str, Any]:
        return {"hours": self.hours.state(), "first": self.first}


class _WeekOverWeekCheck:
    """ "The same hour last week" is the same hour on the service's wall clock (``clock``):
    read in UTC, a business day's closing hour in the week after clocks went forward was
    compared with an open hour of the week before, and a 50 % drop rule fired every
    evening that week."""

    def __init__(
        self,
        rule: WeekOverWeekRule,
        state: dict[str, Any] | None = None,
        clock: LocalTime | None = None,
    ) -> None:
        self.rule = rule
        self.clock = clock or LocalTime()
        if state is None:
            self.hours, self.minutes = Buckets(HOUR, 8 * 24 + 2), Buckets(60.0, 61)
        else:
            self.hours = Buckets.from_state(state["hours"])
            self.minutes = Buckets.from_state(state["minutes"])

    def add(self, t: float, value: float) -> Verdict:
        r = self.rule
        self.hours.add(t, value, 1.0)
        self.minutes.add(t, value, 1.0)
        total, count = self.minutes.last(t, 60)
        # The UTC time that showed this wall-clock time a week ago.
        ago = t - WEEK + self.clock.offset(t) - self.clock.offset(t - WEEK)
        ref_total, ref_count = self.hours.over(ago - HOUR, ago)
        if ref_count <= 0 or count <= 0:
            return Verdict(False, f"{r.metric}: no data for the same hour last week yet")
        now, ref = total / count, ref_total / ref_count
        change = (1.0 - now / ref) * 100.0 if ref > 0 else 0.0
        summary = (
            f"{r.metric} averaged {fmt(now)} over the last hour, {change:.0f} % below "
            f"{fmt(ref)} in the same hour last week{_for(r.for_)}"
        )
        holds = ref > 0 and now < (1.0 - r.drop) * ref
        return Verdict(holds, summary, {"last_week": fmt(ref)})

    def state(self) -> dict[str, Any]:
        return {"hours": self.hours.state(), "minutes": self.minutes.state()}


def _check(
    rule: _Rule, state: dict[str, Any] | None = None, clock: LocalTime | None = None
) -> _Check:
    if isinstance(rule, StaticRule):
        return _StaticCheck(rule)
    if isinstance(rule, DynamicRule):
        return _DynamicCheck(rule, state)
    if isinstance(rule, WeekOverWeekRule):
        return _WeekOverWeekCheck(rule, state, clock)
    raise TypeError(f"unknown rule type {type(rule).__name__}")


def _keep(rule: _Rule, stale_after: float) -> float:
    """How long a silent series' history is still worth keeping."""
    if isinstance(rule, DynamicRule):
        return rule.baseline + rule.for_ + HOUR
    if isinstance(rule, WeekOverWeekRule):
        return WEEK + 2 * HOUR
    return stale_after


@dataclass
class _Track:
    """One rule on one series: its condition, since when it holds, whether it fires."""

    rule: str
    labels: Labels
    check: _Check
    last_t: float = -math.inf
    value: float = math.nan
    verdict: Verdict = field(default_factory=lambda: Verdict(False, ""))
    since: float | None = None  # first sample time of the current run where the rule holds
    starts_at: float | None = None  # set while firing

    def plain(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "rule": self.rule,
            "labels": dict(self.labels),
            "check": self.check.state(),
            "last_t": self.last_t,
            "value": self.value,
            "verdict": (v.holds, v.summary, dict(v.details)),
            "since": self.since,
            "starts_at": self.starts_at,
        }


class RuleEngine:
    """Samples in (``observe``), rule alert transitions out (``evaluate``).

    ``mode_of`` maps a service to its rollout mode (the alert policy's), so a rule on a
    service in shadow mode is recorded, not paged.
    """

    def __init__(
        self,
        config: RulesConfig,
        mode_of: ModeOf = always_alerting,
        clock_of: Callable[[str], LocalTime] | None = None,
    ) -> None:
        self.config = config
        self.mode_of = mode_of
        #: A service's wall clock (its time zone), for week-over-week's "same hour".
        self.clock_of = clock_of or (lambda service: _UTC)
        self._rules = {r.name: r for r in config.rules}
        self._by_metric: dict[str, list[_Rule]] = {}
        for r in config.rules:
            self._by_metric.setdefault(r.metric, []).append(r)
        self.slos = [SloTracker(s, mode_of) for s in config.slos]
        self._slos_by_metric: dict[str, list[SloTracker]] = {}
        for tracker in self.slos:
            for m in tracker.config.metrics:
                self._slos_by_metric.setdefault(m, []).append(tracker)
        self._tracks: dict[tuple[str, str], _Track] = {}

    @property
    def metrics(self) -> frozenset[str]:
        """Metric names some rule or SLO reads (others need not reach the engine)."""
        return frozenset(self._by_metric) | frozenset(self._slos_by_metric)

    def observe(self, sample: Sample) -> None:
        """Feed one sample to every rule and SLO that selects it."""
        for tracker in self._slos_by_metric.get(sample.metric, ()):
            if tracker.config.selects(sample):
                tracker.observe(sample)
        rules = [r for r in self._by_metric.get(sample.metric, ()) if r.selects(sample)]
        if not rules or not math.isfinite(sample.value):
            return
        series = fingerprint({**sample.labels, "__name__": sample.metric})
        for rule in rules:
            key = (rule.name, series)
            track = self._tracks.get(key)
            if track is None:
                clock = self.clock_of(sample.service)
                track = _Track(rule.name, dict(sample.labels), _check(rule, clock=clock))
                self._tracks[key] = track
            verdict = track.check.add(sample.timestamp, sample.value)
            if sample.timestamp < track.last_t:
                continue  # late: counted in the history, but the condition is the latest's
            track.last_t, track.value, track.verdict = sample.timestamp, sample.value, verdict
            if not verdict.holds:
                track.since = None
            elif track.since is None:
                track.since = sample.timestamp

    def evaluate(self, now: float) -> list[Alert]:
        """Transitions at ``now``: rules that held for ``for`` fire, broken ones resolve."""
        out: list[Alert] = []
        stale_after = self.config.stale_after
        for key, track in list(self._tracks.items()):
            rule = self._rules[track.rule]
            stale = now - track.last_t > stale_after
            if track.starts_at is not None:
                if stale or not track.verdict.holds:
                    out.append(self._alert(rule, track, now, "resolved", stale))
                    track.starts_at = None
            elif not stale and track.since is not None and now - track.since >= rule.for_:
                track.starts_at = track.since
                out.append(self._alert(rule, track, now, "firing"))
            if track.starts_at is None and now - track.last_t > _keep(rule, stale_after):
                del self._tracks[key]
        for tracker in self.slos:
            out.extend(tracker.evaluate(now))
        return out

    def _alert(
        self,
        rule: _Rule,
        track: _Track,
        now: float,
        status: Literal["firing", "resolved"],
        stale: bool = False,
    ) -> Alert:
        identity = {
            **track.labels,
            "alertname": rule.name,
            "service": track.labels.get("service", ""),
            "metric": rule.metric,
        }
        annotations = {
            "summary": track.verdict.summary,
            "value": fmt(track.value),
            **track.verdict.details,
        }
        if rule.runbook_url:
            annotations["runbook_url"] = rule.runbook_url
        if stale:
            annotations["stale"] = "true"
        return Alert(
            fingerprint=fingerprint(identity),
            labels={**identity, "severity": rule.severity},
            annotations=annotations,
            starts_at=track.starts_at if track.starts_at is not None else now,
            ends_at=now if status == "resolved" else None,
            status=status,
            score=1.0,
            severity=rule.severity,
            mode=self.mode_of(identity["service"]),
            source="rule",
            updated_at=now,
        )

    def active(self) -> list[Alert]:
        """Snapshots of the rule alerts firing now (SLO tiers aside)."""
        return [
            self._alert(self._rules[t.rule], t, t.last_t, "firing")
            for t in self._tracks.values()
            if t.starts_at is not None
        ]

    def snapshot(self) -> bytes:
        """Histories, conditions and firing alerts, so a restart resumes them."""
        state = {
            "version": _SNAPSHOT_VERSION,
            "tracks": [(key, t.plain()) for key, t in self._tracks.items()],
            "slos": {s.config.name: s.state() for s in self.slos},
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        """Resume from :meth:`snapshot`; state of rules no longer configured is dropped."""
        state = pickle.loads(data)
        if state.get("version") != _SNAPSHOT_VERSION:
            raise ValueError(f"unknown rule engine snapshot version {state.get('version')}")
        self._tracks = {}
        for key, raw in state["tracks"]:
            rule = self._rules.get(raw["rule"])
            if rule is None:
                continue
            clock = self.clock_of(raw["labels"].get("service", ""))
            try:
                check = _check(rule, raw["check"] or None, clock)
            except (KeyError, ValueError):
                check = _check(rule, clock=clock)  # the rule changed shape: start again
            holds, summary, details = raw["verdict"]
            self._tracks[tuple(key)] = _Track(
                raw["rule"],
                raw["labels"],
                check,
                raw["last_t"],
                raw["value"],
                Verdict(holds, summary, details),
                raw["since"],
                raw["starts_at"],
            )
        for tracker in self.slos:
            if tracker.config.name in state["slos"]:
                tracker.load(state["slos"][tracker.config.name])
