"""``anomalert report shadow|audit`` and ``anomalert incidents import``: the reports at a
terminal, over the same store the service uses.

Thin like the rest of the CLI: options are parsed here, the reports come from
:mod:`anomalert.report.gather` (so ``--json`` prints exactly what the API answers), and bad
input (an unreadable file, a bad time, a store that does not open) exits 2 with one line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from anomalert.config import Config
    from anomalert.report.audit import AuditReport
    from anomalert.report.shadow import ShadowReport
    from anomalert.store import Store

report_app = typer.Typer(
    help="Reports: shadow-mode readiness, weekly alert audit.", no_args_is_help=True
)
incidents_app = typer.Typer(help="Labelled incidents (what really happened).", no_args_is_help=True)

#: Pages listed per service in the human output (all of them with --json).
PAGES_SHOWN = 20

ConfigOpt = Annotated[Path, typer.Option("--config", help="The YAML config file.")]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: the config's storage.url).")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="End (RFC 3339 or unix seconds; default now).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of tables.")]


def _fail(message: str) -> typer.Exit:
    from anomalert.cli import EXIT_BAD_INPUT

    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _config(path: Path) -> Config:
    from anomalert.cli import _config_or_exit

    config = _config_or_exit(path)
    assert config is not None
    return config


def _time(option: str, value: str | None, default: float | None) -> float | None:
    from anomalert.report.incidents_file import parse_time

    if value is None:
        return default
    try:
        return parse_time(value)
    except ValueError as exc:
        raise _fail(f"{option} {value!r}: {exc}") from None


@contextmanager
def _store(url: str) -> Iterator[Store]:
    from anomalert.store import Store

    try:
        store = Store.open(url)
    except Exception as exc:  # a bad URL, an unreachable server, an unwritable path
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(f"cannot open the store {url}: {first}") from None
    try:
        yield store
    finally:
        store.close()


def _import_file(store: Store, path: Path) -> list[int]:
    """Import a CSV/JSON incidents file; each rejected item on its own stderr line."""
    from anomalert.errors import FieldError
    from anomalert.report.gather import import_incidents
    from anomalert.report.incidents_file import format_of, parse_incidents

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"{path}: cannot read it ({exc})") from None
    fmt = format_of(path.name)
    try:
        parsed = parse_incidents(text, fmt)
    except FieldError as exc:
        raise _fail(f"{path}: {exc.problem}") from None
    for err in parsed.errors:
        typer.echo(f"warning: {path}: {err} (skipped)", err=True)
    if not parsed.items:
        raise _fail(f"{path}: no valid incident to import")
    return import_incidents(store, parsed.items, fmt, time.time(), from_file=True)


@incidents_app.command("import")
def incidents_import(
    file: Annotated[Path, typer.Argument(help="A CSV or JSON file of incidents.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="The YAML config file (for its store).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Import labelled incidents (start and end times) from a CSV or JSON file."""
    if db is None:
        if config is None:
            raise _fail("give --config or --db: where to store the incidents")
        db = _config(config).storage.url
    with _store(db) as store:
        ids = _import_file(store, file)
    typer.echo(f"{file}: {len(ids)} incident(s) imported")


@report_app.command("shadow")
def report_shadow(
    config: ConfigOpt,
    db: DbOpt = None,
    incidents: Annotated[
        Path | None,
        typer.Option("--incidents", help="Import this CSV/JSON file of incidents first."),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", help="A service to report on (repeat; default: shadow ones)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Start (default: the oldest stored alert).")
    ] = None,
    until: UntilOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Alerts against labelled incidents: precision, recall, lead time, readiness."""
    from anomalert.report.gather import gather_shadow

    cfg = _config(config)
    start = _time("--since", since, None)
    end = _time("--until", until, time.time())
    assert end is not None
    with _store(db or cfg.storage.url) as store:
        if incidents is not None:
            _import_file(store, incidents)
        report = gather_shadow(store, cfg, until=end, services=service, since=start)
    if as_json:
        _print_json(report.to_json())
    else:
        _print_shadow(report)


@report_app.command("audit")
def report_audit(
    config: ConfigOpt,
    db: DbOpt = None,
    until: UntilOpt = None,
    days: Annotated[float, typer.Option("--days", min=0.01, max=366, help="Days audited.")] = 7.0,
    as_json: JsonOpt = False,
) -> None:
    """The week's alerts: which were mostly ignored (noisy), and what to change."""
    from anomalert.report.gather import config_thresholds, gather_audit

    cfg = _config(config)
    end = _time("--until", until, time.time())
    assert end is not None
    with _store(db or cfg.storage.url) as store:
        report = gather_audit(store, end, days, config_thresholds(store, cfg), cfg.clock_of())
    if as_json:
        _print_json(report.to_json())
    else:
        _print_audit(report)


def _print_json(doc: dict[str, Any]) -> None:
    typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _console() -> Console:
    """Rich at the terminal's width; 160 columns into a file or pipe, so rows stay whole."""
    import sys

    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _table(*columns: str) -> Table:
    from rich.table import Table

    return Table(*columns, header_style="bold")


def _print_shadow(report: ShadowReport) -> None:
    from rich.text import Text

    console = _console()
    out = report.to_json()
    console.print(Text(f"Shadow-mode report, {out['since'] or 'all data'} to {out['until']}"))
    if not report.services:
        console.print("No service is in shadow mode; name services with --service.")
        return
    table = _table(
        "service",
        "mode",
        "alerts",
        "would page",
        "false pages",
        "precision (pages)",
        "precision (alerts)",
        "incidents",
        "detected",
        "recall",
        "median lead (min)",
    )
    for s in report.services:
        table.add_row(
            Text(s.service),
            s.mode,
            str(s.alerts),
            str(s.would_page),
            str(s.false_pages),
            _fmt(s.precision_pages),
            _fmt(s.precision_alerts),
            str(s.incidents),
            str(s.detected),
            _fmt(s.recall),
            _fmt(s.median_lead_time_minutes, 1),
        )
    console.print(table)
    for s in report.services:
        console.print(Text.assemble((s.service, "bold"), ": ", s.verdict))
        if not s.pages:
            continue
        pages = _table("time", "metric", "severity", "score", "incident", "summary")
        for p in s.pages[:PAGES_SHOWN]:
            pages.add_row(
                p.to_json()["time"],
                Text(p.metric or p.alertname),
                p.severity,
                f"{p.score:.2f}",
                Text(p.incident or "false page"),
                Text(p.summary),
            )
        console.print(pages)
        if len(s.pages) > PAGES_SHOWN:
            console.print(f"... and {len(s.pages) - PAGES_SHOWN} more pages (--json lists all)")
    console.print(Text(f"Rule: {report.rule}."))


def _print_audit(report: AuditReport) -> None:
    from rich.text import Text

    console = _console()
    out = report.to_json()
    console.print(
        f"Alert audit, {out['since']} to {out['until']}: "
        f"{len(report.groups)} group(s), {report.noisy} noisy"
    )
    if not report.groups:
        console.print("No alerts in this period.")
        return
    table = _table(
        "service",
        "metric",
        "alertname",
        "alerts",
        "notified",
        "acked",
        "helpful",
        "not helpful",
        "ignored",
        "noisy",
        "suggestion",
    )
    for g in report.groups:
        ratio = "-" if g.ignored_ratio is None else f"{g.ignored} ({g.ignored_ratio:.0%})"
        table.add_row(
            Text(g.service),
            Text(g.metric or "-"),
            Text(g.alertname),
            str(g.alerts),
            str(g.notified),
            str(g.acknowledged),
            str(g.helpful),
            str(g.not_helpful),
            ratio,
            "NOISY" if g.noisy else "",
            Text(g.suggestion or ""),
        )
    console.print(table)
