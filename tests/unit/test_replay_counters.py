"""Replay tells counters as the service does: by name (``ingest.counters``, ``--counters``).

The scenario is one service's one-minute running total over three days, traffic following
the day, with three process restarts after the two days a series is followed before it may
page: each drops the value to the part of its minute the new process counted (30 %), and
it climbs again. There is no incident, so every firing notification is a false page. As a
counter (followed as its rate) it must not page at all; the same values under a name that
is no counter's page at the restarts, which shows the scenario would catch a replay that
fed counters as gauges.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from anomalert.cli import EXIT_BAD_INPUT, app
from anomalert.ingest.counters import COUNTER_NAMES, CounterNames
from anomalert.ingest.scenario import load_scenario
from anomalert.replay import default_config, replay, timeline, with_counters

DAYS = 3
#: Minutes (from the start) at which the counted process restarts: all on the third day.
RESTARTS = (3000, 3500, 3900)
START = pd.Timestamp("2026-01-05", tz="UTC")


def running_total(seed: int = 1) -> np.ndarray:
    """A counter's values a minute apart: requests counted since its process started."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(DAYS * 1440)
    per_second = 20.0 * (1.0 + 0.5 * np.sin(2 * np.pi * minutes / 1440))
    counts = rng.poisson(per_second * 60).astype(float)
    total = np.cumsum(counts)
    for at in RESTARTS:
        total[at:] -= total[at - 1] + np.round(0.7 * counts[at])
    return total


def write_scenario(folder: Path, metric: str) -> Path:
    """A scenario folder holding only ``samples/api/<metric>.csv``: no events, no incidents."""
    values = running_total()
    index = pd.date_range(START, periods=len(values), freq="min")
    path = folder / "samples" / "api" / f"{metric}.csv"
    path.parent.mkdir(parents=True)
    frame = pd.DataFrame({"timestamp": index.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values})
    frame.to_csv(path, index=False)
    return folder


def firing(path: Path) -> list[dict[str, Any]]:
    notes = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [n for n in notes if n["status"] == "firing"]


def minute_of(note: dict[str, Any]) -> float:
    moment = pd.Timestamp(note["time"].replace("Z", "+00:00"))
    return (moment - START).total_seconds() / 60.0


def at_a_restart(note: dict[str, Any]) -> bool:
    """Whether the page came within a quarter of an hour after a restart."""
    return any(0 <= minute_of(note) - at <= 15 for at in RESTARTS)


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def total_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("total"), "http_requests_total")


@pytest.fixture(scope="module")
def served_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(tmp_path_factory.mktemp("served"), "requests_served")


def test_timeline_marks_counters_by_the_predicate(total_folder: Path) -> None:
    data = load_scenario(total_folder)
    steps = list(timeline(data, CounterNames()))
    assert all(s.counter for _, samples in steps for s in samples)
    assert len(steps) == DAYS * 1440
    (_, first), *_ = timeline(data, CounterNames(["requests*"]))
    assert not first[0].counter
    (_, first), *_ = timeline(data)
    assert not first[0].counter  # no predicate: gauges


def test_with_counters_replaces_the_patterns(total_folder: Path) -> None:
    config = default_config(load_scenario(total_folder))
    assert config.ingest.counters == COUNTER_NAMES
    assert with_counters(config, ["requests*"]).ingest.counters == ("requests*",)
    assert config.ingest.counters == COUNTER_NAMES  # the original is left as it was
    with pytest.raises(ValueError, match="must not be empty"):
        with_counters(config, [""])


def test_a_counter_named_as_one_does_not_page_at_restarts(
    total_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "notifications.jsonl"
    summary = replay(total_folder, out)
    assert firing(out) == []
    assert summary.firing == 0 and summary.outside == 0


def test_the_same_values_as_a_gauge_page_at_restarts(total_folder: Path, tmp_path: Path) -> None:
    # --counters replaces the defaults: '*_total' no longer makes it a counter.
    out = tmp_path / "notifications.jsonl"
    summary = replay(total_folder, out, counters=["nothing_*"])
    pages = firing(out)
    assert pages and summary.outside == len(pages)
    assert all(at_a_restart(n) for n in pages), [n["time"] for n in pages]


def test_cli_without_counters_replays_an_unmatched_name_as_a_gauge(
    served_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "notifications.jsonl"
    code, stdout, err = invoke("replay", served_folder, "--notifications", out, "--no-progress")
    assert code == 0, err
    pages = firing(out)
    assert pages and all(at_a_restart(n) for n in pages), [n["time"] for n in pages]
    assert stdout.splitlines()[-1] == f"pages outside any incident: {len(pages)}"


def test_cli_counters_makes_a_metric_a_counter(served_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "notifications.jsonl"
    code, stdout, err = invoke(
        "replay", served_folder, "--notifications", out, "--no-progress", "--counters", "requests*"
    )
    assert code == 0, err
    assert firing(out) == []
    assert stdout.splitlines()[-1] == "pages outside any incident: 0"


@pytest.mark.parametrize("pattern", ["", " "])
def test_cli_refuses_an_empty_counters_pattern(
    served_folder: Path, tmp_path: Path, pattern: str
) -> None:
    out = tmp_path / "notifications.jsonl"
    code, stdout, err = invoke(
        "replay", served_folder, "--notifications", out, "--no-progress", "--counters", pattern
    )
    assert code == EXIT_BAD_INPUT and stdout == ""
    (line,) = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("error: --counters: ") and "must not be empty" in line
    assert not out.exists()  # refused before anything ran
