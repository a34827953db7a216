"""``make eval``: our detector on NAB, SMD and the demo, scored; one table; floors checked.

Usage::

    python -m anomalert.evaluate.run --datasets DIR --out eval-results [--floors FILE]

Steps: (1) NAB: ``detect_path`` over ``<datasets>/nab/data`` into ``<out>/nab``, then
NAB scoring of the scores (threshold search) and of the detector's own alerts (as-is).
(2) SMD: each machine becomes one CSV (synthetic 1-minute timestamps, columns
c01..c38, train rows then test rows so the causal detector warms up on train), all
machines go through ``detect_path`` at once, and only test rows are scored.
(3) The demo scenarios (``evaluate.demo``: generated, no dataset needed): the share of the
engine's alerts inside a labelled incident (and among those the service would not hold
back in a planned maintenance window) and of incidents alerted on; then the share of the
service's own pages (the scenarios replayed through it) inside an incident, and of
incidents paged. (4) Nezha
(``evaluate.nezha``): microservice faults with their root-cause service, after a primer
lent from each day's fault-free tail; whether the faulty service alerts within five
minutes, ranks first among the services, and whether the held-out quiet hours stay quiet.
(5) One table of headline figures, a second one per SMD machine, and one line on what
SMD's false alarms are (``false_alarms``: by the kind of evidence their reasons name);
``--keep-smd`` keeps the SMD outputs in ``<out>/smd``. (6) Everything goes to
``<out>/eval.json``. (7) Headline figures are compared with the floors file, a
flat JSON map such as ``{"nab.as_is.standard": 10.0, "smd.vus_pr": 0.1}``.

Exit status: 0 all good, 1 some figure is below its floor, 2 something failed (a
detector error, unreadable data, a floors key that names no figure). A missing
floors file is reported and skipped, so the first run can create the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from anomalert.errors import AnomalertError, FileInputError, InputError
from anomalert.evaluate import demo, false_alarms, nab, nezha, smd

DetectPath = Callable[[Path, Path, bool], list[str]]
Headline = dict[str, float | None]
SMD_START = "2020-01-01"
EXIT_OK, EXIT_BELOW_FLOOR, EXIT_ERROR = 0, 1, 2
#: The stages, in the order they run; a floor's key starts with its stage's name.
STAGES = ("nab", "smd", "demo", "nezha")
_STAGE_ERRORS = (AnomalertError, OSError, ValueError, KeyError, ImportError)


@dataclasses.dataclass
class StageResult:
    """What one dataset stage produced: JSON detail, headline figures, error lines."""

    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    headline: Headline = dataclasses.field(default_factory=dict)
    notes: dict[str, str] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)
    #: Lines printed under the tables (the anatomy of SMD's false alarms).
    lines: list[str] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- detector


def _detect_path() -> DetectPath:
    """The detector entry point, imported late so scoring works without the detector."""
    module = importlib.import_module("anomalert.detect.files")
    return cast(DetectPath, module.detect_path)


def _fresh_dir(path: Path) -> Path:
    """Empty our own output folder so stale files from an earlier run are never scored."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# --------------------------------------------------------------------------- NAB


def run_nab(root: Path, out: Path, progress: bool, stage: StageResult) -> None:
    """Detect on every NAB file, then score the scores (searched) and the alerts (as-is)."""
    corpus = nab.load_nab(root)
    profiles = nab.load_profiles(root / "config" / "profiles.json")
    results_dir = _fresh_dir(out / "nab")
    started = time.perf_counter()
    stage.errors += _detect_path()(root / "data", results_dir, progress)
    detect_seconds = time.perf_counter() - started
    results = nab.read_results(results_dir, corpus)
    started = time.perf_counter()
    searched = nab.score_threshold_search(results, profiles)
    as_is = nab.score_decisions(results, profiles)
    stage.detail = {
        "detect_seconds": detect_seconds,
        "score_seconds": time.perf_counter() - started,
        "results_dir": str(results_dir),
        "threshold_search": {k: dataclasses.asdict(v) for k, v in searched.items()},
        "as_is": dataclasses.asdict(as_is),
    }
    for name, result in searched.items():
        stage.headline[f"nab.threshold_search.{name}"] = result.score
        shown = "never fire" if result.threshold is None else f"{result.threshold:.6g}"
        stage.notes[f"nab.threshold_search.{name}"] = f"threshold {shown}"
    for name, result in as_is.profiles.items():
        stage.headline[f"nab.as_is.{name}"] = result.score
    counts = as_is.windows
    stage.headline["nab.as_is.window_precision"] = counts.precision
    stage.headline["nab.as_is.window_recall"] = counts.recall
    stage.headline["nab.as_is.window_f1"] = counts.f1
    stage.notes["nab.as_is.window_precision"] = (
        f"{counts.detected} of {counts.windows} windows, {counts.false_alarms} false alarms"
    )


# --------------------------------------------------------------------------- demo


def run_demo(stage: StageResult) -> None:
    """The engine over the generated demo scenarios (``demo.SEEDS``, ``demo.DAYS``),
    against their labelled incidents."""
    started = time.perf_counter()
    seeds, days = demo.SEEDS, demo.DAYS
    summary = demo.score_demo(seeds, days)
    stage.detail = {
        "seconds": time.perf_counter() - started,
        "seeds": list(seeds),
        **dataclasses.asdict(summary),
        "false_per_series_day": summary.false_per_series_day,
    }
    stage.headline["demo.alert_precision"] = summary.alert_precision
    stage.headline["demo.incident_recall"] = summary.incident_recall
    stage.headline["demo.served_precision"] = summary.served_precision
    stage.notes["demo.alert_precision"] = (
        f"{summary.in_incidents} of {summary.alerts} alerts in an incident; "
        f"{summary.false_per_series_day:.3f} false per series-day"
    )
    stage.notes["demo.served_precision"] = (
        f"the same without the {summary.held} alerts inside a planned maintenance window of "
        f"their service ({summary.held_in_incidents} of them in an incident), which the "
        "service holds back"
    )
    stage.headline["demo.page_precision"] = summary.page_precision
    stage.headline["demo.page_recall"] = summary.page_recall
    stage.notes["demo.page_precision"] = (
        f"{summary.pages_in_incidents} of {summary.pages} firing notifications in an "
        "incident: the scenarios replayed through the service (policy, grouping, routing)"
    )
    stage.notes["demo.page_recall"] = (
        f"{summary.incidents_paged} of {summary.incidents} incidents paged by the service"
    )
    lead = summary.median_lead_minutes
    stage.notes["demo.incident_recall"] = (
        f"{summary.caught} of {summary.incidents} incidents ({summary.scenarios} scenarios "
        f"of {summary.days} days)" + ("" if lead is None else f", median lead {lead:.0f} min")
    )


# --------------------------------------------------------------------------- Nezha


def run_nezha(root: Path, stage: StageResult) -> None:
    """The engine over each Nezha day (primed from its quiet tail), case by case."""
    started = time.perf_counter()
    summary, reports = nezha.score_nezha(root)
    stage.detail = {
        "seconds": time.perf_counter() - started,
        **dataclasses.asdict(summary),
        "false_per_pod_day": summary.false_per_pod_day,
        "days": [dataclasses.asdict(r) for r in reports],
    }
    s = summary
    stage.headline["nezha.case_recall"] = s.case_recall
    stage.headline["nezha.root_cause_top1"] = s.top1_share
    stage.headline["nezha.root_cause_top3"] = s.top3_share
    stage.headline["nezha.resource_top1"] = s.resource_top1_share
    stage.headline["nezha.quiet_pods"] = s.quiet_share
    if s.origin_cases:
        stage.headline["nezha.origin_top1"] = s.origin_share
        stage.notes["nezha.origin_top1"] = (
            f"{s.origin_right} of {s.origin_cases} faults on days with a call graph: the "
            "Correlator's likely origin is the root cause"
        )
    stage.notes["nezha.case_recall"] = (
        f"{s.detected} of {s.cases} faults alerting within {nezha.WINDOW / 60:.0f} min "
        f"(resource faults {s.resource_detected} of {s.resource_cases})"
    )
    stage.notes["nezha.root_cause_top1"] = f"{s.top1} of {s.cases} first among the services"
    stage.notes["nezha.root_cause_top3"] = f"{s.top3} of {s.cases} in the first three"
    stage.notes["nezha.resource_top1"] = (
        f"{s.resource_top1} of {s.resource_cases} CPU and network faults first "
        f"({s.resource_top3} in the first three); the reason names the dataset's root-cause "
        f"metric for {s.reason_named} of {s.reason_cases}"
    )
    stage.notes["nezha.quiet_pods"] = (
        f"{s.quiet_pods} of {s.pods} pods without an alert in the held-out quiet hours; "
        f"{s.false_alerts} false alerts, {s.false_per_pod_day:.2f} per pod-day"
    )
    for r in reports:
        stage.lines.append(
            f"nezha {r.name}: {r.pods} pods, {len(r.cases)} faults, primer "
            f"{r.primer_hours:.1f} h, held out {r.held_out_hours:.1f} h; "
            f"{sum(c.rank == 1 for c in r.cases)} first, {sum(c.detected for c in r.cases)} "
            f"alerting, {sum(r.false_alerts.values())} false alerts"
        )


# --------------------------------------------------------------------------- SMD


def write_machine_csv(root: Path, machine: smd.SmdMachine, dest: Path) -> None:
    """Train then test rows under 1-minute timestamps, so the detector sees rows as time."""
    rows = smd.raw_rows(root, machine.name)
    expected = machine.train.shape[0] + machine.test.shape[0]
    if len(rows) != expected:
        raise FileInputError(dest, f"{len(rows)} raw rows for {expected} parsed rows")
    stamps = pd.date_range(SMD_START, periods=len(rows), freq="min").strftime("%Y-%m-%d %H:%M:%S")
    header = ",".join(["timestamp", *(f"c{i:02d}" for i in range(1, machine.test.shape[1] + 1))])
    body = "\n".join(f"{stamp},{row}" for stamp, row in zip(stamps, rows, strict=True))
    dest.write_text(f"{header}\n{body}\n")


def read_machine_output(
    path: Path, train_rows: int, test_rows: int
) -> tuple[smd.FloatArray, smd.BoolArray, list[str]]:
    """The test rows' ``anomaly_score``, ``is_anomaly`` and ``reason`` from one detector
    output."""
    if not path.is_file():
        raise FileInputError(path, "missing: the detector wrote no output for this machine")
    frame = pd.read_csv(
        path, usecols=["anomaly_score", "is_anomaly", "reason"], keep_default_na=False
    )
    if len(frame) != train_rows + test_rows:
        raise FileInputError(path, f"{len(frame)} rows, expected {train_rows + test_rows}")
    test = frame.iloc[train_rows:]
    score = pd.to_numeric(test["anomaly_score"]).to_numpy(dtype=np.float64)
    reasons = [str(r) for r in test["reason"]]
    return score, nab.parse_flags(test["is_anomaly"], path), reasons


def run_smd(
    root: Path, progress: bool, seed: int, stage: StageResult, keep: Path | None = None
) -> None:
    """Detect on every machine (train rows as warm-up) and score the test rows; with
    ``keep`` (our own folder, emptied first), the detector's outputs are kept there for a
    closer look instead of in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="anomalert-smd-") as tmp:
        src = Path(tmp) / "input"
        dst = _fresh_dir(keep) if keep is not None else Path(tmp) / "output"
        src.mkdir()
        shapes: dict[str, tuple[int, smd.BoolArray]] = {}
        for machine in smd.load_smd(root):
            write_machine_csv(root, machine, src / f"{machine.name}.csv")
            shapes[machine.name] = (machine.train.shape[0], machine.labels)
        started = time.perf_counter()
        stage.errors += _detect_path()(src, dst, progress)
        detect_seconds = time.perf_counter() - started
        max_buffer = smd.default_max_buffer([labels for _, labels in shapes.values()])
        reports = {}
        falses: list[false_alarms.FalseEvent] = []
        for name, (train_rows, labels) in shapes.items():
            output = dst / f"{name}.csv"
            score, flags, reasons = read_machine_output(output, train_rows, labels.size)
            reports[name] = smd.evaluate_machine(name, labels, score, flags, max_buffer, seed)
            falses += false_alarms.false_events(name, labels, flags, score, reasons)
    summary = smd.summarise(reports, max_buffer, seed)
    anatomy = false_alarms.Anatomy.of(falses)
    stage.detail = {
        "detect_seconds": detect_seconds,
        **dataclasses.asdict(summary),
        "false_alarms": anatomy.as_dict(),
    }
    stage.lines.append(f"SMD: {anatomy.summary_line()}")
    stage.headline = smd_headline(summary)
    stage.notes = {
        "smd.vus_pr": f"buffers 0..{max_buffer} rows",
        "smd.pa_f1_best": "point-adjusted, best threshold: inflated, see random",
        "smd.random.pa_f1_best": f"uniform noise, seed {seed}",
    }


def smd_headline(summary: smd.SmdSummary) -> Headline:
    """The flat SMD figures that go into the table and the floors check."""
    return {
        "smd.point_precision": summary.point.precision,
        "smd.point_recall": summary.point.recall,
        "smd.point_f1": summary.point.f1,
        "smd.event_precision": summary.events.precision,
        "smd.event_recall": summary.events.recall,
        "smd.event_f1": summary.events.f1,
        "smd.auc_pr": summary.auc_pr,
        "smd.vus_pr": summary.vus_pr,
        "smd.pa_f1_best": summary.pa_f1_best,
        "smd.random.pa_f1_best": summary.random_pa_f1_best,
        "smd.random.auc_pr": summary.random_auc_pr,
        "smd.random.vus_pr": summary.random_vus_pr,
    }


# --------------------------------------------------------------------------- floors


def load_floors(path: Path) -> dict[str, float]:
    """A flat JSON map of headline figure name -> lowest acceptable value."""
    raw = json.loads(path.read_text())
    if not isinstance(raw, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw.values()
    ):
        raise InputError(f"{path}: floors must be a flat JSON object of numbers")
    return {str(k): float(v) for k, v in raw.items()}


def check_floors(
    headline: Headline, floors: dict[str, float], ran: Sequence[str] = STAGES
) -> tuple[list[str], list[str]]:
    """(figures below their floor, floor keys naming no figure).

    Floors of datasets not run (``--only``) are skipped. A figure that a run dataset
    should have produced but did not (its stage failed) counts as below its floor.
    """
    below, unknown = [], []
    for key, floor in sorted(floors.items()):
        dataset = key.split(".", 1)[0]
        if dataset in STAGES and dataset not in ran:
            continue
        if key not in headline:
            if dataset in ran and not any(k.startswith(f"{dataset}.") for k in headline):
                below.append(f"{key} was not computed (the {dataset} stage failed)")
            else:
                unknown.append(f"floors: {key} names no headline figure")
            continue
        value = headline[key]
        if value is None or math.isnan(value) or value < floor:
            below.append(f"{key} = {_fmt(key, value)} is below its floor {floor:g}")
    return below, unknown


# --------------------------------------------------------------------------- output


def _fmt(key: str, value: float | None) -> str:
    """NAB scores on a 0-100 scale get 2 decimals, ratios 3; undefined shows as n/a."""
    if value is None or math.isnan(value):
        return "n/a"
    is_nab_score = key.startswith("nab.") and "window" not in key
    return f"{value:.2f}" if is_nab_score else f"{value:.3f}"


def headline_table(headline: Headline, notes: dict[str, str], floors: dict[str, float]) -> Table:
    """All headline figures in one table, with their floor and whether they pass."""
    table = Table(title="anomalert evaluation")
    for column in ("figure", "value", "floor", "check", "note"):
        table.add_column(column, justify="right" if column in ("value", "floor") else "left")
    for key, value in headline.items():
        floor = floors.get(key)
        if floor is None:
            check = ""
        else:
            ok = value is not None and not math.isnan(value) and value >= floor
            check = "[green]ok[/]" if ok else "[red]BELOW[/]"
        shown_floor = "" if floor is None else f"{floor:g}"
        table.add_row(key, _fmt(key, value), shown_floor, check, notes.get(key, ""))
    return table


def machine_table(detail: dict[str, Any]) -> Table:
    """Per-machine SMD figures, so one bad machine cannot hide in the mean."""
    table = Table(title="SMD per machine (test rows)")
    columns = ("machine", "P", "R", "F1", "event P", "event R", "event F1", "AUC-PR", "VUS-PR")
    for column in (*columns, "PA-F1 best", "random PA-F1"):
        table.add_column(column, justify="left" if column == "machine" else "right")
    for name, m in detail.get("machines", {}).items():
        figures = (
            m["point"]["precision"],
            m["point"]["recall"],
            m["point"]["f1"],
            m["events"]["precision"],
            m["events"]["recall"],
            m["events"]["f1"],
            m["auc_pr"],
            m["vus_pr"],
            m["pa_f1_best"],
            m["random_pa_f1_best"],
        )
        table.add_row(name, *(_fmt("", v) for v in figures))
    return table


def to_jsonable(value: Any) -> Any:
    """Plain JSON: numpy scalars unwrapped, NaN/inf as null (strict JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- driver


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m anomalert.evaluate.run", description=__doc__)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--out", type=Path, default=Path("eval-results"))
    parser.add_argument("--floors", type=Path, default=None)
    parser.add_argument("--only", choices=STAGES, default=None)
    parser.add_argument("--seed", type=int, default=smd.RANDOM_SEED, help="random baseline")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--keep-smd",
        action="store_true",
        help="keep the detector's SMD outputs in OUT/smd (about 250 MB) for a closer look",
    )
    return parser.parse_args(argv)


def _run_stage(name: str, run: Callable[[StageResult], None]) -> StageResult:
    """Run one dataset stage; a failure becomes an error line, and earlier lines survive."""
    stage = StageResult()
    try:
        run(stage)
    except _STAGE_ERRORS as exc:
        stage.errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return stage


def _floors(path: Path | None, console: Console) -> tuple[dict[str, float], list[str]]:
    """The floors to check, or none (with a note) when no floors file exists yet."""
    if path is None:
        return {}, []
    if not path.is_file():
        console.print(f"[yellow]no floors file at {path}: floors not checked[/]")
        return {}, []
    try:
        return load_floors(path), []
    except (ValueError, AnomalertError) as exc:
        return {}, [f"floors: {exc}"]


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate, report and return the exit status (0 ok, 1 below a floor, 2 error)."""
    args = _parse(argv)
    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough for the per-machine table
        console = Console(width=160)
    progress = not args.no_progress
    stages: dict[str, StageResult] = {}
    if args.only in (None, "nab"):
        stages["nab"] = _run_stage(
            "nab", lambda stage: run_nab(args.datasets / "nab", args.out, progress, stage)
        )
    if args.only in (None, "smd"):
        stages["smd"] = _run_stage(
            "smd",
            lambda stage: run_smd(
                args.datasets / "smd",
                progress,
                args.seed,
                stage,
                args.out / "smd" if args.keep_smd else None,
            ),
        )
    if args.only in (None, "demo"):
        stages["demo"] = _run_stage("demo", run_demo)
    if args.only in (None, "nezha"):
        stages["nezha"] = _run_stage(
            "nezha", lambda stage: run_nezha(args.datasets / "nezha", stage)
        )
    headline: Headline = {k: v for s in stages.values() for k, v in s.headline.items()}
    notes = {k: v for s in stages.values() for k, v in s.notes.items()}
    errors = [e for s in stages.values() for e in s.errors]
    floors, floor_errors = _floors(args.floors, console)
    below, unknown = check_floors(headline, floors, tuple(stages))
    errors += floor_errors + unknown

    console.print(headline_table(headline, notes, floors))
    if "smd" in stages and stages["smd"].detail:
        console.print(machine_table(stages["smd"].detail))
    for stage in stages.values():
        for line in stage.lines:
            console.print(line, highlight=False)
    report = {
        "headline": headline,
        **{name: stage.detail for name, stage in stages.items()},
        "floors": {"file": None if args.floors is None else str(args.floors), "below": below},
        "errors": errors,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "eval.json").write_text(json.dumps(to_jsonable(report), indent=2) + "\n")
    console.print(f"wrote {args.out / 'eval.json'}")
    for line in errors:
        console.print(f"[red]error:[/] {line}", highlight=False)
    for line in below:
        console.print(f"[red]below floor:[/] {line}", highlight=False)
    if errors:
        return EXIT_ERROR
    return EXIT_BELOW_FLOOR if below else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
