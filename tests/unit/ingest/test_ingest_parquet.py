"""Parquet files beside CSV: ``anomalert detect`` and scenario folders read them to the same
numbers a CSV of the same data gives, keep their column types in the output, and name
what is wrong with a bad one (``ingest.parquetfile``)."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from anomalert.cli import EXIT_BAD_INPUT, app
from anomalert.demo.scenario import ScenarioSpec, generate
from anomalert.demo.writer import write_scenario
from anomalert.errors import FileInputError
from anomalert.ingest.parquetfile import read_parquet_table
from anomalert.ingest.scenario import load_scenario

ROWS = 900
SPIKE_ROW = 700


def frame(seed: int = 0) -> pd.DataFrame:
    """Five-minute rows with a spike on the series' third day, a label column, a gap."""
    rng = np.random.default_rng(seed)
    x = 100.0 + 5.0 * np.sin(np.arange(ROWS) / 60.0) + rng.normal(0.0, 1.0, ROWS)
    x[SPIKE_ROW] += 40.0
    x[100] = np.nan
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=ROWS, freq="5min", tz="UTC"),
            "latency": np.round(x, 3),
            "host": "web-1",
        }
    )


def detect(path: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["detect", str(path), "-o", str(out), "--no-progress", *extra])
    return result.exit_code, result.output


def as_csv(f: pd.DataFrame, path: Path) -> Path:
    text = f.copy()
    text["timestamp"] = text["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    text.to_csv(path, index=False)
    return path


def test_a_parquet_file_scores_as_its_csv_and_keeps_its_types(tmp_path: Path) -> None:
    data = frame()
    (tmp_path / "in").mkdir()
    data.to_parquet(tmp_path / "in" / "a.parquet")
    as_csv(data, tmp_path / "in" / "b.csv")
    code, output = detect(tmp_path / "in", tmp_path / "out")
    assert code == 0, output
    scored = pd.read_parquet(tmp_path / "out" / "a.parquet")
    from_csv = pd.read_csv(tmp_path / "out" / "b.csv", keep_default_na=False)
    assert list(scored.columns) == [*data.columns, "anomaly_score", "is_anomaly", "reason"]
    assert scored["timestamp"].dtype == data["timestamp"].dtype  # a timestamp, not text
    assert scored["latency"].dtype == np.float64 and scored["host"].iloc[0] == "web-1"
    np.testing.assert_array_equal(scored["anomaly_score"], from_csv["anomaly_score"])
    assert scored["is_anomaly"].tolist() == from_csv["is_anomaly"].tolist()
    assert scored["reason"].tolist() == from_csv["reason"].tolist()
    assert scored["is_anomaly"].iloc[SPIKE_ROW] == 1
    assert scored["reason"].iloc[100] == "missing value"


def test_a_time_indexed_frame_and_naive_times_on_a_zone(tmp_path: Path) -> None:
    data = frame()
    local = data.assign(timestamp=data["timestamp"].dt.tz_convert("Europe/Berlin"))
    naive = local.assign(timestamp=local["timestamp"].dt.tz_localize(None))
    naive.set_index("timestamp").to_parquet(tmp_path / "indexed.parquet")
    table = read_parquet_table(tmp_path / "indexed.parquet", "Europe/Berlin")
    moments = read_parquet_table(_written(data, tmp_path / "utc.parquet"))
    np.testing.assert_array_equal(table.t, moments.t)  # wall clock read on the zone's clock
    assert table.columns == ("latency",)
    as_utc = read_parquet_table(tmp_path / "indexed.parquet")  # no zone named: UTC
    assert (moments.t - as_utc.t)[0] == -3600.0


def _written(f: pd.DataFrame, path: Path) -> Path:
    f.to_parquet(path)
    return path


def test_typed_columns_are_scored_or_carried(tmp_path: Path) -> None:
    data = frame()
    rows = len(data)
    data["epoch"] = (data["timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    data["requests"] = pd.array(np.arange(rows) % 7, dtype="Int64")
    data.loc[3, "requests"] = pd.NA
    data["up"] = np.arange(rows) % 2 == 0
    data["price"] = pd.Series([Decimal("1.25")] * rows, dtype=object)
    data["as_text"] = data["latency"].map(lambda v: "" if np.isnan(v) else f"{v:.3f}")
    data["deployed"] = data["timestamp"]  # a second timestamp column: carried through
    data["checked"] = pd.array([True, None] * (rows // 2), dtype="boolean")
    data["empty"] = pd.Series([None] * rows, dtype="string")  # all missing: a column of gaps
    table = read_parquet_table(_written(data, tmp_path / "typed.parquet"))
    assert table.columns == (
        "latency",
        "epoch",
        "requests",
        "up",
        "price",
        "as_text",
        "checked",
        "empty",
    )
    values = dict(zip(table.columns, table.values.T, strict=True))
    assert values["checked"][:2].tolist()[0] == 1.0 and np.isnan(values["checked"][1])
    assert np.isnan(values["empty"]).all()
    assert np.isnan(values["requests"][3]) and values["requests"][4] == 4.0
    assert values["up"][:2].tolist() == [1.0, 0.0] and values["price"][0] == 1.25
    np.testing.assert_array_equal(values["as_text"], values["latency"])
    epoch = data.drop(columns="timestamp").rename(columns={"epoch": "timestamp"})
    again = read_parquet_table(_written(epoch[["timestamp", "latency"]], tmp_path / "e.parquet"))
    np.testing.assert_array_equal(again.t, table.t)  # numbers are epoch seconds


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (
            lambda f: f.assign(timestamp=f["timestamp"].where(f.index != 4)),
            "empty timestamp at row 5",
        ),
        (lambda f: f.rename(columns={"timestamp": "time"}), "no 'timestamp' column"),
        (lambda f: f.iloc[:0], "empty file (no data rows)"),
        (lambda f: f.assign(reason="x"), "already has output column(s) ['reason']"),
        (lambda f: f.assign(timestamp=["soon"] * len(f)), "unparsable timestamp 'soon'"),
        (
            lambda f: f.assign(latency=["1.5", "high"] * (len(f) // 2)),
            "unparsable value 'high' in column 'latency' at row 2",
        ),
        (lambda f: f[["timestamp", "host"]], "no numeric column to score"),
        (
            lambda f: f.rename(columns={"latency": "lat\x1b[2Jency"}),
            "column 'lat\\x1b[2Jency': must not contain control characters (got \\x1b at "
            "character 4)",
        ),
    ],
)
def test_bad_parquet_content_is_named(tmp_path: Path, build: object, problem: str) -> None:
    path = tmp_path / "bad.parquet"
    build(frame()).to_parquet(path)  # type: ignore[operator]
    with pytest.raises(FileInputError, match=re.escape(problem)):
        read_parquet_table(path)


def test_unreadable_files_exit_2_one_line_each_and_the_rest_is_scored(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    frame().to_parquet(folder / "good.parquet")
    (folder / "text.parquet").write_text("timestamp,value\n")
    (folder / "empty.pq").write_bytes(b"")
    code, output = detect(folder, tmp_path / "out")
    assert code == EXIT_BAD_INPUT
    lines = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(lines) == 2
    assert any("empty.pq: empty file" in line for line in lines)
    assert any("text.parquet: unreadable as Parquet" in line for line in lines)
    assert pd.read_parquet(tmp_path / "out" / "good.parquet")["is_anomaly"].sum() >= 1


def test_a_folder_without_inputs_says_both_kinds(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    code, output = detect(tmp_path / "in", tmp_path / "out")
    assert code == EXIT_BAD_INPUT and "no CSV or Parquet files found" in output


# --- scenario folders ----------------------------------------------------------------------


def to_parquet(folder: Path, naive: bool = False) -> None:
    """Every sample file of a scenario folder rewritten as Parquet with typed columns."""
    for path in sorted((folder / "samples").rglob("*.csv")):
        f = pd.read_csv(path)
        f["timestamp"] = pd.to_datetime(f["timestamp"], utc=True)
        if naive:
            f["timestamp"] = f["timestamp"].dt.tz_localize(None)
        f.to_parquet(path.with_suffix(".parquet"), index=False)
        path.unlink()


@pytest.mark.parametrize("naive", [False, True])
def test_a_parquet_scenario_loads_as_its_csv(tmp_path: Path, naive: bool) -> None:
    scenario = generate(ScenarioSpec(days=2, seed=5))
    write_scenario(scenario, tmp_path / "csv")
    shutil.copytree(tmp_path / "csv", tmp_path / "pq")
    to_parquet(tmp_path / "pq", naive)
    assert not list((tmp_path / "pq").rglob("*.csv"))
    csv, pq = load_scenario(tmp_path / "csv"), load_scenario(tmp_path / "pq")
    assert set(pq.samples) == set(csv.samples) and len(csv.samples) == 36
    for key, series in csv.samples.items():
        pd.testing.assert_series_equal(pq.samples[key], series, check_index_type=False)
        assert pq.samples[key].index.equals(series.index)
    assert pq.events == csv.events and pq.incidents == csv.incidents


GOOD = pd.DataFrame(
    {
        "timestamp": pd.to_datetime(["2026-01-05T00:00:00Z", "2026-01-05T00:01:00Z"]),
        "value": [1.5, 2.0],
    }
)
BAD_SAMPLES = {
    "columns": (GOOD.rename(columns={"value": "v"}), "columns must be timestamp,value"),
    "no rows": (GOOD.iloc[:0], "no samples after the header"),
    "epoch numbers": (
        GOOD.assign(timestamp=[1.0, 2.0]),
        "column timestamp holds numbers",
    ),
    "text time": (GOOD.assign(timestamp=["2026-01-05T00:00:00Z", "later"]), "row 2: 'later'"),
    "null value": (GOOD.assign(value=[1.0, np.nan]), "row 2: 'nan' is not a finite number"),
    "duplicate": (
        GOOD.assign(timestamp=[GOOD["timestamp"][0]] * 2),
        "row 2: '2026-01-05 00:00:00+00:00' is a duplicate timestamp",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SAMPLES))
def test_a_bad_parquet_sample_file_is_named(tmp_path: Path, case: str) -> None:
    bad = tmp_path / "samples" / "search" / "cpu.parquet"
    bad.parent.mkdir(parents=True)
    content, problem = BAD_SAMPLES[case]
    content.to_parquet(bad, index=False)
    with pytest.raises(FileInputError, match=re.escape(f"{bad}: ")) as caught:
        load_scenario(tmp_path)
    assert problem in str(caught.value)


def test_a_corrupt_parquet_sample_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "samples" / "search" / "cpu.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PAR1 truncated")
    with pytest.raises(FileInputError, match=re.escape(f"{bad}: unreadable as Parquet")):
        load_scenario(tmp_path)


def test_one_series_in_two_formats_is_refused(tmp_path: Path) -> None:
    service = tmp_path / "samples" / "web"
    service.mkdir(parents=True)
    GOOD.to_parquet(service / "rate.parquet", index=False)
    (service / "rate.csv").write_text("timestamp,value\n2026-01-05T00:00:00Z,1\n")
    with pytest.raises(FileInputError, match="duplicate series"):
        load_scenario(tmp_path)
