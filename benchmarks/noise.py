"""The noise contract, measured: flagged points per 10,000 on pure noise, per noise family.

The product promises that at the default threshold pure noise raises at most one alert per
10,000 points. The tests assert it for Gaussian and Student-t(5) noise on a short run; this
measures it over long runs and heavier families (Student-t(3) is the hardest), so the figure
in the README can be reproduced. A figure, never an assertion: it is part of ``make bench``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from anomalert.detect.engine import BatchEngine, Settings

Draw = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]

#: Each family as one-minute points around a level of 100 (lognormal: its own scale).
FAMILIES: dict[str, Draw] = {
    "Gaussian": lambda rng, shape: rng.normal(100.0, 1.0, shape),
    "Poisson(1)": lambda rng, shape: rng.poisson(1.0, shape).astype(float),
    "Laplace": lambda rng, shape: rng.laplace(100.0, 1.0, shape),
    "lognormal": lambda rng, shape: rng.lognormal(0.0, 1.0, shape),
    "Student-t(5)": lambda rng, shape: 100.0 + rng.standard_t(5, shape),
    "Student-t(3)": lambda rng, shape: 100.0 + rng.standard_t(3, shape),
}


def flagged_rates(draw: Draw, series: int, points: int, seeds: int) -> tuple[float, float]:
    """Flagged points and flagged runs (alerts) per 10,000 points, over all seeds."""
    flagged = runs = 0
    for seed in range(seeds):
        values = draw(np.random.default_rng(seed), (points, series))
        engine = BatchEngine(series, Settings(multivariate=()))
        before = np.zeros(series, dtype=bool)
        for k in range(points):
            now = engine.step(np.full(series, 1.7e9 + 60.0 * k), values[k]).series.flagged
            flagged += int(now.sum())
            runs += int((now & ~before).sum())
            before = now
    total = seeds * series * points
    return 1e4 * flagged / total, 1e4 * runs / total


def positive(text: str) -> int:
    """A whole number of at least 1 (argparse answers anything else with exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--series", type=positive, default=60)
    p.add_argument("--points", type=positive, default=20_000)
    p.add_argument("--seeds", type=positive, default=3)
    p.add_argument("--json", type=Path, default=Path("bench-results/noise.json"))
    args = p.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    for name, draw in FAMILIES.items():
        points, runs = flagged_rates(draw, args.series, args.points, args.seeds)
        results[name] = {"points_per_10k": points, "runs_per_10k": runs}
    table = Table(
        title=f"pure noise at the default threshold ({args.seeds} seeds x {args.series} "
        f"series x {args.points:,} points)"
    )
    for column in ("noise", "flagged points / 10,000", "alerts (runs) / 10,000", "budget"):
        table.add_column(column, justify="left" if column == "noise" else "right")
    for name, r in results.items():
        table.add_row(name, f"{r['points_per_10k']:.2f}", f"{r['runs_per_10k']:.2f}", "<= 1")
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
