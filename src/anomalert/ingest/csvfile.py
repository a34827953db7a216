"""Read one CSV of samples for detection, with documented input hygiene.

The contract (PRODUCT.md, ``anomalert detect``): a ``timestamp`` column and one or more
numeric columns; one output row per input row, in input order. How odd input is handled:

* no ``timestamp`` column, an unparsable timestamp, an empty file, no numeric column, a
  column that mixes numbers with text, or a column named with a control character (NUL, a
  newline, an escape, DEL, a C1 control): a ``FileInputError`` naming the file, the column
  and the first bad row; the caller reports it and goes on with other files;
* the separator is a comma, or a semicolon, tab or ``|`` when the header shows one around
  ``timestamp`` (``timestamp;value``); the output keeps it. Empty unnamed columns that a
  comma at the end of every line makes are dropped, and lines of only separators are blank
  lines (skipped, as empty lines are);
* timestamps: dates and times (ISO 8601 with or without a UTC offset, RFC 2822, ...) read
  with one format for the whole column; dates written with numbers only (``12/01/2024``)
  are day-first or month-first as the column shows (a first or second number above 12):
  a column that never shows it, or shows both, is refused (use ISO 8601). Or epoch
  numbers, their unit told by their size, one unit for the column: below 1e11 seconds,
  then milliseconds (below 1e14), microseconds (below 1e17), nanoseconds (a file's whole
  column tells the unit; the HTTP ingest, sent single numbers, refuses milliseconds).
  Refused, naming the row: an empty cell (or ``NaT``, ``null``, ...), numbers mixed with
  dates, units mixed, and times outside 1677-09-23..2262-04-10 (a ``9999-12-31`` "open
  end", a mistyped year);
* a column whose every value is text (a label, a host name) is carried through, not scored;
* empty cells, NaN and ±inf, and the usual words for "no value" in any case (``NULL``,
  ``NaN``, ``n/a``, ``#N/A``, ``none``, ``-nan``, a lone ``-``; ``MISSING``): the row is
  kept, scored 0 with reason "missing value", and nothing is learned from it;
* duplicate timestamps: each row is a separate observation (real exports repeat stamps);
* out-of-order timestamps: the row is scored against the current model but not learned,
  since it would mix the time axis of the seasonal profiles (see ``Table.late``). A file
  whose rows are newest first, or shuffled (most rows late), is refused: every row would
  score 0 (``check_order``);
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

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from anomalert.detect.localtime import LocalTime
from anomalert.errors import FileInputError, os_reason
from anomalert.ingest.jsonin import control_problem

TIMESTAMP = "timestamp"
#: Separators other than the comma, told from a header such as ``timestamp;value``.
SEPARATORS = (";", "\t", "|")
OUTPUT_COLUMNS = ("anomaly_score", "is_anomaly", "reason")
NO_NUMBERS = "no numeric column to score"


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
    #: The CSV's separator (a comma unless its header shows another), kept in the output.
    sep: str = ","


#: A timestamp string whose time of day ends in a UTC offset (Z, +02:00, UTC): a moment.
_OFFSET = r"\d:\d{2}(?::\d{2})?(?:\.\d+)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?|UTC|GMT)\s*$"
#: A date that starts with its year (ISO 8601 and its relatives): never day/month ambiguous.
_YEAR_FIRST = r"\d{4}-\d{2}-\d{2}"
#: A date written with numbers only, day and month first in some order (12/01/2024, 1.2.24).
_DAY_MONTH = r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}(?:\D|$)"
#: Cells of a timestamp column that say "no time here" (compared in lower case).
NO_TIME = frozenset({"nat", "nan", "na", "n/a", "#n/a", "null", "none", "-"})
#: Epoch numbers in one of these units are read by their size: below 1e11 seconds (up to
#: the year 5138), then milliseconds, microseconds and nanoseconds (from 1973 on each).
EPOCH_UNITS = ((1e11, 1.0, "seconds"), (1e14, 1e3, "milliseconds"), (1e17, 1e6, "microseconds"))
EPOCH_NANOSECONDS = (1e9, "nanoseconds")
#: The times a file may hold: what pandas' nanosecond timestamps reach, a day inside.
EARLIEST = (pd.Timestamp.min.ceil("D") + pd.Timedelta(days=1)).timestamp()
LATEST = (pd.Timestamp.max.floor("D") - pd.Timedelta(days=1)).timestamp()


def parse_timestamps(raw: pd.Series, path: Path, zone: str = "UTC") -> np.ndarray:
    """Unix seconds from dates and times or numbers (epoch seconds, or milliseconds,
    microseconds or nanoseconds told by their size); a string without a UTC offset is a
    wall-clock time in ``zone`` (see the module's docstring). A bad cell is a
    ``FileInputError`` naming its row.

    >>> parse_timestamps(pd.Series(["60", "120.5"]), Path("x.csv")).tolist()
    [60.0, 120.5]
    >>> parse_timestamps(pd.Series(["1970-01-01T00:01:00Z"]), Path("x.csv")).tolist()
    [60.0]
    >>> parse_timestamps(pd.Series(["1767225600000"]), Path("x.csv")).tolist()
    [1767225600.0]
    """
    if raw.isna().any():
        row = int(np.flatnonzero(raw.isna().to_numpy())[0])
        raise FileInputError(path, f"empty timestamp at row {row + 1}")
    if pd.api.types.is_numeric_dtype(raw):
        return epoch_seconds(raw.to_numpy(dtype=float), raw, path)
    text = raw.astype(str).str.strip()
    _check_present(text, path)
    numbers = pd.to_numeric(text, errors="coerce")
    is_number = numbers.notna().to_numpy()
    if is_number.all():
        return epoch_seconds(numbers.to_numpy(dtype=float), text, path)
    if is_number.any():
        n, d = int(np.argmax(is_number)), int(np.argmin(is_number))
        raise FileInputError(
            path,
            f"mixed epoch numbers and dates in column 'timestamp' (row {n + 1} "
            f"{text.iloc[n]!r} vs row {d + 1} {text.iloc[d]!r})",
        )
    moments = _moments(text, path)
    seconds = seconds_of(moments, text, path)
    if not LocalTime(zone).is_utc:
        naive = ~text.str.contains(_OFFSET, regex=True).to_numpy()
        if naive.any():
            seconds[naive] = local_seconds(moments[naive].dt.tz_localize(None), zone)
    return seconds


def _check_present(text: pd.Series, path: Path) -> None:
    """Every cell holds something: an empty cell or a word for "none" names its row."""
    absent = (text == "") | text.str.lower().isin(NO_TIME)
    if absent.any():
        row = int(np.flatnonzero(absent.to_numpy())[0])
        cell = text.iloc[row]
        what = "empty timestamp" if cell == "" else f"missing timestamp {cell!r}"
        raise FileInputError(path, f"{what} at row {row + 1}")


def epoch_seconds(numbers: np.ndarray, cells: pd.Series, path: Path) -> np.ndarray:
    """Epoch numbers as seconds: the unit is told by the size (``EPOCH_UNITS``), one unit
    for the whole column; a column whose numbers are of different units is refused."""
    if np.isnan(numbers).any():
        row = int(np.flatnonzero(np.isnan(numbers))[0])
        raise FileInputError(path, f"empty timestamp at row {row + 1}")
    size = np.abs(numbers)
    limits = np.array([limit for limit, _, _ in EPOCH_UNITS])
    unit = np.searchsorted(limits, size, side="right")
    names = [name for _, _, name in EPOCH_UNITS] + [EPOCH_NANOSECONDS[1]]
    scales = [scale for _, scale, _ in EPOCH_UNITS] + [EPOCH_NANOSECONDS[0]]
    if numbers.size and (unit != unit[0]).any():
        other = int(np.flatnonzero(unit != unit[0])[0])
        raise FileInputError(
            path,
            f"epoch timestamps in different units in column 'timestamp' (row 1 "
            f"{cells.iloc[0]!r} reads as {names[unit[0]]}, row {other + 1} "
            f"{cells.iloc[other]!r} as {names[unit[other]]})",
        )
    seconds = numbers / scales[int(unit[0])] if numbers.size else numbers
    _check_range(seconds, cells, path)
    return seconds


def _moments(text: pd.Series, path: Path) -> pd.Series:
    """Dates and times of a column (UTC, microseconds), read with one format for the
    column: ISO 8601 when every date starts with its year; a day-first or month-first
    format told from the whole column for dates written with numbers only (12/01/2024);
    else the format pandas guesses from the first cell, and a guess per cell for cells it
    does not fit (dates with month names: never ambiguous)."""
    year_first = text.str.match(_YEAR_FIRST).to_numpy()
    parts = text.str.extract(_DAY_MONTH)
    day_month = parts[0].notna().to_numpy()
    dayfirst = False
    if year_first.all():
        fmt: str | None = "ISO8601"
    elif day_month.any():
        if not day_month.all():
            a, b = int(np.argmax(day_month)), int(np.argmin(day_month))
            raise FileInputError(
                path,
                f"mixed date formats in column 'timestamp' (row {a + 1} {text.iloc[a]!r} vs "
                f"row {b + 1} {text.iloc[b]!r}); use ISO 8601",
            )
        dayfirst = _day_first(text, parts[0].astype(int), parts[1].astype(int), path)
        fmt = _guess_format(text.iloc[0], dayfirst)
    else:
        fmt = _guess_format(text.iloc[0], False)
    moments = _to_datetime(text, fmt or "mixed", dayfirst)
    left = moments.isna().to_numpy()
    if left.any() and fmt is not None:  # cells the column's format does not fit
        moments[left] = _to_datetime(text[left], "mixed", dayfirst)
        left = moments.isna().to_numpy()
    if left.any():
        row = int(np.flatnonzero(left)[0])
        raise FileInputError(
            path,
            f"unparsable timestamp {text.iloc[row]!r} in column 'timestamp' at row {row + 1}",
        )
    return moments


def _day_first(text: pd.Series, first: pd.Series, second: pd.Series, path: Path) -> bool:
    """Whether dates written with numbers only put the day first, from the whole column: a
    first number above 12 says day-first, a second one above 12 month-first; both, or
    neither, and the file is refused (rows disagree, or the order cannot be told)."""
    day_first = np.flatnonzero((first > 12).to_numpy())
    month_first = np.flatnonzero((second > 12).to_numpy())
    if day_first.size and month_first.size:
        d, m = int(day_first[0]), int(month_first[0])
        raise FileInputError(
            path,
            f"dates disagree on day and month order (row {d + 1} {text.iloc[d]!r} is "
            f"day-first, row {m + 1} {text.iloc[m]!r} month-first); use ISO 8601",
        )
    if not (day_first.size or month_first.size):
        raise FileInputError(
            path,
            f"ambiguous dates: day-first or month-first cannot be told ({text.iloc[0]!r} "
            f"to {text.iloc[-1]!r}); use ISO 8601",
        )
    return bool(day_first.size)


def _guess_format(cell: str, dayfirst: bool) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return guess_datetime_format(cell, dayfirst=dayfirst)


def _to_datetime(text: pd.Series, fmt: str, dayfirst: bool) -> pd.Series:
    """UTC moments in microseconds (a unit that reaches every year), NaT where a cell does
    not fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moments = pd.to_datetime(text, utc=True, format=fmt, dayfirst=dayfirst, errors="coerce")
    return moments.dt.as_unit("us")


def seconds_of(moments: pd.Series, cells: pd.Series, path: Path) -> np.ndarray:
    """Unix seconds of UTC moments, refusing those beyond ``EARLIEST``..``LATEST`` (a
    9999-12-31 "open end", a mistyped year) with the row named."""
    zero = pd.Timestamp(0, tz="UTC").as_unit(moments.dt.unit)
    seconds = (moments - zero).dt.total_seconds().to_numpy(dtype=float, copy=True)
    _check_range(seconds, cells, path)
    return seconds


def _check_range(seconds: np.ndarray, cells: pd.Series, path: Path) -> None:
    outside = ~((seconds >= EARLIEST) & (seconds <= LATEST))
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        first, last = (pd.Timestamp(s, unit="s").date() for s in (EARLIEST, LATEST))
        raise FileInputError(
            path,
            f"timestamp {str(cells.iloc[row])!r} at row {row + 1} is out of range "
            f"(supported: {first} to {last})",
        )


def local_seconds(wall: pd.Series, zone: str) -> np.ndarray:
    """Unix seconds of wall-clock times in ``zone`` (the module's docstring says how the
    hours that clocks repeat or skip are read)."""
    try:
        local = wall.dt.tz_localize(zone, ambiguous="infer", nonexistent="shift_forward")
    except ValueError:  # the order cannot tell the repeated hour's two passes apart
        standard = np.zeros(len(wall), dtype=bool)
        local = wall.dt.tz_localize(zone, ambiguous=standard, nonexistent="shift_forward")
    utc = local.dt.tz_convert("UTC")
    return (
        (utc - pd.Timestamp(0, tz="UTC").as_unit(utc.dt.unit))
        .dt.total_seconds()
        .to_numpy(dtype=float)
    )


def read_table(path: Path, zone: str = "UTC") -> Table:
    """Load and validate one CSV (see the module docstring for every rule); times without
    a UTC offset are ``zone``'s wall clock."""
    frame = _read_csv(path, ",")
    sep = _separator(frame)
    if sep != ",":
        frame = _read_csv(path, sep)
    frame = _without_blank_lines(_without_trailing_empty_columns(frame))
    check_columns(path, frame)
    t = parse_timestamps(frame[TIMESTAMP], path, zone)
    try:
        table = build_table(path, frame, t, lambda col: parse_numeric(frame[col], path, col))
    except FileInputError as exc:
        if sep == ";" and exc.problem == NO_NUMBERS:
            raise FileInputError(path, f"{NO_NUMBERS} (decimal commas? write 12.5)") from exc
        raise
    return replace(table, sep=sep)


def _read_csv(path: Path, sep: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep)
    except pd.errors.EmptyDataError as exc:
        raise FileInputError(path, "empty file") from exc
    except OSError as exc:
        raise FileInputError(path, f"unreadable: {os_reason(exc)}") from exc
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise FileInputError(path, f"unreadable: {exc}") from exc


def _separator(frame: pd.DataFrame) -> str:
    """The file's separator: a comma, or the one its header shows around ``timestamp``
    when the header read with commas is one column (``timestamp;value``)."""
    if len(frame.columns) != 1 or str(frame.columns[0]) == TIMESTAMP:
        return ","
    header = str(frame.columns[0])
    for sep in SEPARATORS:
        if TIMESTAMP in (name.strip() for name in header.split(sep)):
            return sep
    return ","


def _without_blank_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the rows that are only separators (``,,``: what a spreadsheet
    writes for an empty line): blank lines, skipped as pandas skips empty ones."""
    blank = (frame == "").all(axis=1)
    return frame[~blank].reset_index(drop=True) if blank.any() else frame


def _without_trailing_empty_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without the empty, unnamed columns a comma at the end of every line makes
    (pandas names them ``Unnamed: 2``): the output keeps the columns the file names."""
    while (
        len(frame.columns) > 1
        and re.fullmatch(r"Unnamed: \d+", str(frame.columns[-1]))
        and (frame.iloc[:, -1] == "").all()
    ):
        frame = frame.iloc[:, :-1]
    return frame


def check_columns(path: Path, frame: pd.DataFrame) -> None:
    """Rows, a ``timestamp`` column, no output column already there, and no control
    character in a column's name (whatever the format).

    Why the last: a column's name is written in the output's header and in the reason of
    each row it alerts on, so a NUL or an escape sequence there reaches whatever reads or
    shows them; the HTTP ingest refuses the same in names (``ingest.jsonin``)."""
    if frame.empty:
        raise FileInputError(path, "empty file (no data rows)")
    columns = [str(c) for c in frame.columns]
    for name in columns:
        problem = control_problem(name)
        if problem is not None:
            raise FileInputError(path, f"column {name!r}: {problem}")
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
        raise FileInputError(path, NO_NUMBERS)
    values = np.column_stack(arrays)
    values[~np.isfinite(values)] = np.nan
    late = t < np.maximum.accumulate(t)
    check_order(path, t, late)
    return Table(path, frame, t, tuple(numeric), values, late)


def check_order(path: Path, t: np.ndarray, late: np.ndarray) -> None:
    """Refuse a file whose rows are not in time order: newest first (nine in ten steps
    from one row to the next that change the time go back), or shuffled (most rows earlier
    than a row before them). Such rows would be scored, never learned (``Table.late``): a
    file of zeros. A few rows out of order are fine (the module's docstring)."""
    steps = np.diff(t)
    if (steps < 0).sum() > 9 * (steps > 0).sum():
        raise FileInputError(path, "rows are newest first: sort them oldest first")
    if 2 * late.sum() > len(t):
        raise FileInputError(
            path,
            f"{late.sum()} of {len(t)} rows are earlier than a row before them: "
            "sort them oldest first",
        )


#: Cells that mean "no value", compared in lower case: pandas' own missing-value words,
#: SQL's NULL, a spreadsheet's #N/A, a lone dash; infinities count as missing too.
MISSING = frozenset(
    {"", "nan", "-nan", "+nan", "na", "n/a", "#n/a", "#n/a n/a", "#na", "<na>", "nat"}
    | {"null", "none", "-", "-1.#ind", "1.#ind", "-1.#qnan", "1.#qnan"}
    | {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
)


def parse_numeric(raw: pd.Series, path: Path, col: str) -> np.ndarray | None:
    """Numbers of a column, None for a text column, error for a column that mixes both."""
    text = raw.str.strip()
    lower = text.str.lower()
    missing = lower.isin(MISSING)
    parsed = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = parsed.isna() & ~missing
    if not bad.any():
        values = parsed.to_numpy(dtype=float, copy=True)
        values[lower.isin({"inf", "+inf", "infinity", "+infinity"}).to_numpy()] = np.inf
        values[lower.isin({"-inf", "-infinity"}).to_numpy()] = -np.inf
        return values
    if bad.sum() == (~missing).sum():
        return None  # a text column: carried through, not scored
    row = int(np.flatnonzero(bad.to_numpy())[0])
    raise FileInputError(
        path, f"unparsable value {raw.iloc[row]!r} in column {col!r} at row {row + 1}"
    )
