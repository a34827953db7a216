"""The command line: a thin layer over the library (parsing, exit codes, progress)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="anomalert: few, trustworthy, self-explaining alerts.")


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
    from anomalert.detect.files import detect_path

    errors = detect_path(path, output, progress=progress and path.is_dir())
    for line in errors:
        typer.echo(f"error: {line}", err=True)
    if errors:
        raise typer.Exit(EXIT_BAD_INPUT)


def main() -> None:
    """Entry point of the ``anomalert`` script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
