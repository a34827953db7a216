"""``anomalert detect PATH --output OUT``: the file contract of PRODUCT.md, through the CLI.

Most cases go through ``typer.testing.CliRunner`` on ``anomalert.cli.app``; one runs the
installed ``anomalert`` script in a subprocess. Outputs are read back as text
(``dtype=str``, no NA conversion) so "input columns preserved" means byte-for-byte cells.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from anomalert.cli import EXIT_BAD_INPUT, app
from anomalert.detect.files import FIRST_COUNT, YOUNG_NOTE

OUTPUT_COLUMNS = ["anomaly_score", "is_anomaly", "reason"]
ROWS = 900
SPIKE_ROW = 700
START = datetime(2024, 1, 1, tzinfo=UTC)


def stamps(rows: int = ROWS) -> list[str]:
    """Five-minute rows: the spike comes on the series' third day (a series alerts only
    once it is two days old)."""
    step = timedelta(minutes=5)
    return [(START + i * step).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(rows)]


def values(seed: int, rows: int = ROWS, spike: bool = True) -> list[str]:
    rng = np.random.default_rng(seed)
    x = 100.0 + 5.0 * np.sin(np.arange(rows) / 60.0) + rng.normal(0.0, 1.0, rows)
    if spike:
        x[SPIKE_ROW] += 40.0
    return [f"{v:.3f}" for v in x]


def write_csv(path: Path, columns: dict[str, list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    lines = [",".join(names)]
    lines += [",".join(row) for row in zip(*(columns[n] for n in names), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def good_csv(path: Path, seed: int = 0) -> Path:
    return write_csv(path, {"timestamp": stamps(), "value": values(seed)})


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def run_cli(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["detect", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def check_output(src: Path, dest: Path) -> pd.DataFrame:
    """The output of one file: its rows in order, its cells unchanged, three columns more."""
    inp, out = read(src), read(dest)
    assert list(out.columns) == [*inp.columns, *OUTPUT_COLUMNS]
    assert len(out) == len(inp)
    pd.testing.assert_frame_equal(out[list(inp.columns)], inp)
    score = out["anomaly_score"].astype(float)
    assert ((score >= 0.0) & (score <= 1.0)).all()
    assert set(out["is_anomaly"]) <= {"0", "1"}
    flagged = out["is_anomaly"] == "1"
    assert (out.loc[flagged, "reason"].str.strip() != "").all()
    return out


# ------------------------------------------------------------------------ the happy path
def test_folder_outputs_mirror_nested_input_paths(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    files = [
        good_csv(src / "api" / "latency.csv", 1),
        good_csv(src / "api" / "v2" / "errors.csv", 2),
        good_csv(src / "top.csv", 3),
        write_csv(
            src / "db" / "two.csv",
            {"timestamp": stamps(), "cpu": values(4, spike=False), "latency_ms": values(5)},
        ),
    ]
    (src / "notes.txt").write_text("not a csv\n")
    code, _, stderr = run_cli(src, "--output", out)
    assert code == 0, stderr
    assert stderr == ""
    produced = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert produced == sorted(f.relative_to(src) for f in files)
    for f in files:
        result = check_output(f, out / f.relative_to(src))
        flags = np.flatnonzero(result["is_anomaly"] == "1")
        assert SPIKE_ROW in flags, f"the +40 spike of {f.name} is not flagged"
        assert len(flags) <= 3, f"{f.name}: {len(flags)} alerts on a calm series"


def test_a_file_younger_than_two_days_is_scored_but_raises_no_alert(tmp_path: Path) -> None:
    """Fifteen hours of one-minute rows: the spike scores as rare as ever, but a series
    alerts only once it is two days old (its daily shape is not known yet)."""
    minutes = [(START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(ROWS)]
    src = write_csv(tmp_path / "young.csv", {"timestamp": minutes, "value": values(31)})
    out = tmp_path / "out"
    code, _, stderr = run_cli(src, "--output", out)
    assert code == 0, stderr
    result = check_output(src, out / "young.csv")
    assert float(result.loc[SPIKE_ROW, "anomaly_score"]) >= 0.9
    assert (result["is_anomaly"] == "0").all()
    # The score says rare; the reason says what it is and why no alert was raised.
    reason = result.loc[SPIKE_ROW, "reason"]
    assert reason.startswith("value ") and "spike" in reason, reason
    assert reason.endswith(YOUNG_NOTE), reason
    # Rows that scored low keep an empty reason.
    calm = result["anomaly_score"].astype(float) < 0.5
    assert (result.loc[calm, "reason"] == "").all()


def test_min_age_lets_a_short_file_alert(tmp_path: Path) -> None:
    """``--min-age 6h``: the same fifteen hours alert at the spike (past six hours and 120
    rows), and only there; the default run of the same file raised none."""
    minutes = [(START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(ROWS)]
    src = write_csv(tmp_path / "young.csv", {"timestamp": minutes, "value": values(31)})
    out = tmp_path / "out"
    code, _, stderr = run_cli(src, "--output", out, "--min-age", "6h")
    assert code == 0, stderr
    result = check_output(src, out / "young.csv")
    assert np.flatnonzero(result["is_anomaly"] == "1").tolist() == [SPIKE_ROW]
    assert not result.loc[SPIKE_ROW, "reason"].endswith(YOUNG_NOTE)


@pytest.mark.parametrize(
    "option, bad, says",
    [("--min-age", bad, "") for bad in ("soon", "-1h", "1h-", "")]
    + [("--timezone", bad, "unknown time zone") for bad in ("Europe/Atlantis", "CEST", "")]
    + [("--counters", " ", "a pattern must not be empty")],
)
def test_a_bad_option_exits_2_with_one_line(
    tmp_path: Path, option: str, bad: str, says: str
) -> None:
    src = good_csv(tmp_path / "cpu.csv")
    code, _, stderr = run_cli(src, "--output", tmp_path / "out", option, bad)
    assert code == EXIT_BAD_INPUT
    lines = error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}: {says}"), lines
    assert not (tmp_path / "out").exists()


def test_counter_columns_are_scored_on_their_rate(tmp_path: Path) -> None:
    """A request counter in five-minute rows over four days, restarting twice on the third
    day, its traffic halved for an hour on the fourth: with ``--counters '*_total'`` the
    restarts are quiet and the halving alerts, named as a rate; read as it is, the restarts
    alert and the halving does not. The output keeps the counter's values as read."""
    rows = 4 * 288
    rng = np.random.default_rng(5)
    per_second = 10.0 + 5.0 * np.sin(2.0 * np.pi * np.arange(rows) / 288.0)
    halving = range(1000, 1012)
    per_second[list(halving)] *= 0.5
    total = np.cumsum(rng.poisson(300.0 * per_second)).astype(float)
    restarts = (700, 900)
    for k in restarts:
        total[k:] -= total[k - 1] - 3.0  # the new process counted 3 before its first scrape
    cpu = 40.0 + rng.normal(0.0, 1.0, rows)
    table = {"timestamp": stamps(rows), "requests_total": [f"{v:.0f}" for v in total]}
    src = write_csv(tmp_path / "api.csv", {**table, "cpu": [f"{v:.2f}" for v in cpu]})

    def alerts(*options: str) -> tuple[list[int], pd.DataFrame]:
        out = tmp_path / f"out{len(options)}"
        code, _, stderr = run_cli(src, "--output", out, *options)
        assert code == 0, stderr
        result = check_output(src, out / "api.csv")
        return np.flatnonzero(result["is_anomaly"] == "1").tolist(), result

    rated, result = alerts("--counters", "*_total")
    near_restart = [k for k in rated if any(abs(k - r) <= 2 for r in restarts)]
    caught = [k for k in rated if k in halving]
    assert near_restart == [] and caught, rated
    assert result.loc[caught[0], "reason"].startswith("rate(requests_total) ")
    as_read, _ = alerts()
    assert [k for k in as_read if any(abs(k - r) <= 2 for r in restarts)], as_read
    assert not [k for k in as_read if k in halving]


def test_a_counters_first_row_says_why_it_has_no_score(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "jobs.csv", {"timestamp": stamps(3), "jobs_total": ["5", "", "9"]})
    code, _, stderr = run_cli(src, "--output", tmp_path / "out", "--counters", "jobs_total")
    assert code == 0, stderr
    result = check_output(src, tmp_path / "out" / "jobs.csv")
    assert result["reason"].tolist() == [FIRST_COUNT, "missing value", ""]
    assert result["jobs_total"].tolist() == ["5", "", "9"]


def test_a_timezone_puts_the_reason_on_the_local_clock(tmp_path: Path) -> None:
    """Three weeks of five-minute points of a shape that follows Berlin's clock (busy
    09:00-17:00 there), and a spike at 14:00 Berlin time, 13:00 UTC, on the last day: its
    reason names the usual value for Wed 14:00. Read in UTC the same spike's reason names
    13:00; both runs flag it."""
    t = pd.date_range("2027-01-04", periods=21 * 288, freq="5min", tz="UTC")
    local = t.tz_convert("Europe/Berlin")
    rng = np.random.default_rng(5)
    x = 100.0 + 30.0 * ((local.hour >= 9) & (local.hour < 17)) + rng.normal(0.0, 2.0, t.size)
    spike = int(np.flatnonzero(t == pd.Timestamp("2027-01-20 13:00", tz="UTC"))[0])
    x[spike] += 60.0
    src = write_csv(
        tmp_path / "berlin.csv",
        {"timestamp": list(t.strftime("%Y-%m-%dT%H:%M:%SZ")), "value": [f"{v:.3f}" for v in x]},
    )
    for zone, hour in (("Europe/Berlin", "Wed 14:00"), ("UTC", "Wed 13:00")):
        out = tmp_path / zone.replace("/", "-")
        code, _, stderr = run_cli(src, "--output", out, "--timezone", zone)
        assert code == 0, stderr
        result = check_output(src, out / "berlin.csv")
        assert result.loc[spike, "is_anomaly"] == "1"
        assert (
            f"for {hour})" in result.loc[spike, "reason"]
            or f"for {hour} " in result.loc[spike, "reason"]
        ), result.loc[spike, "reason"]


def test_a_local_time_export_across_a_clock_change_does_not_page(tmp_path: Path) -> None:
    """Naive timestamps in Berlin's local time (as a spreadsheet exports them), five-minute
    rows busy 09:00-17:00 local every day, three weeks up to two days after the autumn
    change (its repeated hour written twice): read on Berlin's clock with --timezone,
    nothing pages."""
    moments = pd.date_range("2027-10-10", "2027-11-02", freq="5min", tz="UTC")
    local = moments.tz_convert("Europe/Berlin")
    rng = np.random.default_rng(9)
    x = 100.0 + 30.0 * ((local.hour >= 9) & (local.hour < 17)) + rng.normal(0.0, 2.0, local.size)
    src = write_csv(
        tmp_path / "local.csv",
        {
            "timestamp": list(local.strftime("%Y-%m-%d %H:%M:%S")),
            "value": [f"{v:.3f}" for v in x],
        },
    )
    code, _, stderr = run_cli(src, "--output", tmp_path / "out", "--timezone", "Europe/Berlin")
    assert code == 0, stderr
    result = check_output(src, tmp_path / "out" / "local.csv")
    assert (result["is_anomaly"] == "0").all(), result[result["is_anomaly"] == "1"]


def test_single_file_output_goes_directly_under_out(tmp_path: Path) -> None:
    src = good_csv(tmp_path / "deep" / "cpu.csv")
    out = tmp_path / "out"
    code, _, stderr = run_cli(src, "--output", out)
    assert code == 0, stderr
    assert [p.relative_to(out) for p in out.rglob("*.csv")] == [Path("cpu.csv")]
    result = check_output(src, out / "cpu.csv")
    assert result.loc[SPIKE_ROW, "is_anomaly"] == "1"
    reason = result.loc[SPIKE_ROW, "reason"]
    assert reason.startswith("value ")
    assert "above" in reason and "spike" in reason
    # rows that are neither flagged nor missing carry no reason
    assert (result.loc[result["is_anomaly"] == "0", "reason"] == "").all()


def test_causal_through_the_cli(tmp_path: Path) -> None:
    """Scoring a prefix of a file gives exactly the first rows of scoring the whole file."""
    ts, xs = stamps(), values(7)
    whole = write_csv(tmp_path / "whole" / "m.csv", {"timestamp": ts, "value": xs})
    cut = SPIKE_ROW + 5
    part = write_csv(tmp_path / "part" / "m.csv", {"timestamp": ts[:cut], "value": xs[:cut]})
    assert run_cli(whole, "--output", tmp_path / "o1")[0] == 0
    assert run_cli(part, "--output", tmp_path / "o2")[0] == 0
    full = read(tmp_path / "o1" / "m.csv")
    head = read(tmp_path / "o2" / "m.csv")
    assert len(head) == cut
    pd.testing.assert_frame_equal(head, full.iloc[:cut])
    assert head.loc[SPIKE_ROW, "is_anomaly"] == "1"


# ------------------------------------------------------------------------ bad input
BAD_FILES: dict[str, tuple[str, str]] = {
    # name: (content, what the one stderr line must say)
    "no_timestamp.csv": (
        "time,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,2\n",
        r"no 'timestamp' column",
    ),
    "bad_value.csv": (
        "timestamp,value\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,12x\n"
        "2024-01-01T00:02:00Z,3\n",
        r"unparsable value '12x' in column 'value'",
    ),
    "empty.csv": ("", r"empty file"),
    "header_only.csv": ("timestamp,value\n", r"empty file|no data rows"),
    "text_only.csv": ("timestamp,host\n2024-01-01T00:00:00Z,web-1\n", r"no numeric column"),
    "bad_timestamp.csv": (
        "timestamp,value\n2024-01-01T00:00:00Z,1\nyesterday noon,2\n",
        r"unparsable timestamp 'yesterday noon'",
    ),
}


@pytest.mark.parametrize("bad", sorted(BAD_FILES))
def test_bad_file_exits_2_with_one_line_and_good_files_still_scored(
    tmp_path: Path, bad: str
) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "ok" / "good.csv")
    content, problem = BAD_FILES[bad]
    bad_path = src / "sub" / bad
    bad_path.parent.mkdir(parents=True)
    bad_path.write_text(content)
    code, _, stderr = run_cli(src, "--output", out)
    assert code == EXIT_BAD_INPUT == 2
    lines = error_lines(stderr)
    assert len(lines) == 1, lines
    assert str(bad_path) in lines[0]
    assert re.search(problem, lines[0]), lines[0]
    check_output(good, out / "ok" / "good.csv")
    assert not (out / "sub" / bad).exists()


def test_all_bad_files_of_a_folder_reported_once_each(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    goods = [good_csv(src / "a.csv", 1), good_csv(src / "deep" / "b.csv", 2)]
    for name, (content, _) in BAD_FILES.items():
        (src / "bad").mkdir(exist_ok=True)
        (src / "bad" / name).write_text(content)
    code, _, stderr = run_cli(src, "--output", out)
    assert code == 2
    lines = error_lines(stderr)
    assert len(lines) == len(BAD_FILES), lines
    for name, (_, problem) in BAD_FILES.items():
        mine = [line for line in lines if str(src / "bad" / name) in line]
        assert len(mine) == 1, (name, lines)
        assert re.search(problem, mine[0])
    for g in goods:
        check_output(g, out / g.relative_to(src))
    assert not (out / "bad").exists()


def test_nonexistent_path_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "metrics.csv"
    code, _, stderr = run_cli(missing, "--output", tmp_path / "out")
    assert code == 2
    lines = error_lines(stderr)
    assert len(lines) == 1, lines
    assert str(missing) in lines[0]
    assert "no such file" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="root can read a chmod 000 file"
)
def test_unreadable_file_exits_2_and_others_still_scored(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "good.csv")
    locked = good_csv(src / "locked.csv")
    locked.chmod(0)
    try:
        code, _, stderr = run_cli(src, "--output", out)
    finally:
        locked.chmod(0o644)
    assert code == 2
    lines = error_lines(stderr)
    assert len(lines) == 1, lines
    assert str(locked) in lines[0]
    assert "unreadable" in lines[0] or "ermission" in lines[0]
    check_output(good, out / "good.csv")


def test_installed_script_in_a_subprocess(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("anomalert")
    assert script.exists(), script
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "svc" / "p99.csv")
    bad = src / "svc" / "broken.csv"
    bad.write_text("when,value\n2024-01-01T00:00:00Z,1\n")
    proc = subprocess.run(
        [str(script), "detect", str(src), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert str(bad) in lines[0] and "timestamp" in lines[0]
    result = check_output(good, out / "svc" / "p99.csv")
    assert result.loc[SPIKE_ROW, "is_anomaly"] == "1"

    ok = subprocess.run(
        [str(script), "detect", str(good), "--output", str(tmp_path / "o2")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    pd.testing.assert_frame_equal(read(tmp_path / "o2" / "p99.csv"), result)


# ------------------------------------------------------------------------ input hygiene
def test_hygiene_missing_duplicate_out_of_order_and_text(tmp_path: Path) -> None:
    ts, xs = stamps(), values(11)
    hosts = [f"web-{i % 3}" for i in range(ROWS)]
    missing_rows = {100: "", 101: "NaN", 102: "inf", 103: "-inf", 104: "nan"}
    for r, cell in missing_rows.items():
        xs[r] = cell
    ts[201] = ts[200]  # duplicate timestamp
    ts[300], ts[301] = ts[301], ts[300]  # one row out of order
    src = write_csv(tmp_path / "h.csv", {"timestamp": ts, "value": xs, "host": hosts})
    out = tmp_path / "out"
    code, _, stderr = run_cli(src, "--output", out)
    assert code == 0, stderr
    result = check_output(src, out / "h.csv")
    assert list(result["timestamp"]) == ts  # every row kept, in input order
    assert list(result["host"]) == hosts  # text column carried through unchanged
    assert list(result["value"]) == xs  # cells as written, including "inf" and ""
    for r in missing_rows:
        assert float(result.loc[r, "anomaly_score"]) == 0.0
        assert result.loc[r, "is_anomaly"] == "0"
        assert "missing value" in result.loc[r, "reason"]
    assert result.loc[200, "timestamp"] == result.loc[201, "timestamp"]
    # duplicates, the late row and the rows around the gap are ordinary rows, not alerts
    calm = [*range(95, 110), 199, 200, 201, 202, 299, 300, 301, 302]
    assert (result.loc[calm, "is_anomaly"] == "0").all()
    assert result.loc[SPIKE_ROW, "is_anomaly"] == "1"
    assert result["reason"].str.contains("host").sum() == 0  # the text column is not scored


def test_multi_column_file_reason_names_the_column(tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "svc.csv",
        {"timestamp": stamps(), "cpu_pct": values(21, spike=False), "latency_ms": values(22)},
    )
    out = tmp_path / "out"
    code, _, stderr = run_cli(src, "--output", out)
    assert code == 0, stderr
    result = check_output(src, out / "svc.csv")
    assert result.loc[SPIKE_ROW, "is_anomaly"] == "1"
    assert result.loc[SPIKE_ROW, "reason"].startswith("latency_ms ")
    assert "cpu_pct" not in result.loc[SPIKE_ROW, "reason"]
    # a row where only one column is missing is still scored on the other one
    xs = values(23, spike=False)
    xs[SPIKE_ROW] = ""
    ys = values(24)
    src2 = write_csv(tmp_path / "half.csv", {"timestamp": stamps(), "a": xs, "b": ys})
    assert run_cli(src2, "--output", out)[0] == 0
    half = check_output(src2, out / "half.csv")
    assert half.loc[SPIKE_ROW, "is_anomaly"] == "1"
    assert half.loc[SPIKE_ROW, "reason"].startswith("b ")
