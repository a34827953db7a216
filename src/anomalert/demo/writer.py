"""Write a generated scenario as a scenario folder (byte-identical for the same spec).

Usage: ``python -m anomalert.demo.writer OUT [--days 14] [--seed 7] [--step-seconds 60]
[--gzip] [--no-incidents]``.
"""

from __future__ import annotations

import argparse
import gzip as gzip_module
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from anomalert.demo.scenario import DECIMALS, Scenario, ScenarioSpec, generate


def write_scenario(scenario: Scenario, folder: Path, gzip: bool = False) -> Path:
    """Write samples/<service>/<metric>.csv[.gz], events.json, graph.json, incidents.json.

    Existing files of the same series with the other suffix are removed, so the folder never
    holds two files for one series. Returns ``folder``.
    """
    folder = Path(folder)
    times = timestamp_strings(scenario.timestamps)
    for (service, metric), values in scenario.samples.items():
        directory = folder / "samples" / service
        directory.mkdir(parents=True, exist_ok=True)
        text = samples_csv(times, values, DECIMALS.get(metric, 4))
        csv_path, gz_path = directory / f"{metric}.csv", directory / f"{metric}.csv.gz"
        stale, target = (csv_path, gz_path) if gzip else (gz_path, csv_path)
        stale.unlink(missing_ok=True)
        target.write_bytes(gzip_bytes(text) if gzip else text.encode())
    _write_json(folder / "events.json", [e.to_json() for e in scenario.events])
    _write_json(folder / "graph.json", {k: list(v) for k, v in scenario.graph.items()})
    _write_json(folder / "incidents.json", [i.to_json() for i in scenario.incidents])
    return folder


def timestamp_strings(timestamps: np.ndarray) -> list[str]:
    """ISO 8601 UTC strings with a Z, to the second."""
    as_text = np.datetime_as_string(timestamps.astype("datetime64[s]"), unit="s")
    return [f"{t}Z" for t in as_text.tolist()]


def samples_csv(times: list[str], values: np.ndarray, decimals: int) -> str:
    """The ``timestamp,value`` CSV text of one series."""
    rows = [f"{t},{v:.{decimals}f}\n" for t, v in zip(times, values.tolist(), strict=True)]
    return "timestamp,value\n" + "".join(rows)


def gzip_bytes(text: str) -> bytes:
    """Gzip with a fixed header (no name, mtime 0) so the bytes depend on the text only."""
    buffer = io.BytesIO()
    with gzip_module.GzipFile(
        filename="", mode="wb", fileobj=buffer, compresslevel=6, mtime=0
    ) as out:
        out.write(text.encode())
    return buffer.getvalue()


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate a scenario and write its folder."""
    parser = argparse.ArgumentParser(prog="python -m anomalert.demo.writer", description=__doc__)
    parser.add_argument("out", type=Path, help="folder to write")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--step-seconds", type=int, default=60)
    parser.add_argument("--gzip", action="store_true", help="write .csv.gz sample files")
    parser.add_argument("--no-incidents", action="store_true", help="no injected incidents")
    args = parser.parse_args(argv)
    try:
        spec = ScenarioSpec(
            seed=args.seed,
            days=args.days,
            step_seconds=args.step_seconds,
            inject_incidents=not args.no_incidents,
        )
    except ValueError as exc:
        parser.error(str(exc))
    began = time.perf_counter()
    scenario = generate(spec)
    generated = time.perf_counter()
    write_scenario(scenario, args.out, gzip=args.gzip)
    written = time.perf_counter()
    print(
        f"wrote {len(scenario.samples)} series x {len(scenario.timestamps)} samples, "
        f"{len(scenario.events)} events, {len(scenario.incidents)} incidents to {args.out} "
        f"(generate {generated - began:.2f} s, write {written - generated:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
