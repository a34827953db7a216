"""Row combination of column p-values, and the drift report of ``anomalert detect``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from anomalert.detect.combine import ONE_COLUMN_SHARE, RowCalibration, columns_p, stouffer
from anomalert.detect.files import DRIFT_FILE, detect_path


def test_single_column_rows_keep_their_p_value() -> None:
    p = np.array([[0.3], [1e-5], [1.0]])
    assert np.allclose(columns_p(p), p[:, 0])


def test_one_far_column_is_bonferroni_corrected() -> None:
    p = np.array([[1e-6, 0.5, 0.5, 0.5]])
    # 4 columns asked; one column alone gets ONE_COLUMN_SHARE of the error budget
    assert np.isclose(columns_p(p)[0], 4 * 1e-6 / ONE_COLUMN_SHARE)


def test_two_moderate_columns_beat_one_moderate_column() -> None:
    one = columns_p(np.array([[1e-3, 0.5, 0.5, 0.5]]))[0]
    two = columns_p(np.array([[1e-3, 1e-3, 0.5, 0.5]]))[0]
    assert two < one / 50


def test_calm_columns_are_counted_and_missing_ones_are_not() -> None:
    """A calm column (p-value 1) was asked all the same: the correction pays for it. A
    column without a value was not: a row with one column left is that column."""
    p = np.array([[1e-4, 1.0, 1.0, 1.0]])
    assert np.isclose(columns_p(p)[0], 4 * 1e-4)
    assert np.isclose(columns_p(p, asked=np.array([4]))[0], 4 * 1e-4)
    assert np.isclose(columns_p(p, asked=np.array([1]))[0], columns_p(np.array([[1e-4]]))[0])


def test_row_calibration_scales_up_a_source_whose_rows_fall_low_too_often() -> None:
    cal = RowCalibration(n=2, level=1e-3, prior_rows=100.0)
    scored = np.array([True, True])
    for k in range(2000):
        # source 0 starts a run below the level every 50 rows (20 times too often),
        # source 1 never does
        p0 = 1e-4 if k % 50 == 0 else 0.5
        cal.correct(np.array([p0, 0.5]), scored)
    out = cal.correct(np.array([1e-4, 1e-4]), scored)
    assert 1e-3 < out[0] < 5e-3  # about 20 times the p-value
    assert out[1] == 1e-4  # a well-behaved source is left alone (never scaled down)


def test_row_calibration_ignores_rows_not_scored() -> None:
    cal = RowCalibration(n=1, level=1e-3, prior_rows=100.0)
    for _ in range(500):
        cal.correct(np.array([1e-5]), np.array([False]))
    assert cal.correct(np.array([1e-5]), np.array([True]))[0] == 1e-5


def test_stouffer_is_symmetric_and_below_each_input_when_both_are_small() -> None:
    a, b = np.array([1e-3, 0.5]), np.array([1e-2, 0.5])
    assert np.allclose(stouffer(a, b), stouffer(b, a))
    assert stouffer(a, b)[0] < 1e-3
    assert stouffer(a, b)[1] == 1.0  # two unremarkable values are no evidence at all


def test_stouffer_pays_agreement_more_than_one_kind_alone() -> None:
    """The columns and the multivariate detectors agreeing somewhat is an alert; one kind
    somewhat out while the other is unmoved is not, however calm the other (a p-value of
    1 is no veto: a far-out kind still pages alone)."""
    agreeing = stouffer(np.array([1e-3]), np.array([1e-3]))[0]
    alone = stouffer(np.array([1e-5]), np.array([0.5]))[0]
    assert agreeing < 1e-4 < alone
    assert stouffer(np.array([1e-5]), np.array([1.0]))[0] == alone
    assert stouffer(np.array([1e-12]), np.array([1.0]))[0] < 1e-6
    assert np.isnan(stouffer(np.array([np.nan]), np.array([0.5]))[0])


def test_drift_is_reported_in_a_file_beside_the_outputs(tmp_path: Path) -> None:
    """Column b's spread grows fourfold for good, which no level shift explains: the
    multivariate detector's inputs drift. (A jump of b's level, the case until 2026-12-08,
    is a level shift: whether the group's run lasts until the ensemble accepts it as the
    new normal, standardised inputs and all, or breaks off first and drift is found, depended
    on the forest's random draws: scikit-learn's with seed 1 accepted it, its seed 0 did not.)
    """
    rng = np.random.default_rng(4)
    rows = 6000
    base = rng.normal(0, 1, (rows, 3))
    base[rows // 2 :, 1] = rng.normal(0, 4, rows - rows // 2)  # a lasting change of column b
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


def _detect_rows(tmp_path: Path, lift: dict[int, float], row: int = 2500) -> pd.DataFrame:
    """Four calm columns (sd 1) two minutes apart (row 2500 is on the fourth day: a series
    alerts once it is two days old); at ``row``, column i moves by lift[i]."""
    rng = np.random.default_rng(3)
    x = rng.normal(50.0, 1.0, (3000, 4))
    for i, by in lift.items():
        x[row, i] += by
    stamps = pd.date_range("2026-01-05", periods=len(x), freq="2min").strftime("%Y-%m-%d %H:%M:%S")
    src = tmp_path / "in.csv"
    pd.DataFrame({"timestamp": stamps, **{f"m{i}": x[:, i] for i in range(4)}}).to_csv(
        src, index=False
    )
    assert not detect_path(src, tmp_path / "out")
    return pd.read_csv(tmp_path / "out" / "in.csv")


def test_a_row_flagged_by_two_agreeing_columns_names_both(tmp_path: Path) -> None:
    """4.5 sigma on two columns at once: neither is an alert alone, together they are; the
    reason says so instead of showing one column's small deviation against its band."""
    out = _detect_rows(tmp_path, {0: 4.5, 1: 4.5})
    assert np.flatnonzero(out["is_anomaly"].to_numpy()).tolist() == [2500]
    reason = out.loc[2500, "reason"]
    assert reason.startswith("m0 ") and " and m1 " in reason, reason
    assert "unusual at the same time" in reason and "about 1 in " in reason
    assert "σ" not in reason


def test_a_row_one_column_flags_alone_keeps_that_columns_reason(tmp_path: Path) -> None:
    out = _detect_rows(tmp_path, {0: 8.0})
    assert np.flatnonzero(out["is_anomaly"].to_numpy()).tolist() == [2500]
    reason = out.loc[2500, "reason"]
    assert reason.startswith("m0 ") and "σ above the usual" in reason, reason
