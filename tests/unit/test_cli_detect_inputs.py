"""``anomalert detect`` on awkward inputs and outputs, through the CLI: every problem is one
line on stderr naming its path, exit 2, and the other files of a folder are still scored
(PRODUCT.md's contract); nothing crashes, nothing valid is lost or overwritten."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import anomalert.detect.files as files
from tests.unit.test_cli_detect import (
    ROWS,
    SPIKE_ROW,
    check_output,
    error_lines,
    good_csv,
    read,
    run_cli,
    stamps,
    values,
    write_csv,
)

as_root = os.name != "posix" or os.geteuid() == 0


def test_an_out_of_range_date_fails_its_file_only(tmp_path: Path) -> None:
    """A ``9999-12-31`` in one file crashed the run and lost every file of the folder."""
    src, out = tmp_path / "in", tmp_path / "out"
    goods = [good_csv(src / "a.csv", 1), good_csv(src / "c.csv", 2)]
    ts = stamps()
    ts[3] = "9999-12-31T23:59:59Z"
    bad = write_csv(src / "b.csv", {"timestamp": ts, "value": values(3)})
    code, _, stderr = run_cli(src, "-o", out, "--no-progress")
    assert code == 2
    lines = error_lines(stderr)
    assert lines == [
        f"error: {bad}: timestamp '9999-12-31T23:59:59Z' at row 4 is out of range "
        "(supported: 1677-09-23 to 2262-04-10)"
    ]
    for g in goods:
        check_output(g, out / g.name)


def test_epoch_milliseconds_score_as_their_seconds(tmp_path: Path) -> None:
    """Epoch numbers in ms, µs or ns are told by their size: the same scores as ISO times
    (read as seconds, ms made a series 1000 times older, which alerted or crashed)."""
    seconds = pd.Series([int(pd.Timestamp(s).timestamp()) for s in stamps()])
    outputs = []
    for unit, scale in (("s", 1), ("ms", 10**3), ("ns", 10**9)):
        ts = list((seconds * scale).astype(str))
        src = write_csv(tmp_path / f"{unit}.csv", {"timestamp": ts, "value": values(4)})
        code, _, stderr = run_cli(src, "-o", tmp_path / "out")
        assert code == 0 and stderr == "", stderr
        outputs.append(read(tmp_path / "out" / src.name).drop(columns="timestamp"))
    iso = good_csv(tmp_path / "iso.csv", 4)
    assert run_cli(iso, "-o", tmp_path / "out")[0] == 0
    expected = read(tmp_path / "out" / "iso.csv").drop(columns="timestamp")
    assert expected.loc[SPIKE_ROW, "is_anomaly"] == "1"
    for got in outputs:
        pd.testing.assert_frame_equal(got, expected)


def test_day_first_dates_score_as_their_iso_times(tmp_path: Path) -> None:
    """Half the rows of a DD/MM/YYYY file were read month-first (late, never learned)."""
    times = pd.date_range("2024-01-11", periods=ROWS, freq="5min")
    columns = {"value": values(5)}
    iso = write_csv(
        tmp_path / "iso.csv", {"timestamp": list(times.strftime("%Y-%m-%dT%H:%M")), **columns}
    )
    ddmm = write_csv(
        tmp_path / "ddmm.csv", {"timestamp": list(times.strftime("%d/%m/%Y %H:%M")), **columns}
    )
    for src in (iso, ddmm):
        code, _, stderr = run_cli(src, "-o", tmp_path / "out")
        assert code == 0, stderr
    pd.testing.assert_frame_equal(
        read(tmp_path / "out" / "ddmm.csv").drop(columns="timestamp"),
        read(tmp_path / "out" / "iso.csv").drop(columns="timestamp"),
    )


def test_newest_first_is_refused_and_the_rest_scored(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "a.csv")
    bad = write_csv(src / "b.csv", {"timestamp": stamps()[::-1], "value": values(6)})
    code, _, stderr = run_cli(src, "-o", out, "--no-progress")
    assert code == 2
    assert error_lines(stderr) == [f"error: {bad}: rows are newest first: sort them oldest first"]
    check_output(good, out / "a.csv")


@pytest.mark.parametrize("make", ["file", "under_a_file"])
def test_an_output_that_cannot_be_a_folder_is_one_line(tmp_path: Path, make: str) -> None:
    src = good_csv(tmp_path / "a.csv")
    target = tmp_path / "taken"
    target.write_text("not a folder\n")
    out = target if make == "file" else target / "sub"
    code, _, stderr = run_cli(src, "-o", out)
    assert code == 2
    lines = error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith(f"error: {out}: "), lines
    assert target.read_text() == "not a folder\n"


def test_the_input_folder_as_output_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    good = good_csv(src / "a.csv")
    before = good.read_text()
    for path, out in ((src, src), (good, src)):
        code, _, stderr = run_cli(path, "-o", out)
        assert code == 2
        lines = error_lines(stderr)
        assert len(lines) == 1 and "would be overwritten" in lines[0], lines
    assert good.read_text() == before and sorted(os.listdir(src)) == ["a.csv"]


def test_an_output_inside_the_input_is_not_walked(tmp_path: Path) -> None:
    """Run twice: the second run does not read the first run's outputs as inputs."""
    src = tmp_path / "in"
    good = good_csv(src / "a.csv")
    out = src / "results"
    for _ in range(2):
        code, _, stderr = run_cli(src, "-o", out, "--no-progress")
        assert code == 0, stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) == [Path("a.csv")]
    check_output(good, out / "a.csv")


def test_a_file_that_fails_leaves_no_earlier_output(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    good_csv(src / "a.csv")
    bad = good_csv(src / "b.csv")
    assert run_cli(src, "-o", out, "--no-progress")[0] == 0
    assert (out / "b.csv").exists()
    bad.write_text("garbage\n")
    code, _, _ = run_cli(src, "-o", out, "--no-progress")
    assert code == 2
    assert not (out / "b.csv").exists() and (out / "a.csv").exists()


def test_links_and_compressed_files_in_a_folder(tmp_path: Path) -> None:
    """A linked folder is followed (once: a link back up is a loop, named); broken and
    looping file links are named; ``.csv.gz`` is scored and written as gzip."""
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "a.csv", 1)
    outside = good_csv(tmp_path / "elsewhere" / "b.csv", 2)
    (src / "linked").symlink_to(outside.parent, target_is_directory=True)
    (src / "sub").mkdir()
    (src / "sub" / "up").symlink_to(src, target_is_directory=True)
    (src / "gone.csv").symlink_to(tmp_path / "missing.csv")
    (src / "self.csv").symlink_to(src / "self.csv")
    with gzip.open(src / "c.csv.gz", "wt") as f:
        f.write(good.read_text())
    code, _, stderr = run_cli(src, "-o", out, "--no-progress")
    assert code == 2
    lines = sorted(error_lines(stderr))
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"error: {src / 'gone.csv'}: broken symbolic link")
    assert lines[1].startswith(f"error: {src / 'self.csv'}: broken symbolic link")
    assert lines[2].startswith(f"error: {src / 'sub' / 'up'}: symbolic link loop")
    check_output(good, out / "a.csv")
    check_output(outside, out / "linked" / "b.csv")
    with gzip.open(out / "c.csv.gz", "rt") as f:
        assert f.read() == (out / "a.csv").read_text()


@pytest.mark.skipif(as_root, reason="root reads a chmod 000 folder or file")
def test_an_unreadable_subfolder_and_file_are_one_line_each(tmp_path: Path) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "a.csv")
    locked = src / "locked"
    good_csv(locked / "b.csv")
    locked.chmod(0)
    try:
        code, _, stderr = run_cli(src, "-o", out, "--no-progress")
    finally:
        locked.chmod(0o755)
    assert code == 2
    assert error_lines(stderr) == [f"error: {locked}: unreadable folder: permission denied"]
    check_output(good, out / "a.csv")
    good.chmod(0)
    try:
        code, _, stderr = run_cli(good, "-o", out)
    finally:
        good.chmod(0o644)
    assert code == 2
    assert error_lines(stderr) == [f"error: {good}: unreadable: permission denied"]


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path: Path) -> None:
    src = tmp_path / "in"
    bad = write_csv(src / "bad\nname.csv", {"when": ["1"], "value": ["2"]})
    code, _, stderr = run_cli(src, "-o", tmp_path / "out")
    assert code == 2
    assert error_lines(stderr) == [
        f"error: {src}/bad\\nname.csv: no 'timestamp' column (columns: when, value)"
    ]
    assert bad.exists()


@pytest.mark.parametrize(
    ("column", "name", "shown"),
    [
        ("va\x00lue", "va\\x00lue", "\\x00"),
        ("va\x07lue", "va\\x07lue", "\\x07"),
        ('"va\nlue"', "va\\nlue", "\\n"),  # quoted: a line break inside the header
        ("va\x7flue", "va\\x7flue", "\\x7f"),
        ("va\x85lue", "va\\x85lue", "\\x85"),
    ],
)
def test_a_column_named_with_a_control_character_fails_its_file_only(
    tmp_path: Path, column: str, name: str, shown: str
) -> None:
    """The name went on into the output's header and its reasons, NUL and escapes included."""
    src, out = tmp_path / "in", tmp_path / "out"
    good = good_csv(src / "a.csv")
    bad = write_csv(src / "b.csv", {"timestamp": stamps(), column: values(8)})
    code, _, stderr = run_cli(src, "-o", out, "--no-progress")
    assert code == 2
    assert error_lines(stderr) == [
        f"error: {bad}: column '{name}': must not contain control characters (got {shown} at "
        "character 3)"
    ]
    check_output(good, out / "a.csv")
    assert not (out / "b.csv").exists()


def test_huge_values_print_no_warnings(tmp_path: Path) -> None:
    xs = values(7)
    xs[SPIKE_ROW] = "1.7e308"
    src = write_csv(tmp_path / "a.csv", {"timestamp": stamps(), "value": xs})
    code, _, stderr = run_cli(src, "-o", tmp_path / "out")
    assert code == 0 and stderr == "", stderr
    check_output(src, tmp_path / "out" / "a.csv")


def test_a_large_single_file_shows_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = good_csv(tmp_path / "a.csv")
    assert "scoring rows" not in run_cli(src, "-o", tmp_path / "o1")[1]
    monkeypatch.setattr(files, "LARGE_FILE_ROWS", ROWS)
    code, stdout, stderr = run_cli(src, "-o", tmp_path / "o2")
    assert code == 0 and stderr == "" and "scoring rows" in stdout
    assert "scoring rows" not in run_cli(src, "-o", tmp_path / "o3", "--no-progress")[1]


def test_separators_and_trailing_commas_are_kept(tmp_path: Path) -> None:
    """A ``;`` file was refused for "no 'timestamp' column (columns: timestamp;value)"; a
    comma at the end of every line added an ``Unnamed: 2`` column to the output."""
    src, out = tmp_path / "in", tmp_path / "out"
    ts, xs = stamps(), values(8)
    (src).mkdir()
    (src / "semi.csv").write_text(
        "\n".join(["timestamp;value", *map(";".join, zip(ts, xs, strict=True))])
    )
    (src / "trail.csv").write_text(
        "\n".join(["timestamp,value,", *(f"{t},{x}," for t, x in zip(ts, xs, strict=True))])
    )
    shutil.copy(good_csv(tmp_path / "plain.csv", 8), src / "plain.csv")
    code, _, stderr = run_cli(src, "-o", out, "--no-progress")
    assert code == 0, stderr
    plain = read(out / "plain.csv")
    pd.testing.assert_frame_equal(read(out / "trail.csv"), plain)
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "semi.csv", sep=";", dtype=str, keep_default_na=False), plain
    )
    assert np.flatnonzero(plain["is_anomaly"] == "1").tolist() == [SPIKE_ROW]
