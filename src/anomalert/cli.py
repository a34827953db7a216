"""The command line: a thin layer over the library (parsing, exit codes, progress)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anomalert.ingest.jsonin import one_line
from anomalert.report.cli import incidents_app, report_app

if TYPE_CHECKING:
    from anomalert.config import Config

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="anomalert: few, trustworthy, self-explaining alerts.",
)


@app.callback()
def _root() -> None:
    """anomalert: few, trustworthy, self-explaining alerts."""


#: Exit status for bad input, per the CLI contract (one line on stderr per problem).
EXIT_BAD_INPUT = 2


@app.command()
def detect(
    # Not checked by click (readable=False, writable=False): its usage box would be five
    # lines; detect_path names every problem of a path in one line.
    path: Annotated[
        Path,
        typer.Argument(help="A CSV or Parquet file, or a folder of them.", readable=False),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Folder for the results.", readable=False),
    ],
    progress: Annotated[
        bool,
        typer.Option(help="Show a progress bar (for folders, and files of 100,000 rows or more)."),
    ] = True,
    min_age: Annotated[
        str | None,
        typer.Option(
            "--min-age",
            help="How long a series is followed before it may alert, e.g. 6h or 0s "
            "(default 2d: its daily shape cannot be told from an anomaly before).",
        ),
    ] = None,
    timezone: Annotated[
        str,
        typer.Option(
            "--timezone",
            help="The time zone whose wall clock the series' days and weeks follow, e.g. "
            "Europe/Berlin (default UTC): business hours at 09:00 local time stay at 09:00 "
            "when clocks change. Timestamps without a UTC offset are read in it.",
        ),
    ] = "UTC",
    counters: Annotated[
        list[str] | None,
        typer.Option(
            "--counters",
            help="Columns that are counters (running totals that drop to zero at a restart), "
            "as a name or a pattern such as '*_total'; repeatable. They are scored on their "
            "per-second rate, as Prometheus' rate() reads them.",
        ),
    ] = None,
) -> None:
    """Score CSV or Parquet files causally: adds anomaly_score, is_anomaly and reason
    columns."""
    from dataclasses import replace

    from anomalert.configbase import parse_duration
    from anomalert.detect.engine import Settings
    from anomalert.detect.files import DRIFT_FILE, detect_path
    from anomalert.ingest.counters import CounterNames, check_patterns

    settings = None
    if min_age is not None:
        try:
            settings = Settings(min_age=parse_duration(min_age))
        except ValueError as exc:
            typer.echo(f"error: --min-age: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    if timezone != "UTC":
        try:
            settings = replace(settings or Settings(), timezone=timezone)
        except ValueError as exc:
            typer.echo(f"error: --timezone: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    names = None
    if counters:
        try:
            names = CounterNames(check_patterns(counters))
        except ValueError as exc:
            typer.echo(f"error: --counters: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    errors = detect_path(path, output, progress=progress, settings=settings, counters=names)
    drift = output / DRIFT_FILE
    if drift.exists():
        typer.echo(f"note: input drift was seen and models refitted; see {drift}", err=True)
    for line in errors:
        typer.echo(f"error: {one_line(line)}", err=True)
    if errors:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def live_demo(
    folder: Annotated[Path, typer.Option(help="Where to write the scenario and database.")] = Path(
        "demo-output"
    ),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8080,
    speed: Annotated[
        float, typer.Option(min=1.0, help="Simulated seconds per real second (incident week).")
    ] = 1200.0,
    days: Annotated[
        int, typer.Option(min=9, help="Days to simulate (a week of history, then incidents).")
    ] = 14,
    step: Annotated[
        int, typer.Option(min=10, help="Seconds between samples of the generated scenario.")
    ] = 60,
) -> None:
    """Start the service on the demo scenario, replayed in accelerated time (make run)."""
    from anomalert.demo.live import run_live_demo
    from anomalert.logs import setup_logging

    setup_logging(json_lines=False, level=30)
    run_live_demo(folder, port=port, speed=speed, days=days, step=step)


@app.command()
def demo(
    folder: Annotated[Path, typer.Option(help="Where to write the scenario.")] = Path(
        "demo-output/scenario"
    ),
    seed: Annotated[int, typer.Option(help="Scenario seed (same seed, same data).")] = 7,
    days: Annotated[
        int, typer.Option(min=9, help="Days to simulate (incidents after day 7).")
    ] = 14,
) -> None:
    """Generate the demo scenario and show the alerts detection would raise on it."""
    from anomalert.demo.run import run_demo

    run_demo(folder, seed=seed, days=days)


def _config_or_exit(path: Path | None) -> Config | None:
    """Load a config, or print each problem on one line and exit 2."""
    from anomalert.config import load_config
    from anomalert.errors import ConfigError

    if path is None:
        return None
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command("check-config")
def check_config(file: Annotated[Path, typer.Argument(help="The YAML config file.")]) -> None:
    """Validate a config file: every problem with its location, exit 2 when there is one."""
    config = _config_or_exit(file)
    assert config is not None
    typer.echo(
        f"{file}: ok ({len(config.services)} services, {len(config.receivers)} receivers, "
        f"{len(config.inhibit_rules)} inhibit rules, {len(config.escalations)} escalations)"
    )


routes_app = typer.Typer(help="Explore the routing tree of a config.", no_args_is_help=True)
app.add_typer(routes_app, name="routes")


@routes_app.command("test")
def routes_test(
    file: Annotated[Path, typer.Argument(help="The YAML config file.")],
    labels: Annotated[list[str], typer.Argument(help="Labels as name=value.")],
) -> None:
    """Which receivers an alert with these labels would reach."""
    from anomalert.alert.route import Route
    from anomalert.alert.route import routes_test as match_routes

    config = _config_or_exit(file)
    assert config is not None
    parsed: dict[str, str] = {}
    for item in labels:
        name, sep, value = item.partition("=")
        if not sep or not name:
            typer.echo(f"error: {item!r} is not name=value", err=True)
            raise typer.Exit(EXIT_BAD_INPUT)
        parsed[name] = value
    for receiver in match_routes(Route.build(config.route), parsed):
        typer.echo(receiver)


export_app = typer.Typer(help="Export parts of the config for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("prometheus-rules")
def export_prometheus_rules(
    file: Annotated[Path, typer.Argument(help="The YAML config file.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Recording and alerting rules for the config's dynamic-threshold and SLO rules."""
    from anomalert.alert.promrules import export_prometheus_rules as export

    config = _config_or_exit(file)
    assert config is not None
    text = export(config.rules)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)


@app.command()
def replay(
    folder: Annotated[Path, typer.Argument(help="A scenario folder (samples/, events.json...).")],
    notifications: Annotated[
        Path, typer.Option("--notifications", help="Write every notification here (JSONL).")
    ],
    config: Annotated[Path | None, typer.Option("--config", help="The YAML config.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    counters: Annotated[
        list[str] | None,
        typer.Option(
            "--counters",
            help="Metrics that are counters (running totals that drop to zero at a restart), "
            "as a name or a pattern such as '*_total'; repeatable. They are followed as their "
            "per-second rate, as the service does. Replaces the config's ingest.counters "
            "(default '*_total', '*_count', '*_sum', '*_bucket').",
        ),
    ] = None,
) -> None:
    """Run the whole pipeline over past data on event time; notifications to a JSONL file."""
    from rich.progress import Progress

    from anomalert.errors import InputError
    from anomalert.ingest.counters import check_patterns
    from anomalert.replay import replay as run_replay

    cfg = _config_or_exit(config)
    patterns = None
    if counters:
        try:
            patterns = check_patterns(counters)
        except ValueError as exc:
            typer.echo(f"error: --counters: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
    if not folder.is_dir():
        typer.echo(f"error: {folder}: not a scenario folder", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("replaying", total=None)
            summary = run_replay(
                folder,
                notifications,
                config=cfg,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                counters=patterns,
            )
    except InputError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    for line in summary.lines():
        typer.echo(line)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", help="The YAML config file.")],
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: the config's storage.url).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Listen address (default: the config's).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the config's).")] = None,
) -> None:
    """Start the service: API, detection, alerting and delivery in one process."""
    from anomalert.logs import setup_logging
    from anomalert.service import build, serve

    cfg = _config_or_exit(config)
    assert cfg is not None
    host = host or cfg.server.host
    if host not in ("127.0.0.1", "localhost", "::1") and not cfg.server.tokens_configured:
        typer.echo(
            f"error: refusing to listen on {host} without tokens; set server.write_tokens "
            "and server.admin_tokens",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    setup_logging()
    # The listening address is part of the config from here on: links in notifications
    # (server.external_url unset) point where the service really listens.
    server = cfg.server.model_copy(update={"host": host, "port": port or cfg.server.port})
    cfg = cfg.model_copy(update={"server": server})
    serve(build(cfg, db), server.host, server.port)


# The reports (shadow-mode readiness, weekly audit) and labelled incidents: anomalert/report/cli.py.
app.add_typer(report_app, name="report")
app.add_typer(incidents_app, name="incidents")


def main() -> None:
    """Entry point of the ``anomalert`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
