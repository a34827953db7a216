"""``make run``: the service on 127.0.0.1:8080, replaying the demo scenario in accelerated time.

The scenario (a week of history, then a week with five incidents) is generated, then fed
into the running service on the data's own clock: the history as fast as the engine goes
(it must learn each service's daily and weekly shape), then, from shortly before the first
incident, at ``speed`` times real time, so a newcomer sees the first notifications arrive
in the terminal (the demo's receivers are log receivers) and in the API within a minute.
The service keeps running after the data ends, for the API to be explored.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import httpx
from rich.console import Console

from anomalert.app import App, EventClock
from anomalert.config import Config, parse_config
from anomalert.ingest.scenario import load_scenario
from anomalert.notify.config import build_receivers
from anomalert.replay import run
from anomalert.service import serve
from anomalert.store import Store

log = logging.getLogger("anomalert.demo")

#: Simulated seconds per real second once the incidents week starts.
DEFAULT_SPEED = 1200.0
#: The fast-forward stops this long before the first labelled incident.
LEAD_IN = 1800.0


def demo_config() -> Config:
    """The bundled demo configuration."""
    import yaml

    text = resources.files("anomalert.demo").joinpath("demo.yaml").read_text()
    return parse_config(yaml.safe_load(text), "demo.yaml")


class Pacer:
    """Fast until ``start``, then ``speed`` simulated seconds per real second."""

    def __init__(self, start: float, speed: float) -> None:
        self.start = start
        self.speed = speed
        self.wall0: float | None = None

    def __call__(self, t: float) -> None:
        if t < self.start:
            return
        if self.wall0 is None:
            self.wall0 = time.monotonic()
        due = self.wall0 + (t - self.start) / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def run_live_demo(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    speed: float = DEFAULT_SPEED,
    days: int = 14,
    step: int = 60,
) -> None:
    """Generate the scenario, start the service, feed it; serve until interrupted.

    ``days`` and ``step`` (seconds between samples) shrink the scenario: the dashboard's
    browser tests use 9 days at 300 s, so a test suite does not wait for the whole week.
    """
    from anomalert.demo.scenario import ScenarioSpec, generate
    from anomalert.demo.writer import write_scenario

    console = Console(stderr=True)
    write_scenario(generate(ScenarioSpec(days=days, step_seconds=step)), folder / "scenario")
    data = load_scenario(folder / "scenario")
    config = demo_config()
    server = config.server.model_copy(update={"host": host, "port": port})
    config = config.model_copy(update={"server": server})  # links point where it listens
    db = folder / "anomalert.db"
    for leftover in folder.glob("anomalert.db*"):
        leftover.unlink()  # a fresh demo every time
    store = Store.open(f"sqlite:///{db}")
    receivers = build_receivers(
        config.receivers,
        httpx.Client(timeout=10.0),
        stream=sys.stdout,
        external_url=config.server.link_base,
    )
    app = App(config, store, clock=EventClock(), receivers=receivers)
    first = min((i.start.timestamp() for i in data.incidents), default=0.0)
    pacer = Pacer(first - LEAD_IN, speed)

    def feed() -> None:
        console.print(
            f"[bold]anomalert demo[/]: {len(data.samples)} series of 5 services; learning a "
            "week of history first (a few seconds) ..."
        )
        started = [False]

        def pace(t: float) -> None:
            if t >= pacer.start and not started[0]:
                started[0] = True
                console.print(
                    f"history learned; now playing the incident week at {speed:.0f}x. "
                    f"Dashboard: http://{host}:{port}/  API: /api/v1/alerts  metrics: /metrics"
                )
            pacer(t)

        try:
            run(app, data, pace=pace)
        except Exception:
            log.exception("demo feed failed")
            return
        # The on-call labels the week's incidents afterwards: the shadow-mode report
        # (/reports/shadow) compares the shadow service's would-be pages with them.
        with app.lock:
            store.add_labelled_incidents(
                [
                    {
                        "external_id": i.id,
                        "service": i.root_service,
                        "title": i.type.replace("_", " "),
                        "start": i.start.timestamp(),
                        "end": i.end.timestamp(),
                        "source": "scenario",
                    }
                    for i in data.incidents
                ],
                app.clock.now(),
            )
        console.print(
            f"demo data finished; {len(data.incidents)} incidents labelled for the shadow "
            "report; the service keeps running (Ctrl-C to stop)"
        )

    feeder = threading.Thread(target=feed, name="demo-feed", daemon=True)
    serve(app, host, port, on_ready=feeder.start)
