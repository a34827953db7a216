"""``anomalert detect``: score CSV (or Parquet) files or folders of them, mirroring paths
under OUT.

Files with the same number of numeric columns run together through one ``BatchEngine``,
row k of every file in the same tick (rows are the unit: each series keeps its own clock),
so a folder of 43 NAB files costs about as many numpy calls as its longest file. A file's
row score combines its columns and, for several columns, the multivariate detectors over
them (``combine``: one column very far out or two somewhat out, joined with the multivariate
evidence by Stouffer's method, then checked against how often the file's rows really fall
that low). ``is_anomaly`` marks where an alert fires: the row score
reaches the default threshold and no row of the file did in the ``cooldown`` rows before, so
one anomaly episode (a burst of high rows, or high rows with short gaps) is one alert, as a
pager would see it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from anomalert.detect.calibrate import score_from_p
from anomalert.detect.combine import (
    ColumnRedundancy,
    RowCalibration,
    agreeing_column,
    columns_p,
    stouffer,
)
from anomalert.detect.counters import column_rates
from anomalert.detect.drift import DriftEvent
from anomalert.detect.engine import BatchEngine, Episodes, Settings, episode_starts
from anomalert.detect.localtime import LocalTime
from anomalert.detect.reason import explain, explain_pair
from anomalert.detect.seasonal import SeasonalDetector
from anomalert.errors import FileInputError, os_reason
from anomalert.ingest.counters import CounterNames
from anomalert.ingest.csvfile import Table, read_table
from anomalert.ingest.parquetfile import is_parquet, read_parquet_table
from anomalert.model import Kind

Progress = Callable[[int], None]

#: Written at the root of OUT when the multivariate detectors saw their inputs drift.
DRIFT_FILE = "drift.json"
#: The reason of a row whose only values are a counter's first or restarted one: no rate.
FIRST_COUNT = "a counter's first value, or its restart: its rate starts at the next row"


@dataclass
class Scored:
    """Per-row results of one file, before they become output columns."""

    score: np.ndarray
    flag: np.ndarray
    column: np.ndarray  # index of the column (or -1: the multivariate group) that won
    kind: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    detail: np.ndarray
    seasonal: np.ndarray
    # Where the row was flagged because two columns agreed while neither was an alert on
    # its own: the second column (-1 elsewhere) and each one's p-value, for the reason.
    partner: np.ndarray
    pair_p: np.ndarray
    # Rows that scored an alert while no column was old enough to raise one (``mature``).
    young: np.ndarray
    drift: tuple[DriftEvent, ...] = ()


#: What a folder walk picks up besides Parquet: CSV, plain or compressed (pandas reads and
#: writes these by their suffix). A file named on the command line is read whatever its name.
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz")


def is_input(path: Path) -> bool:
    """Whether a folder walk scores this file (by its name, in any case)."""
    return path.name.lower().endswith(CSV_SUFFIXES) or is_parquet(path)


def find_input_files(src: Path, skip: Path | None = None) -> tuple[list[Path], list[str]]:
    """A file, or every input file under a folder (``is_input``, recursively, following
    symbolic links to folders once), in a stable order; and one line per part of the folder
    that could not be walked (an unreadable subfolder, a broken link, a link loop). ``skip``
    is not walked (the output folder, when it lies inside the input)."""
    if src.is_file():
        return [src], []
    if not src.is_dir():
        raise FileInputError(src, "no such file or folder")
    found: list[Path] = []
    problems: list[str] = []
    avoid = skip.resolve() if skip is not None else None
    _walk(src, (src.resolve(),), avoid, found, problems)
    return sorted(found), problems


def _walk(
    folder: Path, chain: tuple[Path, ...], skip: Path | None, found: list[Path], problems: list[str]
) -> None:
    """Add ``folder``'s inputs to ``found``; ``chain`` holds the real paths of the folders
    walked down to it, so a link back to one of them is a loop, named and not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problems.append(str(FileInputError(folder, f"unreadable folder: {os_reason(exc)}")))
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir():  # a link to a folder is followed
                real = path.resolve()
                if real == skip:
                    continue
                if real in chain:
                    loop = "symbolic link loop (to a folder that contains it): not followed"
                    problems.append(str(FileInputError(path, loop)))
                    continue
                _walk(path, (*chain, real), skip, found, problems)
            elif is_input(path):
                if entry.is_file():
                    found.append(path)
                elif entry.is_symlink():
                    os.stat(path)  # raises: the link leads nowhere, or in a circle
        except OSError as exc:
            problems.append(str(FileInputError(path, f"broken symbolic link: {os_reason(exc)}")))


def read_input(path: Path, zone: str = "UTC") -> Table:
    """One input file by its kind (Parquet by its suffix; anything else is read as CSV)."""
    return read_parquet_table(path, zone) if is_parquet(path) else read_table(path, zone)


def score_tables(
    tables: list[Table], settings: Settings | None = None, progress: Progress | None = None
) -> list[Scored]:
    """Run tables of equal width through one engine; returns their per-row results."""
    settings = settings or Settings()
    width = len(tables[0].columns)
    if any(len(tb.columns) != width for tb in tables):
        raise ValueError("score_tables needs tables of equal width")
    files = len(tables)
    rows = max(len(tb.t) for tb in tables)
    n = files * width
    groups = np.arange(n).reshape(files, width) if width > 1 else None
    engine = BatchEngine(n, settings, groups)
    # Row k of every file side by side, contiguous: what the engine takes each tick.
    t_pad = np.full((rows, files), np.nan)
    x_pad = np.full((rows, files, width), np.nan)
    late_pad = np.zeros((rows, files), dtype=bool)
    for i, tb in enumerate(tables):
        t_pad[: len(tb.t), i] = tb.t
        x_pad[: len(tb.t), i] = tb.values
        late_pad[: len(tb.t), i] = tb.late
    out = Scored(
        score=np.zeros((files, rows)),
        flag=np.zeros((files, rows), dtype=bool),
        column=np.zeros((files, rows), dtype=np.int16),
        kind=np.zeros((files, rows), dtype=np.int8),
        expected=np.full((files, rows), np.nan),
        lower=np.full((files, rows), np.nan),
        upper=np.full((files, rows), np.nan),
        detail=np.full((files, rows), np.nan),
        seasonal=np.zeros((files, rows), dtype=bool),
        partner=np.full((files, rows), -1, dtype=np.int16),
        pair_p=np.full((files, rows, 2), np.nan),
        young=np.zeros((files, rows), dtype=bool),
    )
    if width == 1:
        _score_single_columns(engine, t_pad, x_pad[:, :, 0], late_pad, out, progress)
    else:
        _score_rows(engine, t_pad, x_pad, late_pad, out, progress)
    events = [
        e
        for d in (engine.group.detectors if engine.group is not None else [])
        for e in getattr(d, "drift_events", [])
    ]
    arrays = [f for f in Scored.__dataclass_fields__ if f != "drift"]
    return [
        replace(
            out,
            **{f: getattr(out, f)[i, : len(tb.t)] for f in arrays},
            drift=tuple(e for e in events if e.group == i),
        )
        for i, tb in enumerate(tables)
    ]


def _score_single_columns(
    engine: BatchEngine,
    t_pad: np.ndarray,
    x_pad: np.ndarray,
    late_pad: np.ndarray,
    out: Scored,
    progress: Progress | None,
) -> None:
    """``score_tables`` for files of one column: a row is its column, so nothing but the
    engine's step needs the tick loop (no column choice, no agreement, no row calibration),
    and the scores, flags and episodes are taken for every row at once after it. A file of
    one long column pays per row for the engine alone (the per-row combination cost a
    quarter of ``anomalert detect``'s time on one such file)."""
    rows, files = t_pad.shape
    seasonal = _seasonal(engine)
    p = np.empty((rows, files))
    mature = np.empty((rows, files), dtype=bool)
    kind = np.empty((rows, files), dtype=out.kind.dtype)
    expected, lower, upper, detail = (np.empty((rows, files)) for _ in range(4))
    periodic = np.zeros((rows, files), dtype=bool)
    for k in range(rows):
        s = engine.step(t_pad[k], x_pad[k], ~late_pad[k]).series
        p[k], mature[k], kind[k] = s.p, s.mature, s.kind
        expected[k], lower[k], upper[k], detail[k] = s.expected, s.lower, s.upper, s.detail
        if seasonal is not None:
            periodic[k] = seasonal.period(t_pad[k]) > 0
        if progress is not None:
            progress(files)
    asked = np.isfinite(x_pad)
    score = np.where(asked, score_from_p(np.minimum(p, 1.0)), 0.0)
    alarming = (score >= engine.settings.threshold) & asked
    out.score[:] = score.T
    out.flag[:] = episode_starts((alarming & mature).T, engine.settings.cooldown)
    out.young[:] = (alarming & ~mature).T
    out.kind[:] = kind.T
    out.expected[:], out.lower[:], out.upper[:] = expected.T, lower.T, upper.T
    out.detail[:] = detail.T
    out.seasonal[:] = periodic.T


def _score_rows(
    engine: BatchEngine,
    t_pad: np.ndarray,
    x_pad: np.ndarray,
    late_pad: np.ndarray,
    out: Scored,
    progress: Progress | None,
) -> None:
    """``score_tables`` for files of several columns, row by row: which column speaks for a
    row, the agreement of two columns and the row calibration each depend on what the rows
    before taught (``ColumnRedundancy``, ``RowCalibration``)."""
    rows, files, width = x_pad.shape
    n = files * width
    settings = engine.settings
    seasonal = _seasonal(engine)
    fidx = np.arange(files)
    episodes = Episodes(files, settings.cooldown)
    # Several columns are combined as if independent; each file's rows check that (combine).
    row_calibration = RowCalibration(files)
    redundancy = ColumnRedundancy(files, width)
    for k in range(rows):
        t = np.repeat(t_pad[k], width)
        x = x_pad[k].reshape(n)
        tick = engine.step(t, x, ~np.repeat(late_pad[k], width))
        s = tick.series
        p = s.p.reshape(files, width)
        asked = np.isfinite(x_pad[k]).sum(axis=1)
        # A row may alert once one of its columns is old enough to (``Step.mature``).
        mature = s.mature.reshape(files, width).any(axis=1)
        col = np.argmin(p, axis=1)
        groups = redundancy.groups
        row_p = columns_p(p, groups, asked)
        sel = fidx * width + col
        kind, exp_, lo, hi, det = (
            s.kind[sel],
            s.expected[sel],
            s.lower[sel],
            s.upper[sel],
            s.detail[sel],
        )
        # A row flagged although its most surprising column was no alert by itself was
        # flagged by agreement: its reason names both columns (see ``reasons``).
        first = col
        by_columns = ~s.flagged.reshape(files, width)[fidx, first]
        if tick.groups is not None:
            g = tick.groups
            # The reason follows the stronger kind of evidence.
            use_group = g.p < p[fidx, col]
            by_columns &= ~use_group
            row_p = stouffer(row_p, g.p)
            col = np.where(use_group, np.where(np.isfinite(g.detail), g.detail, -1), col)
            kind = np.where(use_group, g.kind, kind)
            exp_ = np.where(use_group, g.expected, exp_)
            lo = np.where(use_group, g.lower, lo)
            hi = np.where(use_group, g.upper, hi)
            det = np.where(use_group, np.nan, det)
        row_p = row_calibration.correct(row_p, asked > 0)
        score = np.where(asked > 0, score_from_p(row_p), 0.0)
        out.score[:, k] = score
        alarming = (score >= settings.threshold) & (asked > 0)
        fired = episodes.fire(k, alarming & mature)
        out.young[:, k] = alarming & ~mature
        out.flag[:, k] = fired
        _pair_alerts(out, k, p, first, np.flatnonzero(fired & by_columns), groups)
        out.column[:, k] = col
        out.kind[:, k] = kind
        out.expected[:, k] = exp_
        out.lower[:, k] = lo
        out.upper[:, k] = hi
        out.detail[:, k] = det
        if seasonal is not None:
            period = seasonal.period(t).reshape(files, width)
            out.seasonal[:, k] = period[fidx, np.clip(col, 0, width - 1).astype(int)] > 0
        # After the tick: its groups are for the next rows.
        redundancy.learn(x_pad[k])
        if progress is not None:
            progress(files)


def _seasonal(engine: BatchEngine) -> SeasonalDetector | None:
    """The engine's seasonal detector, whose period a row's reason names (None without)."""
    return next((d for d in engine.series.detectors if isinstance(d, SeasonalDetector)), None)


def as_rates(table: Table, counters: CounterNames) -> Table:
    """The table with its counter columns (running totals: ``anomalert detect --counters``)
    as per-second rates (``detect.counters``), renamed ``rate(<column>)`` for the reasons;
    the output keeps the values as read."""
    which = [c for c, name in enumerate(table.columns) if counters(name)]
    if not which:
        return table
    values = table.values.copy()
    for c in which:
        values[:, c] = column_rates(table.t, table.values[:, c], table.late)
    columns = tuple(f"rate({n})" if c in which else n for c, n in enumerate(table.columns))
    return replace(table, values=values, columns=columns, raw=table.values)


def width_groups(tables: list[Table]) -> list[list[int]]:
    """Indices of the tables, grouped by their number of columns (first width seen first):
    one engine runs each group (``score_tables`` wants tables of equal width)."""
    groups: dict[int, list[int]] = {}
    for i, tb in enumerate(tables):
        groups.setdefault(len(tb.columns), []).append(i)
    return list(groups.values())


def score_by_width(tables: list[Table], settings: Settings | None = None) -> list[Scored]:
    """``score_tables`` over tables of any widths, one engine per width; results in the
    tables' order."""
    scored: dict[int, Scored] = {}
    for members in width_groups(tables):
        results = score_tables([tables[i] for i in members], settings)
        scored.update(zip(members, results, strict=True))
    return [scored[i] for i in range(len(tables))]


def _pair_alerts(
    out: Scored,
    k: int,
    p: np.ndarray,
    first: np.ndarray,
    rows: np.ndarray,
    groups: np.ndarray | None,
) -> None:
    """Record, for the alerts of row k that no column raised alone (``rows``, files), the
    column agreeing with the most surprising one and both p-values; only these few rows
    need the search, and only their reasons read it."""
    if not rows.size:
        return
    partner = agreeing_column(p[rows], first[rows], None if groups is None else groups[rows])
    found = partner >= 0
    rows, partner = rows[found], partner[found]
    out.partner[rows, k] = partner
    out.pair_p[rows, k, 0] = p[rows, first[rows]]
    out.pair_p[rows, k, 1] = p[rows, partner]


#: Added to the reason of a row that scored an alert before its series was old enough to
#: raise one (``Ensemble.min_history`` points and ``Settings.min_age``): its score stands,
#: unexplained it would read as a missed alert.
YOUNG_NOTE = "not alerted: the series is too new to alert (still learning its usual behaviour)"


def reasons(table: Table, scored: Scored, local_time: LocalTime | None = None) -> list[str]:
    """A reason for every flagged row, for rows that would have been flagged had their
    series been old enough (saying so), and for rows with a missing value; '' elsewhere."""
    result = [""] * len(table.t)
    missing = np.isnan(table.values).all(axis=1)
    read = missing if table.raw is None else np.isnan(table.raw).all(axis=1)
    for row in np.flatnonzero(missing):
        result[row] = "missing value" if read[row] else FIRST_COUNT
    for row in np.flatnonzero(scored.flag):
        if scored.partner[row] >= 0:
            c, d = int(scored.column[row]), int(scored.partner[row])
            result[row] = explain_pair(
                table.columns[c],
                float(table.values[row, c]),
                float(scored.pair_p[row, 0]),
                table.columns[d],
                float(table.values[row, d]),
                float(scored.pair_p[row, 1]),
            )
            continue
        result[row] = _explain_row(table, scored, int(row), local_time)
    for row in np.flatnonzero(scored.young):  # never a missing row: one column was asked
        result[row] = f"{_explain_row(table, scored, int(row), local_time)}; {YOUNG_NOTE}"
    return result


def _explain_row(
    table: Table, scored: Scored, row: int, local_time: LocalTime | None = None
) -> str:
    """The reason of one row, from the column (or the group's strongest value) that won."""
    c = int(scored.column[row])
    if c < 0:
        c = int(np.nanargmax(np.abs(table.values[row])))
    return explain(
        table.columns[c],
        float(table.values[row, c]),
        float(table.t[row]),
        Kind(int(scored.kind[row])),
        float(scored.expected[row]),
        float(scored.lower[row]),
        float(scored.upper[row]),
        float(scored.detail[row]),
        bool(scored.seasonal[row]),
        local_time,
    )


def write_output(
    table: Table, scored: Scored, dest: Path, local_time: LocalTime | None = None
) -> None:
    """The input columns plus ``anomaly_score``, ``is_anomaly`` and ``reason``."""
    frame = table.frame.copy()
    frame["anomaly_score"] = np.round(scored.score, 6)
    frame["is_anomaly"] = scored.flag.astype(int)
    frame["reason"] = reasons(table, scored, local_time)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_parquet(dest):
        frame.to_parquet(dest, index=False)
    else:
        frame.to_csv(dest, index=False, sep=table.sep)


def drift_report(tables: list[Table], scored: list[Scored], base: Path) -> list[dict[str, object]]:
    """Input drift the multivariate detectors saw (and refitted on), per file, for people.

    Drift is reported, not silently absorbed: a refit after a change of behaviour is the
    right move for the model, and something a person may want to know about.
    """
    report: list[dict[str, object]] = []
    for tb, sc in zip(tables, scored, strict=True):
        for event in sc.drift:
            report.append(
                {
                    "file": tb.path.relative_to(base).as_posix(),
                    "time": datetime.fromtimestamp(event.time, UTC).isoformat(),
                    "columns": [tb.columns[f] for f in event.features],
                    "psi": [round(m, 3) for m in event.magnitudes],
                }
            )
    return report


#: A single file of at least this many rows shows a progress bar too (folders always do).
LARGE_FILE_ROWS = 100_000


def detect_path(
    src: Path,
    out: Path,
    progress: bool = False,
    settings: Settings | None = None,
    counters: CounterNames | None = None,
) -> list[str]:
    """Score a CSV or Parquet file, or a folder of them, into ``out``; returns one line per
    file (or part of a folder) that failed; a failed file leaves no output from an earlier
    run. ``progress``: a progress bar for a folder, or a file of ``LARGE_FILE_ROWS`` rows.
    ``counters`` names the columns that are running totals (scored on their rates)."""
    try:
        paths, errors = find_input_files(src, skip=out)
    except FileInputError as exc:
        return [str(exc)]
    problem = output_problem(src, out)
    if problem is not None:
        return [problem]
    base = src.parent if src.is_file() else src
    zone = settings.timezone if settings is not None else "UTC"
    inputs = {p.resolve() for p in paths}
    tables: list[Table] = []
    for path in paths:
        try:
            table = read_input(path, zone)
            tables.append(table if counters is None else as_rates(table, counters))
        except FileInputError as exc:
            errors.append(str(exc))
            _remove_stale(out / path.relative_to(base), inputs)
    if src.is_dir() and not paths:
        errors.append(f"{src}: no CSV or Parquet files found")
    if tables:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return [
                *errors,
                str(FileInputError(out, f"cannot create the output folder: {os_reason(exc)}")),
            ]
    total = sum(len(tb.t) for tb in tables)
    (out / DRIFT_FILE).unlink(missing_ok=True)  # a report from an earlier run would mislead
    drift: list[dict[str, object]] = []
    local_time = LocalTime(zone)
    bar = progress and (src.is_dir() or total >= LARGE_FILE_ROWS)
    # Values near the float range (1e308) overflow in the detectors' arithmetic; they are
    # handled (scored as far out, or missing), so numpy's warnings would only be noise.
    with _progress_bar(bar, total) as advance, np.errstate(over="ignore"):
        for members in width_groups(tables):
            group = [tables[i] for i in members]
            results = score_tables(group, settings, advance)
            for tb, scored in zip(group, results, strict=True):
                dest = out / tb.path.relative_to(base)
                try:
                    if dest.resolve() in inputs:
                        raise FileInputError(dest, "output would overwrite an input: not written")
                    write_output(tb, scored, dest, local_time)
                except FileInputError as exc:
                    errors.append(str(exc))
                except OSError as exc:
                    errors.append(str(FileInputError(dest, f"cannot write: {os_reason(exc)}")))
            drift += drift_report(group, results, base)
    if drift:
        (out / DRIFT_FILE).write_text(json.dumps(drift, indent=1))
    return errors


def output_problem(src: Path, out: Path) -> str | None:
    """Why ``out`` cannot take the results of ``src`` (one line), or None: it is a file, or
    it is where the inputs are (they would be overwritten)."""
    if out.exists() and not out.is_dir():
        return str(FileInputError(out, "output is not a folder"))
    if src.is_dir() and out.resolve() == src.resolve():
        return str(
            FileInputError(out, "output is the input folder: its files would be overwritten")
        )
    if src.is_file() and (out / src.name).resolve() == src.resolve():
        return str(FileInputError(out, "output is the input's folder: it would be overwritten"))
    return None


def _remove_stale(dest: Path, inputs: set[Path]) -> None:
    """Remove an earlier run's output for a file that failed now: left, it would read as
    this run's."""
    try:
        if dest.is_file() and dest.resolve() not in inputs:
            dest.unlink()
    except OSError:
        pass  # not ours to worry about: the file's own error is reported


class _progress_bar:
    """A rich progress bar over rows when asked for, a no-op otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self.done = 0

    def __enter__(self) -> Progress | None:
        if not self.enabled:
            return None
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(transient=False)
        self.bar.start()
        self.task = self.bar.add_task("scoring rows", total=self.total)
        return self._advance

    def _advance(self, k: int) -> None:
        self.done += k
        if self.done % 2000 < k:
            self.bar.update(self.task, completed=min(self.done, self.total))

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.update(self.task, completed=self.total)
            self.bar.stop()


__all__ = ["detect_path", "find_input_files", "read_input", "score_tables"]
