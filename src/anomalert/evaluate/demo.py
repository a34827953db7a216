"""The demo scenario as a third evaluation: the engine's alerts against its labelled incidents.

NAB and SMD are public benchmarks; the demo is the product's own picture of a microservice
fleet (traffic-driven latencies, error shares of few requests at night, a memory sawtooth,
deployments, a maintenance window) with five labelled incidents after a week of history.
What is scored is the engine's decision as ``anomalert demo`` shows it (one alert per
anomaly episode, before the service's policy; told of the deployments' restarts as the
service is, ``detect.restarts``): the share of its alerts that fall inside an
incident or its grace (``demo.run.GRACE``), and the share of incidents it alerts on. A
change that makes the engine page on the shape of a normal day shows here first: the
generator's own 02:00 step (two half Gaussians meeting there, fixed on 2026-12-05) paged on
traffic-driven series every night. Beside it, the same share among the alerts the service
would raise (``served_precision``): an alert inside a planned maintenance window of its own
service is held back by the service (``app``), so nobody is paged for it, though the
engine's share counts it as false (seven in the four scenarios, all in ``db``'s window).

Last, what reaches a person: each scenario replayed through the service itself
(``replay``: the engine, then the policy's hysteresis and ``notify_after``, grouping by
incident, routing, P3 kept on the dashboard), its firing notifications inside an incident
or its grace (``page_precision``) and the incidents it paged (``page_recall``). The engine's
alerts are what a change in detection moves; the pages are what on-call lives with.

The scenarios are generated, so the figures need no dataset; they are the generator's
seeds, not a sample of the world, and a floor on them guards against regressions rather
than measuring how good detection is.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from anomalert.demo.run import Alert, detect_scenario, first_alert_minutes, match
from anomalert.demo.scenario import ScenarioSpec, generate
from anomalert.demo.writer import write_scenario
from anomalert.ingest.scenario import load_scenario
from anomalert.model import ChangeEvent
from anomalert.replay import replay

#: The scenarios ``make eval`` scores: four seeds of three weeks (two weeks of incidents
#: after the first week of history), about a minute on this machine.
SEEDS: tuple[int, ...] = (1, 2, 3, 4)
DAYS = 21


@dataclass(frozen=True)
class DemoSummary:
    """The engine's alerts over the demo scenarios, against their labelled incidents."""

    scenarios: int
    series: int
    days: int
    alerts: int
    #: Alerts inside an incident (or its grace after the end).
    in_incidents: int
    incidents: int
    #: Incidents with at least one alert.
    caught: int
    #: Median minutes from an incident's start to its first alert (None: none caught).
    median_lead_minutes: float | None
    #: Alerts inside a planned maintenance window of their own service (the scenario's
    #: events), which the service holds back, and how many of those are in an incident.
    held: int = 0
    held_in_incidents: int = 0
    #: What reaches a person: the scenario replayed through the service itself
    #: (``replay``: policy, grouping, routing, P3 kept on the dashboard), its firing
    #: notifications, those inside an incident (or its grace), and the incidents paged.
    pages: int = 0
    pages_in_incidents: int = 0
    incidents_paged: int = 0

    @property
    def alert_precision(self) -> float:
        """Share of alerts inside an incident (1.0 without alerts: nothing false)."""
        return self.in_incidents / self.alerts if self.alerts else 1.0

    @property
    def served_precision(self) -> float:
        """The same share among the alerts the service would raise: those outside a
        planned maintenance window of their service (which ``alert_precision`` counts as
        false, though nobody is paged for them)."""
        served = self.alerts - self.held
        return (self.in_incidents - self.held_in_incidents) / served if served else 1.0

    @property
    def page_precision(self) -> float:
        """Share of the service's firing notifications inside an incident (1.0 without)."""
        return self.pages_in_incidents / self.pages if self.pages else 1.0

    @property
    def page_recall(self) -> float:
        """Share of incidents the service paged on."""
        return self.incidents_paged / self.incidents if self.incidents else 1.0

    @property
    def incident_recall(self) -> float:
        """Share of incidents with an alert."""
        return self.caught / self.incidents if self.incidents else 1.0

    @property
    def false_per_series_day(self) -> float:
        """Alerts outside any incident, per series and day."""
        return (self.alerts - self.in_incidents) / max(self.series * self.days, 1)


def score_demo(seeds: Sequence[int] = SEEDS, days: int = DAYS, pages: bool = True) -> DemoSummary:
    """Generate each seed's scenario, write it in the scenario-folder format and read it
    back (the path replay takes), run the engine over it and match its alerts; then
    (``pages``) replay the same folder through the service and count its pages."""
    if not seeds:
        raise ValueError("seeds: expected at least one scenario seed")
    alerts = in_incidents = incidents = caught = series = held = held_in_incidents = 0
    sent = sent_in_incidents = paged = 0
    leads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="anomalert-demo-eval-") as tmp:
        for seed in seeds:
            folder = Path(tmp) / f"seed-{seed}"
            write_scenario(generate(ScenarioSpec(seed=seed, days=days)), folder)
            data = load_scenario(folder)
            found = detect_scenario(data, progress=False)
            matched = match(found, data.incidents)
            alerts += len(found)
            in_incidents += len(found) - len(matched[""])
            events = [e.as_model() for e in data.events]
            for incident, group in matched.items():
                inside = sum(held_back(a, events) for a in group)
                held += inside
                held_in_incidents += inside if incident else 0
            incidents += len(data.incidents)
            series += len(data.samples)
            found_after = list(first_alert_minutes(matched, data.incidents).values())
            leads += [m for m in found_after if m is not None]
            caught += sum(m is not None for m in found_after)
            if pages:
                replayed = replay(folder, Path(tmp) / f"pages-{seed}.jsonl")
                sent += replayed.firing
                sent_in_incidents += replayed.firing - replayed.outside
                paged += replayed.covered
    return DemoSummary(
        scenarios=len(seeds),
        series=series,
        days=days,
        alerts=alerts,
        in_incidents=in_incidents,
        incidents=incidents,
        caught=caught,
        median_lead_minutes=statistics.median(leads) if leads else None,
        held=held,
        held_in_incidents=held_in_incidents,
        pages=sent,
        pages_in_incidents=sent_in_incidents,
        incidents_paged=paged,
    )


def held_back(alert: Alert, events: Sequence[ChangeEvent]) -> bool:
    """Whether the service holds the alert back: it starts inside a maintenance or
    load-test window of its own service (``ChangeEvent.window``, as ``app`` applies it)."""
    t = alert.time.timestamp()
    for event in events:
        span = event.window() if event.service == alert.service else None
        if span is not None and span[0] <= t <= span[1]:
            return True
    return False
