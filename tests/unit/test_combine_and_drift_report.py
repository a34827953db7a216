"""Row combination of column p-values, and the drift report of ``anomalert detect``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from anomalert.detect.combine import columns_p, fisher
from anomalert.detect.files import DRIFT_FILE, detect_path


def test_single_column_rows_keep_their_p_value() -> None:
    p = np.array([[0.3], [1e-5], [1.0]])
    assert np.allclose(columns_p(p), p[:, 0])


def test_one_far_column_is_bonferroni_corrected() -> None:
    p = np.array([[1e-6, 0.5, 0.5, 0.5]])
    assert np.isclose(columns_p(p)[0], 2 * 4 * 1e-6)  # 4 columns asked, 2 looks


def test_two_moderate_columns_beat_one_moderate_column() -> None:
    one = columns_p(np.array([[1e-3, 0.5, 0.5, 0.5]]))[0]
    two = columns_p(np.array([[1e-3, 1e-3, 0.5, 0.5]]))[0]
    assert two < one / 50


def test_columns_without_opinion_are_not_counted() -> None:
    with_silent = columns_p(np.array([[1e-4, 1.0, 1.0, 1.0]]))[0]
    alone = columns_p(np.array([[1e-4]]))[0]
    assert np.isclose(with_silent, alone)


def test_fisher_is_symmetric_and_below_each_input_when_both_are_small() -> None:
    a, b = np.array([1e-3, 0.5]), np.array([1e-2, 0.5])
    assert np.allclose(fisher(a, b), fisher(b, a))
    assert fisher(a, b)[0] < 1e-3
    assert fisher(a, b)[1] > 0.5  # two unremarkable values stay unremarkable


def test_drift_is_reported_in_a_file_beside_the_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    rows = 6000
    base = rng.normal(0, 1, (rows, 3))
    base[rows // 2 :, 1] = rng.normal(8, 3, rows - rows // 2)  # a lasting change of column b
    stamps = pd.date_range("2026-01-05", periods=rows, freq="min", tz="UTC")
    frame = pd.DataFrame(base, columns=["a", "b", "c"])
    frame.insert(0, "timestamp", stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    src = tmp_path / "in"
    src.mkdir()
    frame.to_csv(src / "host.csv", index=False)
    out = tmp_path / "out"
    assert detect_path(src, out) == []
    report = json.loads((out / DRIFT_FILE).read_text())
    assert report, "a lasting change of one column is reported as drift"
    assert {e["file"] for e in report} == {"host.csv"}
    assert any("b" in e["columns"] for e in report)
    after = [e for e in report if e["time"] >= stamps[rows // 2].isoformat()]
    assert after, "drift is reported after the change, not before"


def test_no_drift_file_when_nothing_drifted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out).mkdir()
    (out / DRIFT_FILE).write_text("[]")  # a stale report from an earlier run
    src = tmp_path / "one.csv"
    src.write_text("timestamp,value\n" + "".join(f"{i * 60},{i % 5}\n" for i in range(300)))
    assert detect_path(src, out) == []
    assert not (out / DRIFT_FILE).exists()
