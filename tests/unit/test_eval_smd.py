"""SMD metrics on hand-made arrays, SMD loading, and the ``make eval`` driver end to end."""

from __future__ import annotations

import gzip
import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomalert.errors import InputError
from anomalert.evaluate import demo, run, smd
from anomalert.evaluate.smd import (
    auc_pr,
    best_pa_f1,
    default_max_buffer,
    event_counts,
    point_counts,
    soft_labels,
    vus_pr,
)
from tests.support.nezha_day import write_day

LABELS = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])  # events: rows 1..3 and 6..7
PREDICTIONS = np.array([0, 1, 0, 0, 1, 0, 0, 1, 1, 0])  # runs: 1, 4, 7..8


def series_with_events(rows: int = 5000, seed: int = 0) -> np.ndarray:
    """About 5 % anomalous rows in events of 5 to 30 rows, like SMD."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(rows, dtype=bool)
    for start in rng.choice(np.arange(100, rows - 100, 200), size=12, replace=False):
        labels[start : start + rng.integers(5, 30)] = True
    return labels


# --------------------------------------------------------------------------- point / event


def test_point_counts_exact() -> None:
    counts = point_counts(LABELS, PREDICTIONS)
    assert (counts.tp, counts.fp, counts.fn) == (2, 2, 3)
    assert counts.precision == pytest.approx(0.5)
    assert counts.recall == pytest.approx(0.4)
    assert counts.f1 == pytest.approx(2 * 0.5 * 0.4 / 0.9)


def test_event_counts_exact() -> None:
    counts = event_counts(LABELS, PREDICTIONS)
    assert (counts.true_events, counts.caught_events) == (2, 2)
    assert (counts.predicted_events, counts.correct_predictions) == (3, 2)
    assert counts.recall == 1.0
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(0.8)


def test_event_touching_series_edges_and_silent_detector() -> None:
    labels = np.array([1, 1, 0, 0, 1])
    counts = event_counts(labels, [0, 0, 0, 0, 1])
    assert (counts.true_events, counts.caught_events, counts.correct_predictions) == (2, 1, 1)
    silent = point_counts(labels, np.zeros(5))
    assert (silent.precision, silent.recall, silent.f1) == (0.0, 0.0, 0.0)


def test_counts_pool_across_machines() -> None:
    pooled = point_counts(LABELS, PREDICTIONS) + point_counts([1, 0], [1, 1])
    assert (pooled.tp, pooled.fp, pooled.fn) == (3, 3, 3)
    assert pooled.f1 == pytest.approx(0.5)


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(InputError):
        point_counts([0, 1], [0, 1, 1])


# --------------------------------------------------------------------------- curves


def test_auc_pr_of_a_perfect_score_is_1_and_undefined_without_anomalies() -> None:
    labels = series_with_events()
    assert auc_pr(labels, labels.astype(float)) == pytest.approx(1.0)
    assert np.isnan(auc_pr(np.zeros(10), np.arange(10.0)))


def test_soft_labels_ramp_around_events_only_within_half_a_buffer() -> None:
    soft = soft_labels([0, 0, 0, 0, 1, 1, 0, 0, 0, 0], 6)
    assert soft[4:6].tolist() == [1.0, 1.0]
    assert soft[3] == pytest.approx(np.sqrt(1 - 1 / 6))
    assert soft[1] == pytest.approx(np.sqrt(1 - 3 / 6))
    assert soft[0] == 0.0 and soft[9] == 0.0
    assert soft_labels([0, 1, 0], 0).tolist() == [0.0, 1.0, 0.0]


def test_vus_pr_of_a_perfect_score_is_about_1() -> None:
    labels = series_with_events()
    perfect = labels.astype(float)
    assert vus_pr(labels, perfect, max_buffer=0) == pytest.approx(1.0)
    assert vus_pr(labels, perfect) > 0.85  # wider buffers add soft rows it does not flag


def test_vus_pr_of_random_and_constant_scores_is_low() -> None:
    labels = series_with_events()
    noise = np.random.default_rng(1).random(labels.size)
    rate = labels.mean()
    assert vus_pr(labels, noise) < 2 * rate
    assert vus_pr(labels, np.zeros(labels.size)) < 2 * rate


def test_vus_pr_rewards_a_score_that_rises_just_before_an_event() -> None:
    labels = series_with_events()
    early = np.roll(labels, -2).astype(float)  # fires 2 rows early: misses the tails
    assert vus_pr(labels, early, max_buffer=10) > vus_pr(labels, early, max_buffer=0)


def test_default_max_buffer_is_median_event_length_capped() -> None:
    events = np.zeros(400, dtype=bool)
    events[10:13] = events[50:59] = events[100:300] = True  # lengths 3, 9, 200
    assert default_max_buffer([events]) == 9
    long = np.zeros(1000, dtype=bool)
    long[100:600] = True
    assert default_max_buffer([long]) == 100
    assert default_max_buffer([np.zeros(5, dtype=bool)]) == 0


def test_best_point_adjusted_f1_exact() -> None:
    assert best_pa_f1([0, 1, 1, 1, 0, 0], [0, 0, 0.9, 0, 0, 0]) == pytest.approx(1.0)
    # t=0.9: nothing right; t=0.5: whole event (2 rows) + 1 false alarm -> 4/5
    assert best_pa_f1([0, 1, 1, 0], [0.9, 0.5, 0, 0]) == pytest.approx(0.8)


def test_random_scores_look_good_only_with_point_adjustment() -> None:
    labels = series_with_events()
    noise = smd.random_scores("machine-x", labels.size)
    assert np.array_equal(noise, smd.random_scores("machine-x", labels.size))  # seeded
    assert auc_pr(labels, noise) < 2 * labels.mean()
    assert best_pa_f1(labels, noise) > 5 * auc_pr(labels, noise)


def test_summary_pools_counts_and_averages_curves() -> None:
    a = smd.evaluate_machine("a", LABELS, LABELS.astype(float), PREDICTIONS, max_buffer=2)
    b = smd.evaluate_machine("b", [1, 0], [0.0, 1.0], [1, 1], max_buffer=2)
    summary = smd.summarise({"a": a, "b": b}, max_buffer=2)
    assert (summary.point.tp, summary.point.fp, summary.point.fn) == (3, 3, 3)
    assert summary.auc_pr == pytest.approx((1.0 + 0.5) / 2)
    assert list(summary.machines) == ["a", "b"]


# --------------------------------------------------------------------------- loading


def write_smd_tree(root: Path, name: str = "machine-9-9") -> np.ndarray:
    """One machine: 50 train rows, 60 test rows, 38 columns; c01 is 1 during the event."""
    train = np.zeros((50, 38))
    test = np.zeros((60, 38))
    labels = np.zeros(60, dtype=int)
    labels[20:30] = 1
    test[20:30, 0] = 1.0
    for part, values in (("train", train), ("test", test)):
        (root / part).mkdir(parents=True)
        text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in values) + "\n"
        with gzip.open(root / part / f"{name}.txt.gz", "wt") as handle:
            handle.write(text)
    (root / "test_label").mkdir()
    (root / "test_label" / f"{name}.txt").write_text("\n".join(map(str, labels)) + "\n")
    return labels


def test_load_smd_yields_train_test_and_labels(tmp_path: Path) -> None:
    labels = write_smd_tree(tmp_path)
    (machine,) = list(smd.load_smd(tmp_path))
    assert machine.name == "machine-9-9"
    assert machine.train.shape == (50, 38) and machine.test.shape == (60, 38)
    assert machine.labels.tolist() == labels.astype(bool).tolist()
    assert len(smd.raw_rows(tmp_path, "machine-9-9")) == 110


# --------------------------------------------------------------------------- driver


def fake_detect_path(src: Path, out: Path, progress: bool = False) -> list[str]:
    """Stand-in detector: the first value column is the score, >= 0.5 is an alert."""
    for path in sorted(src.rglob("*.csv")):
        frame = pd.read_csv(path)
        score = frame[frame.columns[1]].astype(float)
        frame["anomaly_score"] = score
        frame["is_anomaly"] = (score >= 0.5).astype(int)
        frame["reason"] = ""
        dest = out / path.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(dest, index=False)
    return []


def write_nab_tree(root: Path, rows: int = 200) -> None:
    """One NAB file whose value is 1 on the first row (100) of its window 100..119."""
    times = pd.date_range("2020-01-01", periods=rows, freq="5min").strftime("%Y-%m-%d %H:%M:%S")
    (root / "data" / "catA").mkdir(parents=True)
    lines = ["timestamp,value", *(f"{t},{float(i == 100)}" for i, t in enumerate(times))]
    (root / "data" / "catA" / "f1.csv").write_text("\n".join(lines) + "\n")
    (root / "labels").mkdir()
    windows = {"catA/f1.csv": [[f"{times[100]}.000000", f"{times[119]}.000000"]]}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (root / "config").mkdir()
    profiles = {
        "standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}},
        "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11}},
    }
    (root / "config" / "profiles.json").write_text(json.dumps(profiles))


@pytest.fixture
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tiny NAB, SMD and Nezha copies, the stand-in detector in place of the real one for
    NAB and SMD, and one short demo scenario (the stages all run without ``--only``)."""
    write_nab_tree(tmp_path / "datasets" / "nab")
    write_smd_tree(tmp_path / "datasets" / "smd")
    write_day(tmp_path / "datasets" / "nezha")
    monkeypatch.setattr(demo, "SEEDS", (2,))
    monkeypatch.setattr(demo, "DAYS", 9)
    module = types.ModuleType("anomalert.detect.files")
    module.detect_path = fake_detect_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "anomalert.detect.files", module)
    return tmp_path / "datasets"


def eval_args(datasets: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--datasets", str(datasets), "--out", str(tmp_path / "out"), "--no-progress", *extra]


def test_driver_scores_both_datasets_and_writes_json(datasets: Path, tmp_path: Path) -> None:
    assert run.main(eval_args(datasets, tmp_path)) == run.EXIT_OK
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    headline = report["headline"]
    assert headline["nab.threshold_search.standard"] == pytest.approx(100.0)
    assert headline["nab.as_is.reward_low_FN_rate"] == pytest.approx(100.0)
    assert headline["nab.as_is.window_f1"] == pytest.approx(1.0)
    assert headline["smd.point_f1"] == pytest.approx(1.0)
    assert headline["smd.event_f1"] == pytest.approx(1.0)
    assert headline["smd.auc_pr"] == pytest.approx(1.0)
    assert 0.8 < headline["smd.vus_pr"] <= 1.0
    assert report["smd"]["machines"]["machine-9-9"]["rows"] == 60
    assert headline["demo.incident_recall"] == 1.0
    assert headline["nezha.origin_top1"] == 1.0
    assert report["errors"] == []


def test_driver_floors(datasets: Path, tmp_path: Path) -> None:
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"nab.as_is.standard": 50, "smd.vus_pr": 0.5}))
    assert run.main(eval_args(datasets, tmp_path, "--floors", str(floors))) == run.EXIT_OK
    floors.write_text(json.dumps({"nab.as_is.standard": 101}))
    assert run.main(eval_args(datasets, tmp_path, "--floors", str(floors))) == 1
    floors.write_text(json.dumps({"nab.as_is.standrd": 1}))
    assert run.main(eval_args(datasets, tmp_path, "--floors", str(floors))) == run.EXIT_ERROR
    missing = str(tmp_path / "absent.json")
    assert run.main(eval_args(datasets, tmp_path, "--floors", missing)) == run.EXIT_OK


def test_driver_fails_on_detector_errors(
    datasets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(src: Path, out: Path, progress: bool = False) -> list[str]:
        return [f"{src}: cannot read"]

    monkeypatch.setattr(sys.modules["anomalert.detect.files"], "detect_path", broken)
    assert run.main(eval_args(datasets, tmp_path, "--only", "nab")) == run.EXIT_ERROR
    report = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert any("cannot read" in line for line in report["errors"])
