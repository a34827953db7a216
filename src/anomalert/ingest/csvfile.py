"""Read one CSV of samples for detection, with documented input hygiene.

The contract (PRODUCT.md, ``anomalert detect``): a ``timestamp`` column and one or more
numeric columns; one output row per input row, in input order. How odd input is handled:

* no ``timestamp`` column, an unparsable timestamp, an empty file, no numeric column, or a
  column that mixes numbers with text: a ``FileInputError`` naming the file, the column and
  the first bad row; the caller reports it and goes on with other files;
* a column whose every value is text (a label, a host name) is carried through, not scored;
* empty cells, NaN and ±inf: the row is kept, scored 0 with reason "missing value", and
  nothing is learned from it;
* duplicate timestamps: each row is a separate observation (real exports repeat stamps);
* out-of-order timestamps: the row is scored against the current model but not learned,
  since it would mix the time axis of the seasonal profiles (see ``Table.late``);
* gaps and irregular sampling: rates that depend on time (seasonal) follow the series' own
  sampling interval, an average of the real ones in which a gap counts as at most 30
  intervals (``seasonal.GAP_RATIO``): an outage is not a new sampling rate;
* constant series: the scale has a floor (``detect.robust``), so only a real change alerts;
* timestamps without a UTC offset are wall-clock times of the zone the caller names
  (``anomalert detect --timezone``; UTC unless named): an export in local time keeps its
  09:00 at 09:00 when clocks change. In the hour that repeats when clocks go back, the
  order of the rows tells the first pass from the second (``ambiguous="infer"``); where it
  cannot (rows missing there), the repeated hour is read as standard time, and its rows
  then repeat earlier times (duplicates, or late rows as above). A time the clocks skip
  when they go forward is read as the moment just after the skip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from anomalert.detect.localtime import LocalTime
from anomalert.errors import FileInputError

TIMESTAMP = "timestamp"
OUTPUT_COLUMNS = ("anomaly_score", "is_anomaly", "reason")


@dataclass(frozen=True)
class Table:
    """One file's samples: times (unix seconds), numeric columns, and the original frame."""

    path: Path
    frame: pd.DataFrame
    t: np.ndarray
    columns: tuple[str, ...]
    values: np.ndarray  # (rows, columns) float64, NaN where missing or non-finite
    late: np.ndarray  # bool per row: timestamp earlier than one already seen
    #: The values as read, where ``values`` holds something derived from them (counters'
    #: rates, ``detect.files.as_rates``); None: ``values`` are as read.
    raw: np.ndarray | None = None


#: A timestamp string whose time of day ends in a UTC offset (Z, +02:00, UTC): a moment.
_OFFSET = r"\d:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?|UTC|GMT)\s*$"


def parse_timestamps(raw: pd.Series, path: Path, zone: str = "UTC") -> np.ndarray:
    """Unix seconds from ISO 8601 strings or numbers (epoch seconds); a string without a
    UTC offset is a wall-clock time in ``zone`` (see the module's docstring).

    >>> parse_timestamps(pd.Series(["60", "120.5"]), Path("x.csv")).tolist()
    [60.0, 120.5]
    >>> parse_timestamps(pd.Series(["1970-01-01T00:01:00Z"]), Path("x.csv")).tolist()
    [60.0]
    """
    if raw.isna().any():
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise FileInputError(path, f"empty timestamp at row {row + 1}")
    if pd.api.types.is_numeric_dtype(raw):
        return raw.to_numpy(dtype=float)
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=float)  # epoch seconds written as numbers
    try:
        ts = pd.to_datetime(raw, utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        bad = _first_bad_timestamp(raw)
        raise FileInputError(path, f"unparsable timestamp {bad!r} in column 'timestamp'") from exc
    # Unit-agnostic: pandas may pick s, ms, us or ns resolution for parsed datetimes.
    seconds = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float, copy=True)
    if not LocalTime(zone).is_utc:
        naive = ~raw.astype(str).str.contains(_OFFSET, regex=True).to_numpy()
        if naive.any():
            seconds[naive] = local_seconds(ts[naive].dt.tz_localize(None), zone)
    return seconds


def local_seconds(wall: pd.Series, zone: str) -> np.ndarray:
    """Unix seconds of wall-clock times in ``zone`` (the module's docstring says how the
    hours that clocks repeat or skip are read)."""
    try:
        local = wall.dt.tz_localize(zone, ambiguous="infer", nonexistent="shift_forward")
    except ValueError:  # the order cannot tell the repeated hour's two passes apart
        standard = np.zeros(len(wall), dtype=bool)
        local = wall.dt.tz_localize(zone, ambiguous=standard, nonexistent="shift_forward")
    return (
        (local.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC"))
        .dt.total_seconds()
        .to_numpy(dtype=float)
    )


def _first_bad_timestamp(raw: pd.Series) -> str:
    for value in raw:
        try:
            pd.to_datetime(value, utc=True)
        except (ValueError, TypeError):
            return str(value)
    return "?"


def read_table(path: Path, zone: str = "UTC") -> Table:
    """Load and validate one CSV (see the module docstring for every rule); times without
    a UTC offset are ``zone``'s wall clock."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise FileInputError(path, "empty file") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise FileInputError(path, f"unreadable: {exc}") from exc
    check_columns(path, frame)
    t = parse_timestamps(frame[TIMESTAMP], path, zone)
    return build_table(path, frame, t, lambda col: parse_numeric(frame[col], path, col))


def check_columns(path: Path, frame: pd.DataFrame) -> None:
    """Rows, a ``timestamp`` column, and no output column already there (whatever the format)."""
    if frame.empty:
        raise FileInputError(path, "empty file (no data rows)")
    columns = [str(c) for c in frame.columns]
    if TIMESTAMP not in columns:
        raise FileInputError(path, f"no '{TIMESTAMP}' column (columns: {', '.join(columns)})")
    clash = [c for c in OUTPUT_COLUMNS if c in columns]
    if clash:
        raise FileInputError(path, f"already has output column(s) {clash}")


def build_table(
    path: Path, frame: pd.DataFrame, t: np.ndarray, parse: Callable[[str], np.ndarray | None]
) -> Table:
    """The table of ``frame``'s scored columns: those ``parse`` reads as numbers (None: a text
    column, carried through)."""
    numeric: list[str] = []
    arrays: list[np.ndarray] = []
    for col in frame.columns:
        if col == TIMESTAMP:
            continue
        parsed = parse(col)
        if parsed is not None:
            numeric.append(col)
            arrays.append(parsed)
    if not numeric:
        raise FileInputError(path, "no numeric column to score")
    values = np.column_stack(arrays)
    values[~np.isfinite(values)] = np.nan
    late = t < np.maximum.accumulate(t)
    return Table(path, frame, t, tuple(numeric), values, late)


MISSING = {"", "nan", "NaN", "NA", "N/A", "null", "None", "inf", "-inf", "Infinity", "-Infinity"}


def parse_numeric(raw: pd.Series, path: Path, col: str) -> np.ndarray | None:
    """Numbers of a column, None for a text column, error for a column that mixes both."""
    text = raw.str.strip()
    missing = text.isin(MISSING)
    parsed = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = parsed.isna() & ~missing
    if not bad.any():
        values = parsed.to_numpy(dtype=float, copy=True)
        values[text.isin({"inf", "Infinity"}).to_numpy()] = np.inf
        values[text.isin({"-inf", "-Infinity"}).to_numpy()] = -np.inf
        return values
    if bad.sum() == (~missing).sum():
        return None  # a text column: carried through, not scored
    row = int(np.flatnonzero(bad.to_numpy())[0])
    raise FileInputError(
        path, f"unparsable value {raw.iloc[row]!r} in column {col!r} at row {row + 1}"
    )
