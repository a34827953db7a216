"""``anomalert replay``: the whole pipeline over a scenario folder, on event time.

The clock follows the data: samples are ingested timestamp by timestamp, change events
enter at their own time, and after each timestamp the app ticks (resolves, rules, group
flushes) and delivers. Every notification is written to one JSON-lines file; no external
receiver is called (a replay must never page anyone), so each receiver of the config is
replaced by a JSONL writer that keeps its name.

Samples are what the live service would make of a sender without metadata: a metric named
as a counter (``ingest.counters``: ``*_total``, ``*_count``, ``*_sum``, ``*_bucket`` by
default) is a running total and is followed as its per-second rate, so a replay pages where
the service would and not at every restart of a counted process.

It is how teams evaluate a config on past data, how the demo and acceptance tests run, and
how noise is measured: the summary compares notifications with the labelled incidents.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomalert.app import App, EventClock
from anomalert.config import Config, parse_config
from anomalert.ingest.counters import check_patterns
from anomalert.ingest.scenario import ScenarioData, load_scenario
from anomalert.model import ChangeEvent, Sample
from anomalert.notify.receivers.jsonl import JsonlReceiver
from anomalert.store import Store

#: A notification this long after an incident ends still counts as that incident's.
GRACE = timedelta(minutes=15)
EPOCH = pd.Timestamp(0, tz="UTC")


def default_config(data: ScenarioData) -> Config:
    """Without ``--config``: every service alerting at default sensitivity, one receiver."""
    services = sorted({svc for svc, _ in data.samples})
    return parse_config(
        {
            "services": {s: {"depends_on": list(data.graph.get(s, ()))} for s in services},
            "route": {
                "receiver": "replay",
                "group_by": ["incident"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
            },
            "receivers": [{"name": "replay", "log": {}}],
        },
        "replay defaults",
    )


def with_counters(config: Config, patterns: Iterable[str]) -> Config:
    """The config with ``patterns`` as its ``ingest.counters``: a replay may try other names
    for counters without editing the file (ValueError for an empty pattern, as the file's
    own validation would say)."""
    ingest = config.ingest.model_copy(update={"counters": check_patterns(patterns)})
    return config.model_copy(update={"ingest": ingest})


def timeline(
    data: ScenarioData, is_counter: Callable[[str], bool] | None = None
) -> Iterator[tuple[float, list[Sample]]]:
    """The scenario's samples grouped by timestamp, in time order.

    ``is_counter(metric)`` (the app's ``counter_names``) marks a series' samples as a
    counter's running total, as the service would mark them; None: every series a gauge.
    """
    rows: dict[float, list[Sample]] = {}
    for (service, metric), series in sorted(data.samples.items()):
        times = (pd.DatetimeIndex(series.index) - EPOCH).total_seconds().to_numpy()
        labels = {"service": service}
        counter = is_counter is not None and is_counter(metric)
        for t, v in zip(times.tolist(), series.to_numpy(dtype=float).tolist(), strict=True):
            rows.setdefault(t, []).append(Sample(metric, labels, t, v, counter))
    for t in sorted(rows):
        yield t, rows[t]


def change_events(data: ScenarioData) -> list[ChangeEvent]:
    """The scenario's events as the service's ChangeEvent (unix times), by time."""
    return sorted(
        (e.as_model() for e in data.events),
        key=lambda e: e.timestamp,
    )


@dataclass(frozen=True)
class Summary:
    """How the notifications line up with the labelled incidents."""

    anomalies: int
    alerts: int
    notifications: int
    firing: int
    incidents: int
    covered: int
    per_incident: dict[str, int]
    groups_per_incident: dict[str, int]
    outside: int

    def lines(self) -> list[str]:
        """The summary as printed by the CLI."""
        rate = f"{self.covered}/{self.incidents}" if self.incidents else "n/a (no incidents)"
        out = [
            f"anomalies raised: {self.anomalies}",
            f"alerts: {self.alerts}",
            f"notifications: {self.notifications} ({self.firing} firing)",
            f"incidents covered: {rate}",
        ]
        for inc, count in self.per_incident.items():
            groups = self.groups_per_incident.get(inc, 0)
            out.append(f"  {inc}: {groups} notification group(s), {count} firing notification(s)")
        out.append(f"pages outside any incident: {self.outside}")
        return out


def replay(
    folder: Path,
    notifications: Path,
    config: Config | None = None,
    db_url: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    pace: Callable[[float], None] | None = None,
    counters: Iterable[str] | None = None,
) -> Summary:
    """Run the scenario through a fresh app; notifications go to ``notifications`` (JSONL).

    ``progress(done, total)`` is called as timestamps go by; ``pace(t)`` (the demo) may sleep
    to play the data at a chosen speed. ``counters`` (name patterns) replace the config's
    ``ingest.counters`` for this replay.
    """
    data = load_scenario(folder)
    config = config or default_config(data)
    if counters is not None:
        config = with_counters(config, counters)
    notifications.parent.mkdir(parents=True, exist_ok=True)
    notifications.write_text("")
    receivers: dict[str, list[Any]] = {
        r.name: [JsonlReceiver(notifications, name=r.name)] for r in config.receivers
    }
    with tempfile.TemporaryDirectory(prefix="anomalert-replay-") as tmp:
        store = Store.open(db_url or f"sqlite:///{tmp}/replay.db")
        try:
            app = App(config, store, clock=EventClock(), receivers=receivers)
            run(app, data, progress=progress, pace=pace)
            anomalies = len(store.anomalies(limit=10_000_000))
            alerts = store.count_alerts()
        finally:
            store.close()
    return summarize(data, notifications, anomalies, alerts)


def run(
    app: App,
    data: ScenarioData,
    progress: Callable[[int, int], None] | None = None,
    pace: Callable[[float], None] | None = None,
) -> None:
    """Feed a scenario into an app on event time (the clock must be an EventClock); its
    counters are told by the app's ``counter_names``, as its remote_write samples are."""
    clock = app.clock
    assert isinstance(clock, EventClock)
    events = change_events(data)
    steps = list(timeline(data, app.counter_names))
    e = 0
    for k, (t, samples) in enumerate(steps):
        if pace is not None:
            pace(t)
        clock.advance(t)
        while e < len(events) and events[e].timestamp <= t:
            app.add_events([events[e]])
            e += 1
        app.ingest(samples, "replay")
        app.tick()
        app.deliver()
        if progress is not None:
            progress(k + 1, len(steps))
    # Let the last groups flush and resolves go out: move past the longest waits.
    last = steps[-1][0] if steps else clock.now()
    for extra in np.arange(60.0, 3 * 3600.0 + 1, 60.0):
        clock.advance(last + float(extra))
        app.tick()
        app.deliver()
    app.checkpoint()


def summarize(data: ScenarioData, path: Path, anomalies: int, alerts: int) -> Summary:
    """Count notifications per labelled incident (firing ones, by time and service)."""
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    firing = [n for n in lines if n["status"] == "firing"]
    per: dict[str, int] = {inc.id: 0 for inc in data.incidents}
    groups: dict[str, set[tuple[str, str]]] = {inc.id: set() for inc in data.incidents}
    outside = 0
    for n in firing:
        t = _parse_time(n["time"])
        hit = next(
            (
                inc.id
                for inc in data.incidents
                if inc.start.timestamp() <= t <= (inc.end + GRACE).timestamp()
            ),
            None,
        )
        if hit is None:
            outside += 1
        else:
            per[hit] += 1
            groups[hit].add((n["receiver"], n.get("group_key", "")))
    covered = sum(1 for v in per.values() if v)
    return Summary(
        anomalies=anomalies,
        alerts=alerts,
        notifications=len(lines),
        firing=len(firing),
        incidents=len(data.incidents),
        covered=covered,
        per_incident=per,
        groups_per_incident={k: len(v) for k, v in groups.items()},
        outside=outside,
    )


def _parse_time(value: Any) -> float:
    from datetime import datetime

    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
