"""The one YAML file that configures the service, validated before anything starts.

Each feature owns its configuration model next to its code (a receiver's settings live in
``notify.config``, a route's in ``alert.route``); this module composes them. Every model
rejects unknown keys, so a typo is an error naming its location
(``receivers[2].webhook.url: Field required``), never a silently ignored setting.

``${NAME}`` anywhere in a string value is replaced by the environment variable NAME, so
secrets (tokens, webhook URLs, routing keys) stay out of the file; a missing variable is an
error naming the location. Secrets are ``SecretStr``: they never print.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from anomalert.alert.correlate import CorrelationConfig
from anomalert.alert.escalation import EscalationConfig
from anomalert.alert.inhibit import InhibitRule
from anomalert.alert.policy import FlappingConfig, ServicePolicy
from anomalert.alert.route import RouteConfig
from anomalert.alert.rules import RulesConfig
from anomalert.alert.sensitivity import SensitivityConfig
from anomalert.configbase import Duration, StrictModel
from anomalert.detect.localtime import LocalTime, check_zone
from anomalert.detect.peers import PeerConfig
from anomalert.detect.restarts import RestartConfig
from anomalert.errors import ConfigError
from anomalert.ingest.alertmanager import AlertsConfig
from anomalert.ingest.counters import COUNTER_NAMES, check_patterns
from anomalert.ingest.histograms import HistogramConfig
from anomalert.ingest.prometheus_pull import PullConfig
from anomalert.ingest.recordpools import RecordConfig
from anomalert.notify.config import ReceiverConfig
from anomalert.notify.outbox import RetryPolicy
from anomalert.store.retention import RetentionConfig

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServiceConfig(ServicePolicy):
    """A service: its alert policy plus the services it depends on (for root cause)."""

    depends_on: tuple[str, ...] = ()
    #: The time zone whose wall clock this service's days and weeks follow, when it is not
    #: ``detection.timezone`` (a service whose traffic is New York's in a Berlin company).
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)


class ServerConfig(StrictModel):
    """Where the API listens and who may write.

    Tokens are required before the service listens on anything but loopback: an open write
    endpoint on a network is how fake alerts and silenced pages happen.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: Tokens for ingest and other writes (admins may write too).
    write_tokens: tuple[SecretStr, ...] = ()
    #: Tokens for admin actions: silences, acknowledgements, mode switches, feedback.
    admin_tokens: tuple[SecretStr, ...] = ()
    #: Largest request body accepted, in bytes (413 beyond).
    max_body_bytes: int = Field(default=10_000_000, ge=1024)
    #: Live endpoints reject samples older than this (history goes through replay) ...
    max_sample_age: Duration = 3600.0
    #: ... or further in the future than this (clock skew).
    max_sample_future: Duration = 300.0
    #: The URL people reach the service at (links in notifications); unset, the address it
    #: listens on (``http://host:port``, so ``anomalert run --port`` moves the links too).
    external_url: str | None = None

    @property
    def link_base(self) -> str:
        """Where notification links point: ``external_url``, else the listening address."""
        if self.external_url is not None:
            return self.external_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def tokens_configured(self) -> bool:
        """Whether any token is set (then writes and admin actions need one)."""
        return bool(self.write_tokens or self.admin_tokens)


class StorageConfig(StrictModel):
    """Where state lives; SQLite in a data directory unless a URL says otherwise."""

    url: str = "sqlite:///data/anomalert.db"
    #: How often detector and pipeline state are checkpointed (a restart resumes from there).
    checkpoint_interval: Duration = 60.0
    retention: RetentionConfig = RetentionConfig()


class IngestConfig(StrictModel):
    """How samples are read: which are counters, what histograms and records become; how
    long alerts sent in Alertmanager's format last."""

    #: Metric names whose remote_write series are counters unless the sender's metadata
    #: types their family (shell-style patterns; empty: metadata alone decides).
    counters: tuple[str, ...] = COUNTER_NAMES
    histograms: HistogramConfig = HistogramConfig()
    records: RecordConfig = RecordConfig()
    alerts: AlertsConfig = AlertsConfig()

    @field_validator("counters")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_patterns(value)


class DetectionConfig(StrictModel):
    """What the engine runs; the defaults are the precision-first product defaults."""

    #: Ceilings of saturating metrics, for predicted-breach alerts ("memory reaches 100 %").
    limits: dict[str, float] = Field(
        default_factory=lambda: {"memory_percent": 100.0, "cpu_percent": 100.0}
    )
    #: Recent points kept per series as an alert's context.
    context_points: int = Field(default=48, ge=8, le=1000)
    #: A series alerts only once it is this old: its first two days are scored, never
    #: paged (a daily shape cannot be told from an anomaly before then).
    min_age: Duration = 172_800.0
    #: The time zone whose wall clock the series' days and weeks follow (an IANA name):
    #: business hours that open at 09:00 local time stay at 09:00 when clocks change.
    timezone: str = "UTC"
    #: A series without a sample for this long is forgotten (0: never): churned pods'
    #: series are not kept and stepped for good.
    retire_after: Duration = Field(default=604_800.0, ge=0.0)
    #: Series followed at most; samples of new series beyond it are refused and counted.
    max_series: int = Field(default=100_000, ge=1)
    #: One member of a group (a pod of a deployment) judged against its peers.
    peers: PeerConfig = PeerConfig()
    #: What a deployment's restart resets: a fall of those metrics right after it is no page.
    restarts: RestartConfig = RestartConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)


class Config(StrictModel):
    """The whole file. Every key is documented in docs/configuration.md (a test checks)."""

    server: ServerConfig = ServerConfig()
    storage: StorageConfig = StorageConfig()
    ingest: IngestConfig = IngestConfig()
    detection: DetectionConfig = DetectionConfig()
    #: Policy for services not listed under ``services``.
    defaults: ServicePolicy = ServicePolicy()
    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    rules: RulesConfig = RulesConfig()
    flapping: FlappingConfig = FlappingConfig()
    #: How feedback on alerts moves thresholds (adaptive sensitivity).
    sensitivity: SensitivityConfig = SensitivityConfig()
    correlation: CorrelationConfig = CorrelationConfig()
    route: RouteConfig
    receivers: tuple[ReceiverConfig, ...]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    escalations: tuple[EscalationConfig, ...] = ()
    delivery: RetryPolicy = RetryPolicy()
    prometheus: PullConfig | None = None

    @property
    def zones(self) -> dict[str, str]:
        """The services whose days follow their own time zone, and the zone of each."""
        return {name: svc.timezone for name, svc in self.services.items() if svc.timezone}

    def clock_of(self) -> Callable[[str], LocalTime]:
        """Each service's wall clock: its own time zone, else ``detection.timezone`` (one
        ``LocalTime`` per zone, so each keeps its cached span)."""
        default, zones = self.detection.timezone, self.zones
        clocks = {name: LocalTime(name) for name in {default, *zones.values()}}
        return lambda service: clocks[zones.get(service, default)]

    @model_validator(mode="before")
    @classmethod
    def _services_inherit_defaults(cls, data: Any) -> Any:
        """A listed service starts from ``defaults``; its own keys win, maps merge."""
        if not isinstance(data, dict):
            return data
        defaults, services = data.get("defaults"), data.get("services")
        if not isinstance(defaults, dict) or not isinstance(services, dict):
            return data
        merged = {}
        for name, svc in services.items():
            if not isinstance(svc, dict):
                merged[name] = svc
                continue
            out = {**defaults, **svc}
            for key in ("labels", "metrics"):
                if isinstance(defaults.get(key), dict) and isinstance(svc.get(key), dict):
                    out[key] = {**defaults[key], **svc[key]}
            merged[name] = out
        return {**data, "services": merged}

    @field_validator("receivers")
    @classmethod
    def _unique_receivers(cls, value: tuple[ReceiverConfig, ...]) -> tuple[ReceiverConfig, ...]:
        names = [r.name for r in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"receiver names must be unique: {', '.join(dupes)}")
        return value

    @model_validator(mode="after")
    def _references_exist(self) -> Config:
        names = {r.name for r in self.receivers}
        missing = [
            f"{loc}.receiver: {name}"
            for loc, name in _route_refs(self.route, "route", "receiver")
            if name not in names
        ]
        for i, esc in enumerate(self.escalations):
            missing += [
                f"escalations[{i}].tiers[{j}].receiver: {t.receiver}"
                for j, t in enumerate(esc.tiers)
                if t.receiver not in names
            ]
        if missing:
            raise ValueError(
                f"unknown receiver ({'; '.join(missing)}); "
                f"defined: {', '.join(sorted(names)) or 'none'}"
            )
        escalations = {e.name for e in self.escalations}
        unknown = [
            f"{loc}.escalation: {name}"
            for loc, name in _route_refs(self.route, "route", "escalation")
            if name not in escalations
        ]
        if unknown:
            raise ValueError(f"unknown escalation ({'; '.join(unknown)})")
        if self.server.host not in LOOPBACK and not self.server.tokens_configured:
            raise ValueError(
                f"server.host {self.server.host} is not a loopback address: configure "
                "server.write_tokens and server.admin_tokens first"
            )
        return self

    def service(self, name: str) -> ServicePolicy:
        """The policy of a service (the defaults when it is not listed)."""
        return self.services.get(name, self.defaults)


def _route_refs(route: RouteConfig, loc: str, field: str) -> list[tuple[str, str]]:
    """(location, name) of every receiver or escalation a routing tree names."""
    value = getattr(route, field)
    out = [(loc, value)] if value else []
    for i, child in enumerate(route.routes):
        out += _route_refs(child, f"{loc}.routes[{i}]", field)
    return out


def _expand(value: Any, where: str, problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                problems.append((where, f"environment variable {name} is not set"))
                return ""
            return os.environ[name]

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: _expand(v, f"{where}.{k}" if where else str(k), problems) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    return value


def location(loc: Sequence[int | str]) -> str:
    """pydantic's error location as people write it: ``receivers[2].webhook.url``.

    >>> location(("receivers", 2, "webhook", "url"))
    'receivers[2].webhook.url'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_config(data: Any, source: str = "config") -> Config:
    """Validate a mapping (the parsed YAML) into a Config, or raise ConfigError listing all."""
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "the file must hold a mapping of settings")])
    problems: list[tuple[str, str]] = []
    data = _expand(data, "", problems)
    if problems:
        raise ConfigError(source, problems)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            source,
            [(location(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()],
        ) from None


def load_config(path: Path | str) -> Config:
    """Read and validate a YAML file; errors name the file and each location."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(
            str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p
        )
        raise ConfigError(
            str(path), [(where, f"not valid YAML: {problem or 'syntax error'}")]
        ) from None
    return parse_config(data, str(path))
