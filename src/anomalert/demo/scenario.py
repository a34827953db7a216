"""A seeded, realistic demo scenario: services, metrics, change events, labelled incidents.

Pure functions, no I/O (``writer.py`` writes the folder). The pipeline, one concern per
function, read top to bottom:

1. the clock and the shared load: ``make_context``, ``traffic_shape`` (daily and weekly
   seasonality with business hours, day-to-day wobble, slow growth);
2. when things happen: ``plan_incidents``, ``plan_deployments``, ``plan_change_events``;
3. what is going on: per-service ``Drivers`` (multipliers and offsets), built by
   ``baseline_drivers`` and changed by level shifts, maintenance and one injector per
   incident type; each returns new drivers and never touches samples;
4. what is measured: one model per metric renders samples from the load and the drivers.

Noise uses common random numbers keyed by (seed, service, metric), so the same spec with
``inject_incidents=False`` gives the same samples except in and right after the incident
windows (and the memory of services whose process an incident restarts).

>>> scenario = generate(ScenarioSpec(days=2, seed=3))
>>> scenario.series("db", "connections").index[0].isoformat()
'2026-01-05T00:00:00+00:00'
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import signal, special, stats

from anomalert.ingest.scenario import ChangeEvent, IncidentLabel

FloatArray = NDArray[np.float64]
SeriesKey = tuple[str, str]

LATENCY_P50 = "latency_p50_ms"
LATENCY_P99 = "latency_p99_ms"
REQUEST_RATE = "request_rate"
ERROR_RATE_5XX = "error_rate_5xx"
ERROR_RATE_4XX = "error_rate_4xx"
CPU = "cpu_percent"
MEMORY = "memory_percent"
CONNECTIONS = "connections"
AUTH_FAILURE_RATE = "auth_failure_rate"
PAYMENTS_SUCCESS_RATIO = "payments_success_ratio"

APP_METRICS = (LATENCY_P50, LATENCY_P99, REQUEST_RATE, ERROR_RATE_5XX, ERROR_RATE_4XX, CPU, MEMORY)
DB_METRICS = (LATENCY_P50, LATENCY_P99, REQUEST_RATE, CPU, MEMORY, CONNECTIONS)
EXTRA_METRICS = (AUTH_FAILURE_RATE, PAYMENTS_SUCCESS_RATIO)

#: Decimals written per metric (fractions keep 6 so a 0.2 % error rate stays readable).
DECIMALS: Mapping[str, int] = {
    LATENCY_P50: 2,
    LATENCY_P99: 2,
    REQUEST_RATE: 4,
    ERROR_RATE_5XX: 6,
    ERROR_RATE_4XX: 6,
    CPU: 2,
    MEMORY: 2,
    CONNECTIONS: 0,
    AUTH_FAILURE_RATE: 6,
    PAYMENTS_SUCCESS_RATIO: 6,
}

IncidentType = Literal["latency_spike", "error_burst", "memory_leak", "traffic_drop", "db_slowdown"]

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DEPLOY_LEAD = timedelta(minutes=8)  # bad deploy -> latency spike onset
ROLLBACK_BEFORE_END = timedelta(minutes=2)  # rollback, then pods recover
PROPAGATION_LAG = timedelta(minutes=1)  # per dependency hop, for the db slowdown
QUIET_AROUND_FIXED = timedelta(hours=2)  # no random deploy this close to incidents/windows
HOUR = 3600.0


@dataclass(frozen=True)
class ServiceProfile:
    """How one service behaves at weekday peak load (request rates in req/s or queries/s)."""

    name: str
    kind: Literal["app", "db"] = "app"
    base_rps: float = 100.0
    p50_ms: float = 50.0
    p99_ratio: float = 3.5
    error_5xx: float = 0.002
    error_4xx: float = 0.01
    cpu_idle: float = 6.0
    cpu_per_load: float = 45.0
    memory_base: float = 45.0
    gc_amplitude: float = 4.0
    memory_drift_per_hour: float = 0.06
    memory_drift_cap: float = 5.0
    extra_metrics: tuple[str, ...] = ()
    auth_failure: float = 0.02
    payment_decline: float = 0.03
    idle_connections: float = 25.0
    max_connections: int = 300

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names this service reports, in file order."""
        base = DB_METRICS if self.kind == "db" else APP_METRICS
        return base + self.extra_metrics


@dataclass(frozen=True)
class IncidentTemplate:
    """One incident to inject; ``magnitude`` is type-specific (see the injectors)."""

    type: IncidentType
    service: str
    day_offset: int  # days after the history period
    start_minute: int  # UTC minute of the day the incident starts
    duration_minutes: int
    severity: Literal["P1", "P2", "P3"]
    magnitude: float


# fmt: off
DEFAULT_SERVICES = (
    ServiceProfile("checkout", base_rps=120, p50_ms=85, p99_ratio=3.4, error_4xx=0.012,
                   cpu_idle=6, cpu_per_load=48, memory_base=42, gc_amplitude=5),
    ServiceProfile("payments", base_rps=45, p50_ms=140, p99_ratio=3.0, error_4xx=0.006,
                   cpu_idle=5, cpu_per_load=35, memory_base=50,
                   extra_metrics=(PAYMENTS_SUCCESS_RATIO,)),
    ServiceProfile("auth", base_rps=210, p50_ms=22, p99_ratio=4.0, error_5xx=0.001,
                   error_4xx=0.03, cpu_idle=4, cpu_per_load=40, memory_base=38,
                   gc_amplitude=3, extra_metrics=(AUTH_FAILURE_RATE,)),
    ServiceProfile("search", base_rps=160, p50_ms=65, p99_ratio=3.2, error_5xx=0.0015,
                   error_4xx=0.008, cpu_idle=8, cpu_per_load=55, memory_base=48,
                   gc_amplitude=5),
    ServiceProfile("db", kind="db", base_rps=900, p50_ms=3.5, p99_ratio=6.0, cpu_idle=12,
                   cpu_per_load=45, memory_base=68, gc_amplitude=1.0,
                   memory_drift_per_hour=0.0),
)
# fmt: on
DEFAULT_DEPENDENCIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("checkout", ("payments", "auth", "search")),
    ("payments", ("db", "auth")),
    ("auth", ()),
    ("search", ("db",)),
    ("db", ()),
)
DEFAULT_INCIDENTS = (
    IncidentTemplate("latency_spike", "checkout", 1, 14 * 60 + 28, 40, "P2", 4.0),
    IncidentTemplate("error_burst", "payments", 2, 10 * 60 + 15, 15, "P1", 0.08),
    IncidentTemplate("memory_leak", "search", 3, 8 * 60, 360, "P2", 98.0),
    IncidentTemplate("traffic_drop", "auth", 4, 11 * 60, 30, "P1", 0.7),
    IncidentTemplate("db_slowdown", "db", 4, 16 * 60, 30, "P1", 5.0),
)


@dataclass(frozen=True)
class ScenarioSpec:
    """Everything that decides a scenario; the same spec gives byte-identical files."""

    seed: int = 7
    days: int = 14
    step_seconds: int = 60
    start: datetime = DEFAULT_START
    services: tuple[ServiceProfile, ...] = DEFAULT_SERVICES
    dependencies: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_DEPENDENCIES
    history_days: int = 7
    peak_hour: float = 14.0
    night_floor: float = 0.15
    weekend_factor: float = 0.4
    weekly_growth: float = 0.02
    deployments_per_service: tuple[int, int] = (2, 4)
    level_shift_probability: float = 0.3
    inject_incidents: bool = True
    incidents: tuple[IncidentTemplate, ...] = DEFAULT_INCIDENTS

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() != timedelta(0):
            raise ValueError("start must be an aware UTC datetime")
        if self.seed < 0 or self.days < 1 or self.history_days < 1:
            raise ValueError("seed must be >= 0, days and history_days >= 1")
        if self.step_seconds < 1 or 86400 % self.step_seconds:
            raise ValueError("step_seconds must divide a day (e.g. 10, 60, 300)")
        if self.start.timestamp() % self.step_seconds:
            raise ValueError("start must be aligned to step_seconds")
        if not 0 < self.weekend_factor <= 1 or not 0 < self.night_floor <= 1:
            raise ValueError("weekend_factor and night_floor must be in (0, 1]")
        low, high = self.deployments_per_service
        if not 0 <= low <= high or not 0 <= self.level_shift_probability <= 1:
            raise ValueError("bad deployments_per_service or level_shift_probability")
        self._check_topology()
        if self.inject_incidents and self.incidents and self.days < 2:
            raise ValueError("incidents need days >= 2 (history first, then incidents)")

    def _check_topology(self) -> None:
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate service names in {names}")
        for extra in (m for s in self.services for m in s.extra_metrics):
            if extra not in EXTRA_METRICS:
                raise ValueError(f"unknown extra metric {extra!r}; known: {EXTRA_METRICS}")
        for service, deps in self.dependencies:
            unknown = {service, *deps} - set(names)
            if unknown or service in deps:
                raise ValueError(f"bad dependencies for {service!r}: {sorted(unknown)}")
        for template in self.incidents:
            if template.service not in names:
                raise ValueError(f"incident on unknown service {template.service!r}")


@dataclass(frozen=True)
class LevelShift:
    """A lasting change of normal that is not an incident (a deploy's or flag's new normal).

    Multiplicative for latencies (``factor``), additive in points for cpu/memory (``offset``).
    """

    service: str
    metric: str
    timestamp: datetime
    cause: str
    factor: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True, eq=False)
class Scenario:
    """A generated scenario: one read-only float array per (service, metric) on ``timestamps``."""

    spec: ScenarioSpec
    timestamps: NDArray[np.datetime64]  # datetime64[s], UTC
    samples: Mapping[SeriesKey, FloatArray]
    events: tuple[ChangeEvent, ...]
    graph: Mapping[str, tuple[str, ...]]
    incidents: tuple[IncidentLabel, ...]
    level_shifts: tuple[LevelShift, ...]

    @property
    def services(self) -> tuple[str, ...]:
        """Service names in spec order."""
        return tuple(s.name for s in self.spec.services)

    def metrics(self, service: str) -> tuple[str, ...]:
        """Metric names of one service, in file order."""
        return tuple(m for svc, m in self.samples if svc == service)

    def series(self, service: str, metric: str) -> pd.Series:
        """One series as a float Series on a UTC DatetimeIndex named ``timestamp``."""
        index = pd.DatetimeIndex(self.timestamps, name="timestamp").tz_localize(UTC)
        return pd.Series(self.samples[(service, metric)], index=index, name=metric)

    def index_at(self, moment: datetime) -> int:
        """Index of the first sample at or after ``moment``, clipped to the series."""
        return _index_at(self.spec, moment, len(self.timestamps))

    def incident(self, incident_type: str) -> IncidentLabel:
        """The (first) labelled incident of a type; KeyError if none."""
        for label in self.incidents:
            if label.type == incident_type:
                return label
        raise KeyError(incident_type)


# --- 1. the clock and the shared load -------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every step needs: the spec, sample count, epoch seconds, graph, profiles."""

    spec: ScenarioSpec
    n: int
    epoch_seconds: FloatArray
    graph: Mapping[str, tuple[str, ...]]
    profiles: Mapping[str, ServiceProfile]

    def steps(self, seconds: float) -> int:
        """A duration as a whole number of samples, at least one."""
        return max(1, round(seconds / self.spec.step_seconds))

    def index(self, moment: datetime) -> int:
        """Index of the first sample at or after ``moment``, clipped to [0, n]."""
        return _index_at(self.spec, moment, self.n)

    def day_start(self, day: int) -> datetime:
        """Midnight UTC of scenario day ``day`` (0-based)."""
        return self.spec.start + timedelta(days=day)


def make_context(spec: ScenarioSpec) -> Context:
    """The clock (n samples every step_seconds from start) and the dependency graph."""
    n = spec.days * 86400 // spec.step_seconds
    epoch = spec.start.timestamp() + np.arange(n, dtype=np.float64) * spec.step_seconds
    graph = {s.name: () for s in spec.services} | dict(spec.dependencies)
    return Context(spec, n, epoch, graph, {s.name: s for s in spec.services})


def make_timestamps(ctx: Context) -> NDArray[np.datetime64]:
    """Sample times as datetime64[s] (UTC)."""
    return ctx.epoch_seconds.astype(np.int64).astype("datetime64[s]")


def daily_profile(hour: FloatArray, peak_hour: float, night_floor: float) -> FloatArray:
    """Business-hours bump peaking at ``peak_hour``: steep morning ramp, long evening tail.

    Each side is a half Gaussian of its own width, and each reaches round the clock to the
    other side of the peak: the bump is the larger of the two, so it is continuous at every
    hour. (Until 2026-12-05 the sides met twelve hours from the peak, at 02:00, where the
    narrower morning side took over from the evening one: every series that follows traffic
    dropped by about an eighth from one minute to the next there, every day, and the
    engine paged on it as a sudden drop.)
    """
    after = (hour - peak_hour) % 24.0  # hours since the peak, the evening side
    before = (peak_hour - hour) % 24.0  # hours until the peak, the morning side
    bump = np.maximum(np.exp(-0.5 * (after / 4.5) ** 2), np.exp(-0.5 * (before / 3.5) ** 2))
    return night_floor + (1.0 - night_floor) * bump


def weekly_factor(ctx: Context) -> FloatArray:
    """1 on weekdays, ``weekend_factor`` on Saturday and Sunday, blended over ~3 hours."""
    weekday = ((ctx.epoch_seconds // 86400) + 3) % 7  # 1970-01-01 was a Thursday
    raw = np.where(weekday >= 5, ctx.spec.weekend_factor, 1.0)
    return _moving_average(raw, ctx.steps(3 * HOUR))


def day_to_day_wobble(ctx: Context) -> FloatArray:
    """A smooth per-day factor around 1 (some days are simply busier) with slow growth."""
    rng = rng_for(ctx.spec.seed, "traffic", "days")
    days = ctx.epoch_seconds / 86400.0
    first = math.floor(days[0])
    anchors = np.arange(first, math.ceil(days[-1]) + 2, dtype=np.float64) + 0.5
    factors = rng.normal(1.0, 0.04, size=len(anchors))
    growth = 1.0 + ctx.spec.weekly_growth * (days - days[0]) / 7.0
    return np.interp(days, anchors, factors) * growth


def traffic_shape(ctx: Context) -> FloatArray:
    """Shared load in (0, ~1]: 1 is a weekday peak; every service's traffic follows it."""
    hour = (ctx.epoch_seconds % 86400.0) / HOUR
    daily = daily_profile(hour, ctx.spec.peak_hour, ctx.spec.night_floor)
    return daily * weekly_factor(ctx) * day_to_day_wobble(ctx)


# --- 2. when things happen ------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedIncident:
    """A template placed in time; ``effect_end`` is when the root cause stops."""

    template: IncidentTemplate
    label: IncidentLabel
    effect_end: datetime


def incident_days(spec: ScenarioSpec) -> tuple[int, int]:
    """(first day after the history, number of days left for incidents)."""
    first = min(spec.history_days, max(1, spec.days // 2))
    return first, spec.days - first


def plan_incidents(spec: ScenarioSpec, ctx: Context) -> tuple[PlannedIncident, ...]:
    """Place each incident template after the history (wrapping if the scenario is short)."""
    first, room = incident_days(spec)
    planned = []
    for number, template in enumerate(spec.incidents, start=1):
        day = first + template.day_offset
        if day >= spec.days:  # a short scenario: wrap into the days left after the history
            day = first + template.day_offset % max(room, 1)
        start = ctx.day_start(day) + timedelta(minutes=template.start_minute)
        effect_end = start + timedelta(minutes=template.duration_minutes)
        end = effect_end
        if template.type == "db_slowdown":
            hops = max(upstream_distances(ctx.graph, template.service).values(), default=0)
            end = effect_end + hops * PROPAGATION_LAG
        if end > spec.start + timedelta(days=spec.days):
            if not spec.inject_incidents:
                continue  # only planned to keep deployments where they would be
            raise ValueError(f"incident {template.type} ends after the scenario; add days")
        label = IncidentLabel(
            f"INC-{number:03d}", template.type, template.service, start, end, template.severity
        )
        planned.append(PlannedIncident(template, label, effect_end))
    return tuple(planned)


@dataclass(frozen=True)
class _Deploy:
    at: datetime
    bad: bool = False
    shift: tuple[LevelShift, ...] = ()


_DEPLOY_NOTES = (
    "bump dependencies",
    "fix retry handling in the HTTP client",
    "add tracing spans to the request path",
    "refactor request validation",
    "improve cache hit ratio",
    "tune the worker thread pool",
    "new admin API endpoint",
    "structured logging cleanup",
)
_DB_NOTES = ("schema migration: add index on orders(created_at)", "raise work_mem to 64MB")


def plan_deployments(
    ctx: Context, incidents: tuple[PlannedIncident, ...], fixed: tuple[ChangeEvent, ...]
) -> tuple[tuple[ChangeEvent, ...], tuple[LevelShift, ...]]:
    """A few deployments per service on weekdays in business hours, plus the incident's.

    Some random deployments bring a lasting small level shift (the new normal); the bad
    checkout deployment of a latency spike is followed by a rollback.
    """
    spec = ctx.spec
    quiet = [
        (i.label.start - QUIET_AROUND_FIXED - DEPLOY_LEAD, i.label.end + QUIET_AROUND_FIXED)
        for i in incidents
    ]
    quiet += [
        (e.timestamp - QUIET_AROUND_FIXED, (e.end or e.timestamp) + QUIET_AROUND_FIXED)
        for e in fixed
    ]
    events: list[ChangeEvent] = []
    shifts: list[LevelShift] = []
    for profile in spec.services:
        deploys = random_deploys(ctx, profile, quiet)
        if spec.inject_incidents:
            deploys += [
                _Deploy(i.label.start - DEPLOY_LEAD, bad=True)
                for i in incidents
                if i.template.type == "latency_spike" and i.template.service == profile.name
            ]
        deploys.sort(key=lambda d: d.at)
        events += deployment_events(ctx, profile, deploys, incidents)
        shifts += [s for d in deploys for s in d.shift]
    return tuple(events), tuple(shifts)


def random_deploys(
    ctx: Context, profile: ServiceProfile, quiet: list[tuple[datetime, datetime]]
) -> list[_Deploy]:
    """Deploy times (weekday business hours, away from quiet windows) and their shifts."""
    spec = ctx.spec
    rng = rng_for(spec.seed, profile.name, "deployments")
    low, high = spec.deployments_per_service
    count = int(rng.integers(low, high + 1))
    if profile.kind == "db":
        count = (count + 1) // 2
    free = {
        day: minutes
        for day in range(spec.days)
        if ctx.day_start(day).weekday() < 5 and len(minutes := _free_minutes(ctx, day, quiet)) >= 30
    }
    chosen = rng.permutation(sorted(free))[:count].tolist()
    deploys = []
    for day in sorted(chosen):
        minute = free[day][int(rng.integers(len(free[day])))]
        at = ctx.day_start(day) + timedelta(minutes=minute, seconds=int(rng.integers(60)))
        shift = deploy_level_shift(rng, profile, at, spec.level_shift_probability)
        deploys.append(_Deploy(at, shift=shift))
    return deploys


def _free_minutes(ctx: Context, day: int, quiet: list[tuple[datetime, datetime]]) -> list[int]:
    """Business-hours minutes (09:30-17:00) of a day whose whole minute is outside ``quiet``."""
    minutes = np.arange(9 * 60 + 30, 17 * 60)
    lo = ctx.day_start(day).timestamp() + minutes * 60.0
    blocked = np.zeros(len(minutes), dtype=bool)
    for q_lo, q_hi in quiet:
        blocked |= (q_lo.timestamp() <= lo + 60.0) & (lo <= q_hi.timestamp())
    return [int(m) for m in minutes[~blocked]]


def deploy_level_shift(
    rng: np.random.Generator, profile: ServiceProfile, at: datetime, probability: float
) -> tuple[LevelShift, ...]:
    """Most deployments change nothing; some move latency, cpu or memory for good."""
    draws = rng.random(3).tolist()  # always three draws, so later deploys do not depend on this one
    if draws[0] >= probability:
        return ()
    cause = f"deployment of {profile.name}"
    sign = -1.0 if draws[2] < 0.3 else 1.0
    which = int(draws[1] * 3)
    if which == 0:
        factor = 1.0 + sign * (0.05 + 0.07 * draws[2])
        return (
            LevelShift(profile.name, LATENCY_P50, at, cause, factor=factor),
            LevelShift(profile.name, LATENCY_P99, at, cause, factor=factor),
        )
    metric, size = (CPU, 2.5 + 3.5 * draws[2]) if which == 1 else (MEMORY, 2.0 + 2.0 * draws[2])
    return (LevelShift(profile.name, metric, at, cause, offset=sign * size),)


def deployment_events(
    ctx: Context,
    profile: ServiceProfile,
    deploys: list[_Deploy],
    incidents: tuple[PlannedIncident, ...],
) -> list[ChangeEvent]:
    """Versioned deployment events (and a rollback after each bad one), in time order."""
    rng = rng_for(ctx.spec.seed, profile.name, "versions")
    major, minor, patch = 1, int(rng.integers(3, 25)), int(rng.integers(0, 6))
    notes = _DB_NOTES if profile.kind == "db" else _DEPLOY_NOTES
    events = []
    for deploy in deploys:
        before, previous = (minor, patch), f"v{major}.{minor}.{patch}"
        minor, patch = (minor + 1, 0) if rng.random() < 0.2 else (minor, patch + 1)
        version = f"v{major}.{minor}.{patch}"
        note = notes[int(rng.integers(len(notes)))]
        if deploy.bad:
            note = "new recommendations widget on the cart page"
        events.append(
            ChangeEvent(
                "deployment",
                profile.name,
                deploy.at,
                version,
                f"Deploy {profile.name} {version}: {note}",
            )
        )
        if deploy.bad:  # rolled back: the next deploy builds on the previous version
            end = next(i.label.end for i in incidents if i.label.start - DEPLOY_LEAD == deploy.at)
            events.append(
                ChangeEvent(
                    "rollback",
                    profile.name,
                    end - ROLLBACK_BEFORE_END,
                    previous,
                    f"Rollback {profile.name} to {previous}: p99 latency regression in {version}",
                )
            )
            minor, patch = before
    return events


def plan_change_events(ctx: Context) -> tuple[tuple[ChangeEvent, ...], tuple[LevelShift, ...]]:
    """One config change (no effect), one feature flag (a new normal), one maintenance window.

    Each is placed only if its service exists (payments, search, db by default).
    """
    spec = ctx.spec
    rng = rng_for(spec.seed, "change-events")
    minutes = rng.integers(0, 60, size=3).tolist()
    revision = int(rng.integers(100, 1000))
    first, _ = incident_days(spec)
    last = spec.days - 1
    events: list[ChangeEvent] = []
    shifts: list[LevelShift] = []
    if "payments" in ctx.profiles:
        at = ctx.day_start(min(2, last)) + timedelta(hours=11, minutes=minutes[0])
        events.append(
            ChangeEvent(
                "config",
                "payments",
                at,
                f"config-r{revision}",
                "Raise payment-provider HTTP client timeout from 2 s to 3 s",
            )
        )
    if "search" in ctx.profiles:
        at = ctx.day_start(min(first, last)) + timedelta(hours=13, minutes=minutes[1])
        events.append(
            ChangeEvent(
                "feature_flag",
                "search",
                at,
                None,
                "Enable feature flag semantic-ranking for 50% of users",
            )
        )
        cause = "feature flag semantic-ranking"
        shifts += [
            LevelShift("search", LATENCY_P50, at, cause, factor=1.08),
            LevelShift("search", LATENCY_P99, at, cause, factor=1.06),
            LevelShift("search", CPU, at, cause, offset=4.0),
        ]
    if "db" in ctx.profiles:
        at = ctx.day_start(min(first + 5, last)) + timedelta(hours=2)
        events.append(
            ChangeEvent(
                "maintenance",
                "db",
                at,
                None,
                "Planned maintenance: VACUUM ANALYZE and index rebuild on the orders database",
                end=at + timedelta(hours=1),
            )
        )
    return tuple(events), tuple(shifts)


# --- 3. what is going on: drivers, level shifts, maintenance, incidents -----------------------


@dataclass(frozen=True)
class Leak:
    """Memory climbing linearly to ``target`` percent over samples [i0, i1)."""

    i0: int
    i1: int
    target: float


@dataclass(frozen=True, eq=False)
class Drivers:
    """Per-sample multipliers and offsets one service's metric models read."""

    traffic: FloatArray
    p50: FloatArray
    p99: FloatArray
    cpu_add: FloatArray
    mem_add: FloatArray
    err5xx_add: FloatArray
    err4xx_add: FloatArray
    auth_fail_add: FloatArray
    payment_fail_add: FloatArray
    restarts: tuple[int, ...] = ()
    leaks: tuple[Leak, ...] = field(default=())


DriverMap = Mapping[str, Drivers]


def baseline_drivers(ctx: Context, restarts: tuple[int, ...]) -> Drivers:
    """Nothing unusual: multipliers 1, offsets 0."""
    ones, zeros = np.ones(ctx.n), np.zeros(ctx.n)
    return Drivers(ones, ones, ones, zeros, zeros, zeros, zeros, zeros, zeros, restarts)


def restarts_from_events(
    ctx: Context, events: tuple[ChangeEvent, ...]
) -> dict[str, tuple[int, ...]]:
    """Deployments and rollbacks restart an app service's processes (memory starts over)."""
    found: dict[str, list[int]] = {}
    for event in events:
        profile = ctx.profiles.get(event.service)
        if event.kind in ("deployment", "rollback") and profile and profile.kind == "app":
            found.setdefault(event.service, []).append(ctx.index(event.timestamp))
    return {service: tuple(sorted(idx)) for service, idx in found.items()}


def window_profile(ctx: Context, i0: int, i1: int, ramp_in: float, ramp_out: float) -> FloatArray:
    """0 outside [i0, i1), 1 inside, with linear ramps (seconds) at both ends inside."""
    idx = np.arange(ctx.n, dtype=np.float64)
    up = np.clip((idx - i0 + 1) / ctx.steps(ramp_in), 0.0, 1.0)
    down = np.clip((i1 - idx) / ctx.steps(ramp_out), 0.0, 1.0)
    return up * down


def apply_level_shifts(
    drivers: DriverMap, shifts: tuple[LevelShift, ...], ctx: Context
) -> DriverMap:
    """Each shift is a step (over a 3-minute rollout) that lasts to the end."""
    out = dict(drivers)
    for shift in shifts:
        d = out[shift.service]
        step = window_profile(ctx, ctx.index(shift.timestamp), ctx.n + 1, 180, 60)
        scale = 1.0 + (shift.factor - 1.0) * step
        if shift.metric == LATENCY_P50:
            d = replace(d, p50=d.p50 * scale)
        elif shift.metric == LATENCY_P99:
            d = replace(d, p99=d.p99 * scale)
        elif shift.metric == CPU:
            d = replace(d, cpu_add=d.cpu_add + shift.offset * step)
        elif shift.metric == MEMORY:
            d = replace(d, mem_add=d.mem_add + shift.offset * step)
        out[shift.service] = d
    return out


def apply_maintenance(drivers: DriverMap, event: ChangeEvent, ctx: Context) -> DriverMap:
    """An announced window: the service works harder and slower (not an incident)."""
    if event.service not in drivers or event.end is None:
        return drivers
    d = drivers[event.service]
    w = window_profile(ctx, ctx.index(event.timestamp), ctx.index(event.end), 180, 180)
    return dict(drivers) | {
        event.service: replace(
            d, cpu_add=d.cpu_add + 25.0 * w, p50=d.p50 * (1 + 0.3 * w), p99=d.p99 * (1 + w)
        )
    }


def upstream_distances(graph: Mapping[str, tuple[str, ...]], root: str) -> dict[str, int]:
    """Hops from each service that (transitively) depends on ``root`` to it."""
    dependents: dict[str, list[str]] = {}
    for service, deps in graph.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(service)
    distances, frontier = {}, [root]
    hops = 0
    while frontier:
        hops += 1
        nxt = []
        for service in frontier:
            for caller in dependents.get(service, []):
                if caller != root and caller not in distances:
                    distances[caller] = hops
                    nxt.append(caller)
        frontier = nxt
    return distances


def inject_latency_spike(drivers: DriverMap, inc: PlannedIncident, ctx: Context) -> DriverMap:
    """Bad deploy: p99 x magnitude, p50 x (1 + (magnitude - 1) / 6), a bit more cpu."""
    name, mag = inc.template.service, inc.template.magnitude
    d = drivers[name]
    w = window_profile(ctx, ctx.index(inc.label.start), ctx.index(inc.effect_end), 60, 120)
    p50 = 1 + (mag - 1) / 6
    new = replace(
        d,
        p99=d.p99 * (1 + (mag - 1) * w),
        p50=d.p50 * (1 + (p50 - 1) * w),
        cpu_add=d.cpu_add + 8.0 * w,
    )
    return dict(drivers) | {name: new}


def inject_error_burst(drivers: DriverMap, inc: PlannedIncident, ctx: Context) -> DriverMap:
    """5xx probability to ``magnitude``; direct callers see a fifth of it."""
    name, mag = inc.template.service, inc.template.magnitude
    w = window_profile(ctx, ctx.index(inc.label.start), ctx.index(inc.effect_end), 60, 60)
    out = dict(drivers)
    d = out[name]
    out[name] = replace(d, err5xx_add=d.err5xx_add + (mag - ctx.profiles[name].error_5xx) * w)
    for caller, hops in upstream_distances(ctx.graph, name).items():
        if hops == 1:
            c = out[caller]
            out[caller] = replace(c, err5xx_add=c.err5xx_add + 0.2 * mag * w)
    return out


def inject_memory_leak(drivers: DriverMap, inc: PlannedIncident, ctx: Context) -> DriverMap:
    """Memory climbs linearly to ``magnitude`` % then the process restarts; GC pressure shows
    late in p99 and cpu."""
    name = inc.template.service
    i0, i1 = ctx.index(inc.label.start), ctx.index(inc.effect_end)
    idx = np.arange(ctx.n, dtype=np.float64)
    g = np.where((idx >= i0) & (idx < i1), (idx - i0 + 1) / max(i1 - i0, 1), 0.0)
    d = drivers[name]
    new = replace(
        d,
        p99=d.p99 * (1 + 0.6 * g**4),
        cpu_add=d.cpu_add + 15.0 * g**3,
        restarts=tuple(sorted((*d.restarts, i1))),
        leaks=(*d.leaks, Leak(i0, i1, inc.template.magnitude)),
    )
    return dict(drivers) | {name: new}


def inject_traffic_drop(drivers: DriverMap, inc: PlannedIncident, ctx: Context) -> DriverMap:
    """Requests fall by ``magnitude`` (a fraction); failed logins and 4xx go up."""
    name, mag = inc.template.service, inc.template.magnitude
    w = window_profile(ctx, ctx.index(inc.label.start), ctx.index(inc.effect_end), 120, 120)
    d = drivers[name]
    new = replace(
        d,
        traffic=d.traffic * (1 - mag * w),
        auth_fail_add=d.auth_fail_add + 0.22 * w,
        err4xx_add=d.err4xx_add + 0.05 * w,
    )
    return dict(drivers) | {name: new}


def inject_db_slowdown(drivers: DriverMap, inc: PlannedIncident, ctx: Context) -> DriverMap:
    """Root latency x ``magnitude``; each hop upstream a minute later and 0.4x the excess."""
    name, mag = inc.template.service, inc.template.magnitude
    i0, i1 = ctx.index(inc.label.start), ctx.index(inc.effect_end)
    out = dict(drivers)
    d = out[name]
    w = window_profile(ctx, i0, i1, 60, 120)
    out[name] = replace(
        d,
        p50=d.p50 * (1 + (mag - 1) * w),
        p99=d.p99 * (1 + (mag - 1) * w),
        cpu_add=d.cpu_add + 30.0 * w,
    )
    lag = PROPAGATION_LAG.total_seconds()
    for caller, hops in upstream_distances(ctx.graph, name).items():
        shift = ctx.steps(hops * lag)
        wc = window_profile(ctx, i0 + shift, i1 + shift, 120, 120)
        excess, c = (mag - 1) * 0.4**hops, out[caller]
        out[caller] = replace(
            c,
            p99=c.p99 * (1 + excess * wc),
            p50=c.p50 * (1 + 0.6 * excess * wc),
            err5xx_add=c.err5xx_add + 0.015 * 0.4 ** (hops - 1) * wc,
            payment_fail_add=c.payment_fail_add + 0.02 * 0.4 ** (hops - 1) * wc,
        )
    return out


Injector = Callable[[DriverMap, PlannedIncident, Context], DriverMap]
INJECTORS: Mapping[str, Injector] = {
    "latency_spike": inject_latency_spike,
    "error_burst": inject_error_burst,
    "memory_leak": inject_memory_leak,
    "traffic_drop": inject_traffic_drop,
    "db_slowdown": inject_db_slowdown,
}


# --- 4. what is measured: one model per metric ---------------------------------------------


@dataclass(frozen=True, eq=False)
class Traffic:
    """Expected rate (req/s) and the observed request count per sample."""

    expected: FloatArray
    counts: FloatArray


def model_traffic(profile: ServiceProfile, load: FloatArray, d: Drivers, ctx: Context) -> Traffic:
    """Poisson counts around base_rps x load, with a slow service-specific wobble."""
    rng = rng_for(ctx.spec.seed, profile.name, REQUEST_RATE)
    wobble = np.exp(_ar1(rng.standard_normal(ctx.n), ctx.steps(1800), 0.05))
    expected = profile.base_rps * load * wobble * d.traffic
    mean = np.maximum(expected * ctx.spec.step_seconds, 1e-9)
    return Traffic(expected, poisson_quantile(_uniforms(rng, ctx.n), mean))


def model_latency(
    profile: ServiceProfile, traffic: Traffic, d: Drivers, ctx: Context
) -> tuple[FloatArray, FloatArray]:
    """Log-normal p50 and p99 that rise with utilisation; fewer requests, noisier p99."""
    rng = rng_for(ctx.spec.seed, profile.name, "latency")
    z50, z_other, z_slow = (rng.standard_normal(ctx.n) for _ in range(3))
    z99 = 0.6 * z50 + 0.8 * z_other
    slow = _ar1(z_slow, ctx.steps(3 * HOUR), 0.04)
    util = traffic.expected / profile.base_rps
    thin = 1.0 / np.sqrt(np.maximum(traffic.counts, 1.0))
    p50 = profile.p50_ms * (1 + 0.35 * util**2) * d.p50 * np.exp(slow + (0.03 + 0.3 * thin) * z50)
    p99 = (
        profile.p50_ms
        * profile.p99_ratio
        * (1 + 0.6 * util**2)
        * d.p99
        * np.exp(slow + (0.08 + 1.5 * thin) * z99)
    )
    return p50, np.maximum(p99, 1.2 * p50)


def error_probability_5xx(
    profile: ServiceProfile, traffic: Traffic, d: Drivers, ctx: Context
) -> FloatArray:
    """Base 5xx probability, a bit higher under load, with rare short blips, plus incidents."""
    util = traffic.expected / profile.base_rps
    blips = _blips(ctx, rng_for(ctx.spec.seed, profile.name, "5xx-blips"), per_day=1.0)
    return np.clip(profile.error_5xx * (1 + 0.5 * util**2) * (1 + 3 * blips) + d.err5xx_add, 0, 1)


def model_fraction(
    counts: FloatArray, probability: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Binomial successes over counts as a fraction (0 where there were no requests)."""
    u = _uniforms(rng, len(counts))
    hits = np.asarray(stats.binom.ppf(u, counts, np.clip(probability, 0.0, 1.0)), dtype=np.float64)
    return np.where(counts > 0, hits / np.maximum(counts, 1.0), 0.0)


def model_cpu(profile: ServiceProfile, traffic: Traffic, d: Drivers, ctx: Context) -> FloatArray:
    """Idle plus per-load cpu, with jitter and a few minutes of autocorrelated noise."""
    rng = rng_for(ctx.spec.seed, profile.name, CPU)
    jitter = _ar1(rng.standard_normal(ctx.n), ctx.steps(300), 1.0) + 0.5 * rng.standard_normal(
        ctx.n
    )
    level = (
        profile.cpu_idle + profile.cpu_per_load * traffic.expected / profile.base_rps + d.cpu_add
    )
    noise = jitter * (0.4 + 0.03 * np.maximum(level, 0.0))  # busier, noisier
    return np.clip(level + noise, 0.5, 100.0)


def model_memory(profile: ServiceProfile, load: FloatArray, d: Drivers, ctx: Context) -> FloatArray:
    """GC sawtooth (faster under load) + slow drift since the last restart, capped at 100."""
    rng = rng_for(ctx.spec.seed, profile.name, MEMORY)
    noise = 0.25 * rng.standard_normal(ctx.n)
    period, phase0, uptime0 = rng.uniform(900, 1800), rng.random(), rng.uniform(0, 24)
    phase = phase0 + np.cumsum((0.4 + 0.6 * load) * ctx.spec.step_seconds / period)
    cycle = phase.astype(np.int64)
    amplitude = profile.gc_amplitude * (0.8 + 0.4 * rng.random(int(cycle[-1]) + 1))[cycle]
    saw = amplitude * (phase - cycle)
    uptime = _hours_since_restart(ctx, d.restarts, uptime0)
    drift = np.minimum(profile.memory_drift_per_hour * uptime, profile.memory_drift_cap)
    memory = profile.memory_base + saw + drift + d.mem_add + noise
    for leak in d.leaks:
        memory = _apply_leak(memory, leak, saw - amplitude / 2, noise)
    return np.clip(memory, 0.0, 100.0)


def model_connections(
    profile: ServiceProfile, traffic: Traffic, d: Drivers, ctx: Context
) -> FloatArray:
    """Little's law: connections in use grow with query rate times query time."""
    rng = rng_for(ctx.spec.seed, profile.name, CONNECTIONS)
    in_use = profile.idle_connections + 0.06 * traffic.expected * d.p50
    counts = poisson_quantile(_uniforms(rng, ctx.n), in_use)
    return np.minimum(counts, float(profile.max_connections))


def model_auth_failures(
    profile: ServiceProfile, traffic: Traffic, load: FloatArray, d: Drivers, ctx: Context
) -> FloatArray:
    """Failed logins: higher share at night (bots), plus incidents."""
    p = profile.auth_failure * (1 + 0.4 * (1 - np.minimum(load, 1.0))) + d.auth_fail_add
    return model_fraction(
        traffic.counts, p, rng_for(ctx.spec.seed, profile.name, AUTH_FAILURE_RATE)
    )


def model_payments_success(
    profile: ServiceProfile, traffic: Traffic, p5xx: FloatArray, d: Drivers, ctx: Context
) -> FloatArray:
    """Share of payment attempts (about a third of requests) that succeed."""
    attempts = np.floor(traffic.counts * 0.35)
    p_fail = profile.payment_decline + p5xx + d.payment_fail_add
    rng = rng_for(ctx.spec.seed, profile.name, PAYMENTS_SUCCESS_RATIO)
    return np.where(attempts > 0, 1.0 - model_fraction(attempts, p_fail, rng), 1.0)


def render_service(
    profile: ServiceProfile, load: FloatArray, d: Drivers, ctx: Context
) -> dict[SeriesKey, FloatArray]:
    """All metrics of one service, rounded as written."""
    seed, name = ctx.spec.seed, profile.name
    traffic = model_traffic(profile, load, d, ctx)
    p50, p99 = model_latency(profile, traffic, d, ctx)
    values = {
        LATENCY_P50: p50,
        LATENCY_P99: p99,
        REQUEST_RATE: traffic.counts / ctx.spec.step_seconds,
        CPU: model_cpu(profile, traffic, d, ctx),
        MEMORY: model_memory(profile, load, d, ctx),
    }
    if profile.kind == "db":
        values[CONNECTIONS] = model_connections(profile, traffic, d, ctx)
    else:
        p5xx = error_probability_5xx(profile, traffic, d, ctx)
        p4xx = profile.error_4xx * (1 + 0.5 * (1 - np.minimum(load, 1.0))) + d.err4xx_add
        values[ERROR_RATE_5XX] = model_fraction(
            traffic.counts, p5xx, rng_for(seed, name, ERROR_RATE_5XX)
        )
        values[ERROR_RATE_4XX] = model_fraction(
            traffic.counts, p4xx, rng_for(seed, name, ERROR_RATE_4XX)
        )
        if AUTH_FAILURE_RATE in profile.extra_metrics:
            values[AUTH_FAILURE_RATE] = model_auth_failures(profile, traffic, load, d, ctx)
        if PAYMENTS_SUCCESS_RATIO in profile.extra_metrics:
            values[PAYMENTS_SUCCESS_RATIO] = model_payments_success(profile, traffic, p5xx, d, ctx)
    return {(name, metric): _rounded(metric, values[metric]) for metric in profile.metrics}


# --- the whole thing ------------------------------------------------------------------------


def generate(spec: ScenarioSpec | None = None) -> Scenario:
    """Generate a scenario (default spec when None); pure and deterministic given the spec."""
    spec = spec or ScenarioSpec()
    ctx = make_context(spec)
    load = traffic_shape(ctx)
    planned = plan_incidents(spec, ctx)
    fixed, flag_shifts = plan_change_events(ctx)
    deploy_events, deploy_shifts = plan_deployments(ctx, planned, fixed)
    events = tuple(sorted(deploy_events + fixed, key=lambda e: (e.timestamp, e.service, e.kind)))
    shifts = tuple(sorted(deploy_shifts + flag_shifts, key=lambda s: (s.timestamp, s.service)))
    restarts = restarts_from_events(ctx, events)
    drivers: DriverMap = {
        s.name: baseline_drivers(ctx, restarts.get(s.name, ())) for s in spec.services
    }
    drivers = apply_level_shifts(drivers, shifts, ctx)
    for event in fixed:
        drivers = apply_maintenance(drivers, event, ctx)
    if spec.inject_incidents:
        for incident in planned:
            drivers = INJECTORS[incident.template.type](drivers, incident, ctx)
    samples: dict[SeriesKey, FloatArray] = {}
    for profile in spec.services:
        samples |= render_service(profile, load, drivers[profile.name], ctx)
    timestamps = make_timestamps(ctx)
    timestamps.flags.writeable = False
    return Scenario(
        spec=spec,
        timestamps=timestamps,
        samples=samples,
        events=events,
        graph=dict(ctx.graph),
        incidents=tuple(i.label for i in planned) if spec.inject_incidents else (),
        level_shifts=shifts,
    )


# --- helpers --------------------------------------------------------------------------------


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    """An independent generator per (seed, keys): one concern's draws never shift another's."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def _index_at(spec: ScenarioSpec, moment: datetime, n: int) -> int:
    offset = (moment - spec.start).total_seconds()
    return min(max(math.ceil(offset / spec.step_seconds), 0), n)


def poisson_quantile(u: FloatArray, mean: FloatArray) -> FloatArray:
    """Poisson counts from uniforms (common random numbers): exact below a mean of 50,
    Cornish-Fisher (normal with skew correction, within a count or so) above."""
    z = special.ndtri(u)
    counts = np.maximum(np.floor(mean + np.sqrt(mean) * z + (z * z - 1.0) / 6.0 + 0.5), 0.0)
    small = mean < 50.0
    if small.any():
        counts[small] = stats.poisson.ppf(u[small], np.maximum(mean[small], 1e-9))
    return np.asarray(counts, dtype=np.float64)


def _uniforms(rng: np.random.Generator, n: int) -> FloatArray:
    return np.clip(rng.random(n), 1e-12, 1.0 - 1e-12)


def _ar1(z: FloatArray, tau_steps: int, sigma: float) -> FloatArray:
    """Stationary AR(1) with standard deviation ``sigma`` and time constant ``tau_steps``."""
    phi = math.exp(-1.0 / tau_steps)
    gain = sigma * math.sqrt(1.0 - phi * phi)
    x = z.copy()
    x[0] = z[0] / math.sqrt(1.0 - phi * phi)
    return np.asarray(signal.lfilter([gain], [1.0, -phi], x), dtype=np.float64)


def _moving_average(x: FloatArray, width: int) -> FloatArray:
    if width <= 1:
        return x
    left = width // 2
    padded = np.pad(x, (left, width - 1 - left), mode="edge")
    sums = np.cumsum(np.concatenate(([0.0], padded)))
    return (sums[width:] - sums[:-width]) / width


def _blips(ctx: Context, rng: np.random.Generator, per_day: float) -> FloatArray:
    """Rare 1-3 minute blips (0/1 mask): the noise a precision-first pager should ignore."""
    count = int(rng.poisson(per_day * ctx.spec.days))
    starts = rng.integers(0, ctx.n, size=count)
    lengths = rng.integers(60, 181, size=count)
    mask = np.zeros(ctx.n)
    for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        mask[start : start + ctx.steps(length)] = 1.0
    return mask


def _hours_since_restart(ctx: Context, restarts: tuple[int, ...], uptime0: float) -> FloatArray:
    idx = np.arange(ctx.n)
    marks = np.asarray([0, *sorted(restarts)], dtype=np.int64)
    last = marks[np.searchsorted(marks, idx, side="right") - 1]
    hours = (idx - last) * ctx.spec.step_seconds / HOUR
    before_first_restart = last == 0
    return np.where(before_first_restart, hours + uptime0, hours)


def _apply_leak(memory: FloatArray, leak: Leak, saw: FloatArray, noise: FloatArray) -> FloatArray:
    i0, i1 = leak.i0, leak.i1
    if i1 <= i0:
        return memory
    start = float(np.mean(memory[max(0, i0 - 30) : i0])) if i0 > 0 else float(memory[0])
    climb = (np.arange(i0, i1) - i0 + 1) / (i1 - i0)
    out = memory.copy()
    out[i0:i1] = start + (leak.target - start) * climb + 0.3 * saw[i0:i1] + noise[i0:i1]
    return out


def _rounded(metric: str, values: FloatArray) -> FloatArray:
    out = np.round(values, DECIMALS.get(metric, 4)) + 0.0  # + 0.0 turns -0.0 into 0.0
    out.flags.writeable = False
    return out
