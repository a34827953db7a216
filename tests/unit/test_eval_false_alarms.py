"""The anatomy of SMD's false alarms: which predicted events are false, and what their
reasons say raised them."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomalert.evaluate import run
from anomalert.evaluate.false_alarms import (
    Anatomy,
    FalseEvent,
    false_events,
    reason_source,
    sigma_band,
)
from tests.unit.test_eval_smd import eval_args, fake_detect_path, write_smd_tree

SPIKE = "c10 0.0158, 687.6σ above the usual 3.53e-06 (spike)"
DROP = "c25 0.491, 6.7σ below the usual 0.77 for Thu 13:00 (drop)"
PAIR = "c02 0.0105 and c04 0.0105 unusual at the same time (about 1 in 2,000 and about 1 in 1,600)"
SHIFT = (
    "c09 0.00509 has shifted above the usual 0.000921 (band 0–0.005) and stayed there (level shift)"
)


def test_only_events_that_touch_no_label_are_false_and_keep_their_first_row() -> None:
    labels = np.zeros(20, dtype=bool)
    labels[5:8] = True
    flags = np.zeros(20, dtype=bool)
    flags[[2, 3]] = True  # a false event of two rows: its first row's reason counts
    flags[7] = True  # touches the label: not false
    flags[15] = True
    scores = np.linspace(0.0, 1.0, 20)
    reasons = [""] * 20
    reasons[2], reasons[3], reasons[15] = SPIKE, "ignored", PAIR
    events = false_events("m", labels, flags, scores, reasons)
    assert [(e.row, e.reason, e.kind) for e in events] == [
        (2, SPIKE, "spike"),
        (15, PAIR, "two columns"),
    ]
    assert events[0].score == scores[2]


def test_mismatched_lengths_name_the_machine() -> None:
    with pytest.raises(ValueError, match="machine-1-1: 3 labels, 3 flags, 3 scores, 2 reasons"):
        false_events("machine-1-1", [0, 0, 0], [0, 1, 0], [0.1, 0.9, 0.1], ["", ""])


def test_sigma_bands_from_the_reason_text() -> None:
    assert sigma_band(DROP) == "6-10σ"
    assert sigma_band("c01 5, 5.9σ above the usual 1 (spike)") == "under 6σ"
    assert sigma_band("c01 5, 12.0σ above the usual 1 (spike)") == "10-30σ"
    assert sigma_band("c17 0.00108, over 1,000σ above the usual 0 (spike)") == "over 30σ"
    assert sigma_band(PAIR) is None


def test_anatomy_counts_kinds_and_single_column_sigmas() -> None:
    events = [
        FalseEvent("a", 1, 0.95, SPIKE),
        FalseEvent("a", 9, 0.92, DROP),
        FalseEvent("b", 4, 0.91, PAIR),
        FalseEvent("b", 7, 0.93, SHIFT),
        FalseEvent("b", 8, 0.93, "something else"),
        FalseEvent("b", 9, 0.93, "and something else"),
    ]
    anatomy = Anatomy.of(events)
    assert anatomy.as_dict() == {
        "total": 6,
        "by_kind": {"spike": 1, "drop": 1, "two columns": 1, "level shift": 1, "other": 2},
        "single_column_by_sigmas": {"6-10σ": 1, "over 30σ": 1},
        "by_machine": {"a": 2, "b": 4},
        "recurring_sources": {"b other": 2},
    }
    line = anatomy.summary_line()
    assert line.startswith("6 false events: 2 other, 1 spike, 1 drop, 1 two columns")
    assert line.endswith("(one column: 1 6-10σ, 1 over 30σ); most from b other (2)")
    assert Anatomy.of([]).summary_line() == "0 false events"


def test_the_columns_a_reason_names_are_its_source() -> None:
    assert reason_source(SPIKE) == "c10"
    assert reason_source(DROP) == "c25"
    assert reason_source(PAIR) == "c02 + c04"
    # the pair's order does not matter, and a column name may hold spaces
    swapped = "disk io 0.01 and cpu 0.5 unusual at the same time (about 1 in 2,000 and ...)"
    assert reason_source(swapped) == "cpu + disk io"
    assert reason_source("c09 12,345, 40.0σ above the usual 3 (spike)") == "c09"
    assert reason_source(SHIFT) == "c09"
    assert reason_source("mem 0.9 is climbing towards its limit (predicted breach)") == "mem"
    assert reason_source("c03 7: its trend changed, now above the usual 2 (trend)") == "c03"
    multi = "unusual combination of metrics; most deviating: c05 0.7, 4.0σ above (multivariate)"
    assert reason_source(multi) == "c05"
    assert reason_source("something else") == "other"


def test_sources_that_recur_are_listed_most_first() -> None:
    pair_again = "c04 0.2 and c02 0.3 unusual at the same time (about 1 in 900 and ...)"
    events = [
        FalseEvent("a", 1, 0.95, SPIKE),
        FalseEvent("a", 2, 0.95, SPIKE),
        FalseEvent("b", 3, 0.91, PAIR),
        FalseEvent("b", 4, 0.91, pair_again),
        FalseEvent("b", 5, 0.91, PAIR),
        FalseEvent("b", 6, 0.95, SPIKE),  # c10 once on b: not recurring
        FalseEvent("a", 7, 0.92, DROP),
    ]
    anatomy = Anatomy.of(events)
    assert anatomy.as_dict()["recurring_sources"] == {"b c02 + c04": 3, "a c10": 2}
    assert anatomy.summary_line().endswith("; most from b c02 + c04 (3), a c10 (2)")


def one_false_alarm(src: Path, out: Path, progress: bool = False) -> list[str]:
    """The stand-in detector of the driver tests, plus a spike flagged on test row 40 of
    every machine (no label there)."""
    errors = fake_detect_path(src, out, progress)
    for path in out.rglob("machine-*.csv"):
        frame = pd.read_csv(path, keep_default_na=False)
        frame.loc[50 + 40, ["anomaly_score", "is_anomaly", "reason"]] = [0.97, 1, SPIKE]
        frame.to_csv(path, index=False)
    return errors


@pytest.fixture
def smd_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny SMD copy (50 train and 60 test rows, an event on test rows 20-29), and the
    stand-in detector in place of the real one: the driver is under test, not detection."""
    write_smd_tree(tmp_path / "datasets" / "smd")
    module = types.ModuleType("anomalert.detect.files")
    module.detect_path = one_false_alarm  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "anomalert.detect.files", module)
    return tmp_path / "datasets"


def test_make_eval_reports_the_false_alarms_and_keeps_the_outputs_on_request(
    smd_datasets: Path, tmp_path: Path
) -> None:
    args = eval_args(smd_datasets, tmp_path, "--only", "smd", "--keep-smd")
    assert run.main(args) == run.EXIT_OK
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert report["smd"]["false_alarms"] == {
        "total": 1,
        "by_kind": {"spike": 1},
        "single_column_by_sigmas": {"over 30σ": 1},
        "by_machine": {"machine-9-9": 1},
        "recurring_sources": {},
    }
    assert report["headline"]["smd.event_precision"] == pytest.approx(0.5)
    kept = pd.read_csv(tmp_path / "out" / "smd" / "machine-9-9.csv", keep_default_na=False)
    assert kept["reason"].iloc[90] == SPIKE


def test_without_keep_no_smd_outputs_stay(smd_datasets: Path, tmp_path: Path) -> None:
    assert run.main(eval_args(smd_datasets, tmp_path, "--only", "smd")) == run.EXIT_OK
    assert not (tmp_path / "out" / "smd").exists()
