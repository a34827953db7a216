"""Read Parquet files of samples: the same contract and hygiene as CSV, with typed columns.

Exports from warehouses, notebooks and metric stores often come as Parquet; converting
them to CSV first loses the types and costs a copy. A Parquet file is read to the same
``Table`` a CSV becomes (``ingest.csvfile``: every rule of its docstring holds), except
that its columns already have types, so:

* the ``timestamp`` column may be a timestamp type (with a time zone: a moment; without
  one: the wall clock of the zone the caller names, as a CSV's times without an offset),
  numbers (epoch seconds) or text (parsed as in a CSV); a frame whose *index* is named
  ``timestamp`` (what pandas writes for a time-indexed frame) has it taken as the column;
* numeric and boolean columns are scored (nulls, NaN and ±inf are missing values);
  text columns are parsed as a CSV's cells are (numbers written as text are scored, a
  column of labels is carried through, a column that mixes both is an error); timestamps,
  durations, binary, lists and structs are carried through, not scored;
* a file Parquet cannot read (not Parquet, truncated) is a ``FileInputError`` naming it.

The output mirrors the input as Parquet, its columns keeping their types.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from anomalert.detect.localtime import LocalTime
from anomalert.errors import FileInputError
from anomalert.ingest.csvfile import (
    TIMESTAMP,
    Table,
    build_table,
    check_columns,
    local_seconds,
    parse_numeric,
    parse_timestamps,
    seconds_of,
)

SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def read_frame(path: Path) -> pd.DataFrame:
    """The file's frame, its ``timestamp`` index (if any) made a column."""
    try:
        if path.stat().st_size == 0:
            raise FileInputError(path, "empty file")
        frame = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise FileInputError(path, f"unreadable as Parquet: {exc}") from exc
    if TIMESTAMP not in frame.columns and frame.index.name == TIMESTAMP:
        frame = frame.reset_index()
    return frame.reset_index(drop=True)


def read_parquet_table(path: Path, zone: str = "UTC") -> Table:
    """Load and validate one Parquet file (see the module docstring)."""
    frame = read_frame(path)
    check_columns(path, frame)
    t = timestamps(frame[TIMESTAMP], path, zone)
    return build_table(path, frame, t, lambda col: numbers(frame[col], path, col))


def timestamps(raw: pd.Series, path: Path, zone: str = "UTC") -> np.ndarray:
    """Unix seconds of a typed ``timestamp`` column (text and numbers as in a CSV)."""
    if not pd.api.types.is_datetime64_any_dtype(raw):
        return parse_timestamps(raw, path, zone)
    if raw.isna().any():
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise FileInputError(path, f"empty timestamp at row {row + 1}")
    moments = raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
    seconds = seconds_of(moments, raw, path)  # refuses years pandas' nanoseconds miss
    if raw.dt.tz is None and not LocalTime(zone).is_utc:
        return local_seconds(raw, zone)
    return seconds


def numbers(raw: pd.Series, path: Path, col: str) -> np.ndarray | None:
    """A column's values as floats (NaN where missing); None: carried through, not scored.
    A type pandas cannot turn into numbers is the file's problem, named, not a crash."""
    try:
        return _numbers(raw, path, col)
    except (TypeError, ValueError, ArithmeticError) as exc:
        problem = f"column {col!r}: values not readable as numbers ({exc})"
        raise FileInputError(path, problem) from exc


def _numbers(raw: pd.Series, path: Path, col: str) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
        return pd.to_numeric(raw).astype("float64").to_numpy(dtype=float, na_value=np.nan)
    if _holds(raw, (int, float, Decimal)):  # decimals (object columns of Decimal)
        return pd.to_numeric(raw.astype(float)).to_numpy(dtype=float, na_value=np.nan)
    if _is_text(raw):
        return parse_numeric(_as_text(raw), path, col)
    return None


def _is_text(raw: pd.Series) -> bool:
    """Strings (possibly with nulls), whatever pandas calls their dtype."""
    return isinstance(raw.dtype, pd.CategoricalDtype) or _holds(raw, (str,))


def _holds(raw: pd.Series, types: tuple[type, ...]) -> bool:
    """An object or string column whose every present value is one of ``types``."""
    if not (pd.api.types.is_string_dtype(raw) or raw.dtype == object):
        return False
    return all(isinstance(v, types) and not isinstance(v, bool) for v in raw.dropna())


def _as_text(raw: pd.Series) -> pd.Series:
    """Text with nulls as empty cells, as a CSV reader sees them."""
    return raw.astype(object).where(raw.notna(), "").astype(str)
