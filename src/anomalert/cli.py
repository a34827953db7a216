"""The command line: a thin layer over the library (parsing, exit codes, progress)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

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
    path: Annotated[Path, typer.Argument(help="A CSV file or a folder of CSV files.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the results.")],
    progress: Annotated[bool, typer.Option(help="Show a progress bar (on for folders).")] = True,
) -> None:
    """Score CSV files causally: adds anomaly_score, is_anomaly and reason columns."""
    from anomalert.detect.files import DRIFT_FILE, detect_path

    errors = detect_path(path, output, progress=progress and path.is_dir())
    drift = output / DRIFT_FILE
    if drift.exists():
        typer.echo(f"note: input drift was seen and models refitted; see {drift}", err=True)
    for line in errors:
        typer.echo(f"error: {line}", err=True)
    if errors:
        raise typer.Exit(EXIT_BAD_INPUT)


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


def main() -> None:
    """Entry point of the ``anomalert`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
