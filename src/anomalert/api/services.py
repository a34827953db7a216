"""Services: rollout mode (and the admin's switch), sensitivity per metric and why, volume,
precision from feedback. What a team reads before trusting a service to page them.

A service is listed when it is configured, has stored alerts, feedback, a runtime setting,
or series in the detector (those have a service label). Each answer is built from a few
aggregate queries (``store.settings``), never one query per alert or per metric.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from anomalert.alert.sensitivity import tune
from anomalert.api.errors import ApiError
from anomalert.api.ingest import JsonRoute
from anomalert.api.params import PathName, PlainText
from anomalert.api.state import get_app, require_admin
from anomalert.app import App
from anomalert.detect.stream import StreamDetector
from anomalert.model import Mode
from anomalert.store import SensitivityRow, ServiceSettingRow
from anomalert.store.settings import AlertStats, Votes, day_starts
from anomalert.timefmt import rfc3339

router = APIRouter(route_class=JsonRoute)

#: Days of alert volume shown (UTC days, the last one holds now).
VOLUME_DAYS = 14
#: The metric name of a service's multivariate record detector.
RECORD_METRIC = "record"


@dataclass
class _SeriesIndex:
    """Metrics per service of the detector's series, updated with the series added since."""

    seen: int = 0
    metrics: dict[str, set[str]] = field(default_factory=dict)
    #: The detector's ``moves`` when this was started: retired series' metrics go with them.
    moves: int = 0


_INDEXES: weakref.WeakKeyDictionary[StreamDetector, _SeriesIndex] = weakref.WeakKeyDictionary()


def detector_metrics(app: App) -> dict[str, set[str]]:
    """Metrics per service of every series the detectors follow (incremental: each call
    reads the series added since, and starts again when slots changed hands, ``moves``)."""
    with app.lock:
        detector = app.detector
        index = _INDEXES.get(detector)
        if index is None or index.moves != detector.moves:
            index = _INDEXES[detector] = _SeriesIndex(moves=detector.moves)
        n = detector.n
        labels, metrics = detector.labels[index.seen : n], detector.metrics[index.seen : n]
        index.seen = n
        for metric, lab in zip(metrics, labels, strict=True):
            service = lab.get("service")
            if service and metric:  # a free slot has neither
                index.metrics.setdefault(service, set()).add(metric)
        out = {s: set(ms) for s, ms in index.metrics.items()}
        for service in app.records.services:
            out.setdefault(service, set()).add(RECORD_METRIC)
        return out


@dataclass
class _Facts:
    """Everything stored about the services asked for, read once."""

    stats: dict[str, list[AlertStats]]
    votes: dict[tuple[str, str], Votes]
    settings: dict[str, ServiceSettingRow]
    sensitivity: dict[tuple[str, str], SensitivityRow]
    series: dict[str, set[str]]

    @classmethod
    def read(cls, app: App, now: float, service: str | None = None) -> _Facts:
        store = app.store
        stats: dict[str, list[AlertStats]] = {}
        for s in store.alert_stats(now, service=service, days=VOLUME_DAYS):
            stats.setdefault(s.service, []).append(s)
        votes = store.feedback_counts(service=service)
        settings = store.service_settings()
        rows = {(r.service, r.metric): r for r in store.sensitivities(service)}
        series = detector_metrics(app)
        if service is not None:
            settings = {k: v for k, v in settings.items() if k == service}
            series = {k: v for k, v in series.items() if k == service}
        return cls(stats, votes, settings, rows, series)

    def names(self, configured: Iterable[str]) -> set[str]:
        names = set(configured) | set(self.settings) | set(self.series)
        names |= set(self.stats)
        names |= {s for s, _ in self.votes} | {s for s, _ in self.sensitivity}
        return {n for n in names if n}


def service_json(app: App, name: str, facts: _Facts, now: float) -> dict[str, Any]:
    """One SERVICE as docs/api.md describes it."""
    policy = app.policy
    configured = policy.configured(name)
    cfg = app.config.services.get(name)
    stats = facts.stats.get(name, [])
    names = {s.metric for s in stats} | set(configured.metrics) | facts.series.get(name, set())
    names |= {m for s, m in facts.votes if s == name}  # feedback: small, unlike alerts
    names |= {m for s, m in facts.sensitivity if s == name}
    metrics = [_metric_json(app, name, m, facts) for m in sorted(n for n in names if n)]
    mine = [v for (s, _), v in facts.votes.items() if s == name]  # alerts without a metric too
    helpful, not_helpful = sum(h for h, _ in mine), sum(n for _, n in mine)
    setting = facts.settings.get(name)
    days = day_starts(now, VOLUME_DAYS)
    return {
        "name": name,
        "mode": policy.service(name).mode,
        "configured_mode": configured.mode,
        "mode_changed_by": setting.updated_by if setting else None,
        "mode_changed_at": rfc3339(setting.updated_at) if setting else None,
        "criticality": configured.criticality,
        "depends_on": list(cfg.depends_on) if cfg is not None else [],
        "labels": dict(configured.labels),
        "adaptive": configured.adaptive,
        "metrics": metrics,
        "feedback": {
            "helpful": helpful,
            "not_helpful": not_helpful,
            "precision": _ratio(helpful, helpful + not_helpful),
        },
        "alerts": {
            "total": sum(s.total for s in stats),
            "firing": sum(s.firing for s in stats),
            "last_7d": sum(s.last_7d for s in stats),
        },
        "volume": [
            {"day": (rfc3339(day) or "")[:10], "count": sum(s.days[i] for s in stats)}
            for i, day in enumerate(days)
        ],
    }


def _metric_json(app: App, service: str, metric: str, facts: _Facts) -> dict[str, Any]:
    eff = app.policy.configured(service).effective(metric)
    row = facts.sensitivity.get((service, metric))
    if row is not None:
        explanation = row.explanation
    else:  # no feedback ever: what the rule says with none
        sens = app.config.sensitivity
        explanation = tune(eff.threshold, 0, 0, sens, adaptive=eff.adaptive).explanation
    helpful, not_helpful = facts.votes.get((service, metric), (0, 0))
    return {
        "metric": metric,
        "threshold": app.policy.threshold(service, metric),
        "base_threshold": eff.threshold,
        "adaptive": eff.adaptive,
        "explanation": explanation,
        "feedback": {"helpful": helpful, "not_helpful": not_helpful},
        "reset_at": rfc3339(row.reset_at) if row is not None else None,
    }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _one(app: App, name: str) -> dict[str, Any]:
    now = app.clock.now()
    facts = _Facts.read(app, now, service=name)
    if name not in facts.names(app.config.services):
        raise ApiError(404, f"no service named {name!r}", "service")
    return service_json(app, name, facts, now)


@router.get("/api/v1/services")
def list_services(request: Request) -> dict[str, Any]:
    """Every service known (configured, alerted on, followed by the detector), by name."""
    app = get_app(request)
    now = app.clock.now()
    facts = _Facts.read(app, now)
    names = sorted(facts.names(app.config.services))
    return {"services": [service_json(app, n, facts, now) for n in names]}


@router.get("/api/v1/services/{name}")
def get_service(request: Request, name: PathName) -> dict[str, Any]:
    """One service."""
    return _one(get_app(request), name)


class ModeBody(BaseModel):
    """The rollout mode to switch to (null: back to the configured one), and who does."""

    model_config = ConfigDict(extra="forbid")
    mode: Mode | None
    by: PlainText = Field(default="api", min_length=1, max_length=200)


@router.put("/api/v1/services/{name}/mode", dependencies=[Depends(require_admin)])
def put_mode(request: Request, name: PathName, body: ModeBody) -> dict[str, Any]:
    """Switch a service's mode at runtime (any service name: unlisted ones use defaults)."""
    app = get_app(request)
    if not name.strip():
        raise ApiError(400, "a service name is required", "service")
    app.set_mode(name, body.mode, body.by)
    return _one(app, name)


class ResetBody(BaseModel):
    """Who resets (optional)."""

    model_config = ConfigDict(extra="forbid")
    by: PlainText = Field(default="api", min_length=1, max_length=200)


@router.post(
    "/api/v1/services/{name}/metrics/{metric}/sensitivity/reset",
    dependencies=[Depends(require_admin)],
)
def reset_sensitivity(
    request: Request, name: PathName, metric: PathName, body: ResetBody | None = None
) -> dict[str, Any]:
    """Back to the configured threshold: feedback given before now stops counting."""
    app = get_app(request)
    _one(app, name)  # 404 for a service nobody knows
    app.reset_sensitivity(name, metric, (body or ResetBody()).by)
    return _one(app, name)
