"""``make run`` until the service exists: detection over the demo scenario, alerts printed.

Generates the seeded scenario (five services, a week of history, then five incidents),
writes it in the scenario-folder format, reads it back through the same loader replay will
use, runs every series through one ``BatchEngine`` tick by tick (a progress bar over the
simulated time), and prints each alert the engine would raise with its reason, then how the
alerts line up with the labelled incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from anomalert.detect.engine import BatchEngine, Episodes, Settings
from anomalert.detect.forecast import ForecastDetector
from anomalert.detect.reason import explain
from anomalert.detect.registry import SERVICE_UNIVARIATE
from anomalert.detect.restarts import RESTART_KINDS, RestartConfig, Restarts
from anomalert.detect.seasonal import SeasonalDetector
from anomalert.ingest.scenario import IncidentLabel, ScenarioData, load_scenario
from anomalert.model import Kind

#: Metrics with a hard ceiling, for the predicted-breach forecast.
LIMITS = {"memory_percent": 100.0, "cpu_percent": 100.0}
#: An alert this long after an incident ends still counts as that incident's.
GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Alert:
    """One alert the engine would raise: which series, when, how bad, why."""

    service: str
    metric: str
    time: datetime
    score: float
    kind: Kind
    reason: str


def detect_scenario(
    data: ScenarioData, settings: Settings | None = None, progress: bool = True
) -> list[Alert]:
    """Run every series of a scenario through one engine; one alert per anomaly episode.

    The scenario's deployments and rollbacks restart their service's processes, as the
    service is told of them (``App.add_events``): a fall of a metric a restart resets is
    explained right after one (``detect.restarts``)."""
    settings = settings or Settings(univariate=SERVICE_UNIVARIATE)
    keys = sorted(data.samples)
    frame = {k: data.samples[k] for k in keys}
    index = sorted(set().union(*(s.index for s in frame.values())))
    grid = {ts: i for i, ts in enumerate(index)}
    n, ticks = len(keys), len(index)
    x_all = np.full((ticks, n), np.nan)
    for j, key in enumerate(keys):
        rows = [grid[ts] for ts in frame[key].index]
        x_all[rows, j] = frame[key].to_numpy(dtype=float)
    times = np.array([ts.timestamp() for ts in index])

    engine = BatchEngine(n, settings)
    for det in engine.series.detectors:
        if isinstance(det, ForecastDetector):
            det.set_limits(np.array([LIMITS.get(metric, np.nan) for _, metric in keys]))
    seasonal = next(d for d in engine.series.detectors if isinstance(d, SeasonalDetector))

    restart = RestartConfig()
    events = sorted(
        (e.as_model() for e in data.events if e.kind in RESTART_KINDS), key=lambda e: e.timestamp
    )
    restarts, e = Restarts(), 0
    alerts: list[Alert] = []
    episodes = Episodes(n, settings.cooldown)
    steps = range(ticks)
    for k in track(steps, description="replaying", disable=not progress, transient=True):
        t = np.full(n, times[k])
        while e < len(events) and events[e].timestamp <= times[k]:
            restarts.open(events[e].service, events[e].timestamp, restart, keys)
            e += 1
        s = engine.step(t, x_all[k], restarting=restarts.mask(t)).series
        if restarts.windows:
            restarts.settle(t, engine.series.quiet)
        fire = episodes.fire(k, s.flagged)
        for jj in np.flatnonzero(fire):
            j = int(jj)
            service, metric = keys[j]
            period = float(seasonal.period(t[j : j + 1])[0])
            reason = explain(
                metric,
                float(x_all[k, j]),
                times[k],
                Kind(int(s.kind[j])),
                float(s.expected[j]),
                float(s.lower[j]),
                float(s.upper[j]),
                float(s.detail[j]),
                period > 0,
            )
            alerts.append(
                Alert(
                    service,
                    metric,
                    index[k].to_pydatetime(),
                    float(s.score[j]),
                    Kind(int(s.kind[j])),
                    f"{service}: {reason}",
                )
            )
    return alerts


def match(alerts: list[Alert], incidents: tuple[IncidentLabel, ...]) -> dict[str, list[Alert]]:
    """Alerts per incident id (within the incident or its grace), '' for the rest."""
    out: dict[str, list[Alert]] = {inc.id: [] for inc in incidents}
    out[""] = []
    for alert in alerts:
        hit = next((inc.id for inc in incidents if inc.start <= alert.time <= inc.end + GRACE), "")
        out[hit].append(alert)
    return out


def first_alert_minutes(
    matched: dict[str, list[Alert]], incidents: tuple[IncidentLabel, ...]
) -> dict[str, float | None]:
    """Per incident id, minutes from its start to its first alert (None: missed), from
    ``match``'s alerts per incident."""
    return {
        inc.id: (matched[inc.id][0].time - inc.start).total_seconds() / 60.0
        if matched[inc.id]
        else None
        for inc in incidents
    }


def run_demo(folder: Path, seed: int = 7, days: int = 14, console: Console | None = None) -> int:
    """Generate, detect, print; returns the number of alerts outside any incident."""
    from anomalert.demo.scenario import ScenarioSpec, generate
    from anomalert.demo.writer import write_scenario

    console = console or Console()
    write_scenario(generate(ScenarioSpec(seed=seed, days=days)), folder)
    data = load_scenario(folder)
    console.print(
        f"scenario written to [bold]{folder}[/]: {len(data.samples)} series, "
        f"{len(data.events)} change events, {len(data.incidents)} labelled incidents"
    )
    alerts = detect_scenario(data)
    table = Table(title="alerts the engine would raise")
    for col in ("time (UTC)", "score", "kind", "reason"):
        table.add_column(col)
    for a in alerts:
        table.add_row(a.time.strftime("%a %m-%d %H:%M"), f"{a.score:.2f}", a.kind.label, a.reason)
    console.print(table)
    matched = match(alerts, data.incidents)
    summary = Table(title="alerts against the labelled incidents")
    for col in ("incident", "type", "root service", "start", "alerts", "first alert after"):
        summary.add_column(col)
    leads = first_alert_minutes(matched, data.incidents)
    for inc in data.incidents:
        minutes = leads[inc.id]
        lead = "missed" if minutes is None else f"{minutes:.0f} min"
        summary.add_row(
            inc.id,
            inc.type,
            inc.root_service,
            inc.start.strftime("%a %H:%M"),
            str(len(matched[inc.id])),
            lead,
        )
    console.print(summary)
    covered = sum(1 for m in leads.values() if m is not None)
    console.print(
        f"{len(alerts)} alerts; incidents covered {covered}/{len(data.incidents)}; "
        f"alerts outside any incident: {len(matched[''])}"
    )
    return len(matched[""])
