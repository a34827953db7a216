"""What a CSV's cells read as (``ingest.csvfile``): timestamps in their many spellings,
one format and one unit per column, rows out of order, separators and missing-value words.
Each refusal is one ``FileInputError`` naming the file and, where there is one, the row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomalert.errors import FileInputError
from anomalert.ingest.csvfile import parse_timestamps, read_table
from anomalert.ingest.parquetfile import read_parquet_table

START = datetime(2026, 1, 1, tzinfo=UTC)
X = Path("x.csv")


def seconds(rows: int, step: timedelta = timedelta(minutes=1)) -> np.ndarray:
    return np.array([(START + i * step).timestamp() for i in range(rows)])


def refused(cells: list[str], zone: str = "UTC") -> str:
    with pytest.raises(FileInputError) as caught:
        parse_timestamps(pd.Series(cells, dtype=object), X, zone)
    assert "\n" not in str(caught.value)
    return caught.value.problem


@pytest.mark.parametrize(
    "cell",
    [
        *("9999-12-31T23:59:59Z", "0202-01-01T00:00:00Z", "1500-06-01T00:00:00Z"),
        *("2300-01-01", "90000000000", "-99999999999"),
    ],
)
def test_a_time_out_of_range_is_refused_naming_its_row(cell: str) -> None:
    """A ``9999-12-31`` "open end", a mistyped year, or an epoch number past 2262 (in any
    unit): the row is named, never a crash."""
    good = [f"{START + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ}" for i in range(3)]
    if cell.lstrip("-").isdigit():
        good = [f"{START.timestamp() + 60 * i:.0f}" for i in range(3)]
    problem = refused([*good, cell])
    assert problem.startswith(f"timestamp {cell!r} at row 4 is out of range"), problem


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000, 1_000_000_000])
def test_epoch_numbers_are_read_in_the_unit_their_size_tells(scale: int) -> None:
    """Seconds, milliseconds, microseconds and nanoseconds give the same times."""
    expected = seconds(5)
    cells = [str(int(t) * scale) for t in expected]
    np.testing.assert_array_equal(parse_timestamps(pd.Series(cells), X), expected)
    np.testing.assert_array_equal(parse_timestamps(pd.Series(expected * scale), X), expected)


def test_epoch_numbers_of_different_units_are_refused() -> None:
    problem = refused(["1767225600", "1767225660", "1767225720000"])
    assert "different units" in problem and "row 3 '1767225720000'" in problem, problem


@pytest.mark.parametrize(
    "cells, problem",
    [
        (["2026-01-01T00:00:00Z", "", "2026-01-01T00:02:00Z"], "empty timestamp at row 2"),
        (["", "2026-01-01T00:01:00Z"], "empty timestamp at row 1"),
        (["2026-01-01T00:00:00Z", "NaT"], "missing timestamp 'NaT' at row 2"),
        (["1767225600", "1767225660", ""], "empty timestamp at row 3"),
        (["1767225600", "null"], "missing timestamp 'null' at row 2"),
        (
            ["1767225600", "2026-01-01T00:01:00Z"],
            "mixed epoch numbers and dates in column 'timestamp' (row 1 '1767225600' vs "
            "row 2 '2026-01-01T00:01:00Z')",
        ),
        (
            ["2026-01-01T00:00:00Z", "yesterday"],
            "unparsable timestamp 'yesterday' in column 'timestamp' at row 2",
        ),
    ],
)
def test_a_missing_or_mixed_timestamp_names_its_row(cells: list[str], problem: str) -> None:
    """An empty or ``NaT`` cell is no time (it was scored at time NaN, and in row 1 it
    turned off the out-of-order check); the error names the bad row, not a good one."""
    assert refused(cells) == problem


def test_day_first_dates_are_read_day_first_throughout() -> None:
    """``12/01/2024`` is the twelfth of January when the column also holds ``13/01/2024``:
    one format for the whole column, not a guess per row."""
    days = [START + timedelta(days=i) for i in range(40)]
    for fmt in ("%d/%m/%Y", "%d.%m.%Y %H:%M", "%m/%d/%Y", "%m-%d-%Y %H:%M:%S"):
        got = parse_timestamps(pd.Series([d.strftime(fmt) for d in days]), X)
        np.testing.assert_array_equal(got, [d.timestamp() for d in days])


@pytest.mark.parametrize(
    "cells, says",
    [
        (["01/01/2024", "02/01/2024", "03/01/2024"], "ambiguous dates: day-first or month-first"),
        (["12/01/2024", "13/01/2024", "01/14/2024"], "dates disagree on day and month order"),
        (["13/01/2024", "2024-01-14"], "mixed date formats"),
    ],
)
def test_dates_whose_day_and_month_cannot_be_told_are_refused(cells: list[str], says: str) -> None:
    problem = refused(cells)
    assert problem.startswith(says) and problem.endswith("use ISO 8601"), problem


@pytest.mark.parametrize(
    "cells",
    [
        ["2026-01-01T00:00:00Z", "2026-01-01T05:31:00+05:30"],
        ["2026-01-01 00:00:00", "2026-01-01T00:01:00Z"],
        ["2026-01-01 00:00:00 UTC", "2026-01-01 00:01:00 UTC"],
        ["Thu, 01 Jan 2026 00:00:00 +0000", "Thu, 01 Jan 2026 00:01:00 +0000"],
        ["2026-01-01T00:00:00.000000000Z", "2026-01-01T00:01:00.000000000Z"],
    ],
)
def test_other_spellings_still_read(cells: list[str]) -> None:
    np.testing.assert_array_equal(parse_timestamps(pd.Series(cells), X), seconds(2))


def write(path: Path, header: str, rows: list[str], sep: str = ",") -> Path:
    path.write_text("\n".join([header.replace(",", sep), *(r.replace(",", sep) for r in rows)]))
    return path


def rows(n: int, value: str = "1.5") -> list[str]:
    return [f"{START + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},{value}" for i in range(n)]


def test_rows_newest_first_or_shuffled_are_refused_a_few_late_ones_kept(tmp_path: Path) -> None:
    """Newest first, every row would be late (scored, never learned): a file of zeros."""
    ordered = rows(200)
    newest = write(tmp_path / "n.csv", "timestamp,value", ordered[::-1])
    with pytest.raises(FileInputError, match="rows are newest first: sort them oldest first"):
        read_table(newest)
    shuffled = list(np.random.default_rng(1).permutation(ordered))
    mixed = write(tmp_path / "s.csv", "timestamp,value", shuffled)
    with pytest.raises(FileInputError, match=r"\d+ of 200 rows are earlier than a row before"):
        read_table(mixed)
    few = ordered.copy()
    few[50], few[51] = few[51], few[50]
    assert read_table(write(tmp_path / "f.csv", "timestamp,value", few)).late.sum() == 1


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_the_separator_is_told_from_the_header(tmp_path: Path, sep: str) -> None:
    table = read_table(write(tmp_path / "x.csv", "timestamp,value", rows(3), sep))
    assert table.sep == sep and table.columns == ("value",)
    np.testing.assert_array_equal(table.values[:, 0], [1.5] * 3)


def test_decimal_commas_get_a_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.csv", "timestamp;value", [r.replace(",1.5", ";1,5") for r in rows(3)]
    )
    with pytest.raises(FileInputError, match=r"no numeric column to score \(decimal commas"):
        read_table(path)


def test_a_comma_at_the_end_of_every_line_adds_no_column(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "timestamp,value,", [f"{r}," for r in rows(3)] + [",,"])
    table = read_table(path)
    assert list(table.frame.columns) == ["timestamp", "value"]
    assert len(table.frame) == 3  # a line of only separators is a blank line


MISSING_WORDS = ["NULL", "null", "NaN", "NAN", "nan", "-nan", "n/a", "N/A", "#N/A", "none"]
MISSING_WORDS += ["None", "-", "", "NA", "INF", "-Infinity"]


def test_missing_value_words_in_any_case_are_missing(tmp_path: Path) -> None:
    cells = [
        f"{START + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},{w}"
        for i, w in enumerate(MISSING_WORDS)
    ]
    table = read_table(
        write(tmp_path / "x.csv", "timestamp,value,other", [f"{c},2" for c in cells])
    )
    assert np.isnan(table.values[:, 0]).all() and table.columns == ("value", "other")


@pytest.mark.parametrize("cell", ["#DIV/0!", "?", "12x"])
def test_text_among_numbers_is_still_refused_naming_row_and_column(
    tmp_path: Path, cell: str
) -> None:
    lines = [*rows(3), f"{START + timedelta(minutes=3):%Y-%m-%dT%H:%M:%SZ},{cell}"]
    with pytest.raises(FileInputError) as caught:
        read_table(write(tmp_path / "x.csv", "timestamp,value", lines))
    assert caught.value.problem == f"unparsable value {cell!r} in column 'value' at row 4"


def test_a_typed_parquet_time_out_of_range_is_refused(tmp_path: Path) -> None:
    """Parquet keeps years pandas' nanoseconds do not reach (microsecond timestamps)."""
    stamps = pd.Series(pd.to_datetime(["2026-01-01", "9999-12-31"]).as_unit("us"))
    pd.DataFrame({"timestamp": stamps, "value": [1.0, 2.0]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(FileInputError, match="at row 2 is out of range"):
        read_parquet_table(tmp_path / "x.parquet")
