"""``make bench``: detection speed and memory, printed as one table (never asserted in tests).

Figures on a small, noisy machine: compare ratios within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_dashboard
import bench_service
import numpy as np
from rich.console import Console
from rich.table import Table

from anomalert.detect.engine import BatchEngine, Settings, compile_kernels
from anomalert.detect.series import SeriesDetector

#: A time zone with summer time, for the engine that follows its wall clock.
ZONE = "Europe/Berlin"
#: Two weeks of one-minute rows: a long single-column file.
LONG_FILE_ROWS = 20_160


def bench_batch(series: int, steps: int, zone: str = "UTC") -> tuple[float, float]:
    """Point-updates per second of the batch engine, and state bytes per series; its days
    and weeks on ``zone``'s wall clock."""
    rng = np.random.default_rng(0)
    engine = BatchEngine(series, Settings(multivariate=(), timezone=zone))
    base = rng.uniform(10, 1000, series)
    start = 1.7e9
    t = np.empty(series)
    elapsed = 0.0
    for k in range(steps):
        x = base + rng.normal(0, 1, series) * base * 0.05
        t.fill(start + 10.0 * k)
        t0 = time.perf_counter()
        engine.step(t, x)
        elapsed += time.perf_counter() - t0
    return series * steps / elapsed, engine.state_nbytes() / series


def bench_single(points: int) -> float:
    """Microseconds per point through the per-series face (learn_one)."""
    rng = np.random.default_rng(1)
    det = SeriesDetector()
    xs = rng.normal(100, 5, points)
    t0 = time.perf_counter()
    for i, x in enumerate(xs):
        det.learn_one(float(x), t=60.0 * i)
    return (time.perf_counter() - t0) / points * 1e6


def bench_nab(datasets: Path) -> tuple[float, int] | None:
    """Seconds for the whole NAB folder through ``anomalert detect`` as one process."""
    data = datasets / "nab" / "data"
    if not data.is_dir():
        return None
    rows = sum(sum(1 for _ in p.open()) - 1 for p in data.rglob("*.csv"))
    out = Path(tempfile.mkdtemp(prefix="anomalert-bench-"))
    exe = Path(sys.executable).with_name("anomalert")
    t0 = time.perf_counter()
    subprocess.run(
        [str(exe), "detect", str(data), "--output", str(out), "--no-progress"], check=True
    )
    elapsed = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    return elapsed, rows


def bench_long_file(rows: int) -> float:
    """Microseconds per row for one file of one long column through ``anomalert detect``
    (one process, start-up included): where nothing spreads the engine's per-tick cost
    over other files."""
    rng = np.random.default_rng(2)
    minutes = np.arange(rows)
    values = 100 + 20 * np.sin(2 * np.pi * minutes / 1440) + rng.normal(0, 2, rows)
    stamps = np.datetime64("2026-01-01T00:00") + minutes.astype("timedelta64[m]")
    work = Path(tempfile.mkdtemp(prefix="anomalert-bench-"))
    src = work / "long.csv"
    lines = (f"{str(t).replace('T', ' ')},{v:.3f}" for t, v in zip(stamps, values, strict=True))
    src.write_text("timestamp,value\n" + "\n".join(lines) + "\n")
    exe = Path(sys.executable).with_name("anomalert")
    t0 = time.perf_counter()
    subprocess.run(
        [str(exe), "detect", str(src), "--output", str(work / "out"), "--no-progress"],
        check=True,
    )
    elapsed = time.perf_counter() - t0
    shutil.rmtree(work, ignore_errors=True)
    return elapsed / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--json", type=Path, default=Path("bench-results/bench.json"))
    parser.add_argument(
        "--service",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the service bench (benchmarks/bench_service.py, default sizes)",
    )
    parser.add_argument(
        "--dashboard",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the dashboard's reads with 100,000 alerts (benchmarks/bench_dashboard.py)",
    )
    args = parser.parse_args()

    results: dict[str, float] = {}
    # Compiled code comes from the cache; after an edit the first call would compile
    # (seconds) inside the timed loop and the batch figure would fall by half.
    compile_kernels()
    rate, per_series = bench_batch(args.series, args.steps)
    results["batch_updates_per_s"] = rate
    results["state_bytes_per_series"] = per_series
    results["batch_zone_updates_per_s"] = bench_batch(args.series, args.steps, ZONE)[0]
    results["single_series_us_per_point"] = bench_single(5_000)
    results["long_file_us_per_row"] = bench_long_file(LONG_FILE_ROWS)
    nab = bench_nab(args.datasets)
    if nab is not None:
        results["nab_detect_seconds"], rows = nab
        results["nab_rows_per_s"] = rows / nab[0]

    table = Table(title="anomalert bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row(
        f"batch engine, {args.series:,} series x {args.steps:,} steps",
        f"{rate:,.0f} updates/s",
        ">= 5,000,000/s",
    )
    table.add_row(
        f"the same on {ZONE}'s clock",
        f"{results['batch_zone_updates_per_s']:,.0f} updates/s",
        "",
    )
    table.add_row("state per univariate series", f"{per_series:,.0f} bytes", "<= 2,048")
    table.add_row(
        "single series, learn_one", f"{results['single_series_us_per_point']:,.0f} µs/pt", ""
    )
    table.add_row(
        f"one file, one column, {LONG_FILE_ROWS:,} rows, through anomalert detect",
        f"{results['long_file_us_per_row']:,.0f} µs/row",
        "",
    )
    if nab is not None:
        table.add_row(
            "NAB folder through anomalert detect",
            f"{nab[0]:,.1f} s ({results['nab_rows_per_s']:,.0f} rows/s)",
            "",
        )
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    if args.service:
        bench_service.main(["--json", str(args.json.with_name("service.json"))])
    if args.dashboard:
        bench_dashboard.main([])


if __name__ == "__main__":
    main()
