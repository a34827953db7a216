"""NAB v1.1 scoring, written from NAB's published rules so we can score our own detectors.

The rules (the dataset README and NAB's scorer agree on them):

* **Probationary period.** The first ``min(floor(0.15 * rows), 750)`` rows of every
  file are not scored at all: a detection there is neither a hit nor a false alarm,
  because the detector is still learning. Those rows still move the window
  bookkeeping (a window that ended inside them still softens later false alarms).
* **Windows.** Both ends inclusive, located by the *first* row whose timestamp equals
  the end point (a few NAB files repeat timestamps; rows, not clock time, are the unit).
* **Hits.** Per window only the earliest detection counts. A detection at row ``i`` of
  a window spanning rows ``s..e`` (width ``w = e - s + 1``) earns
  ``tpWeight * scaled_sigmoid(-(e - i + 1) / w) / scaled_sigmoid(-1)``: exactly
  ``tpWeight`` on the first row, falling to about 0 on the last.
* **Misses.** A window with no detection costs ``-fnWeight``.
* **False alarms.** Every detected row outside all windows counts on its own and costs
  ``fpWeight * scaled_sigmoid((i - e) / (w - 1))`` where ``e``/``w`` belong to the most
  recent window that ended before row ``i`` (about 0 just after it, -1 from three
  widths on), or ``-fpWeight`` when no window has ended yet. A one-row window (w = 1)
  would divide by zero in NAB; we use ``max(w - 1, 1)``.
* **Threshold search.** Per profile one threshold is chosen for all files together: the
  one maximising the summed raw score, evaluated exactly at every distinct score
  (a row is a detection when ``anomaly_score >= threshold``) plus "never fire". Ties
  go to the highest threshold (never firing wins a tie), as in NAB, whose list of
  candidates starts above every score and keeps the first best.
* **Normalisation.** ``100 * (raw - null) / (perfect - null)`` with ``null = -fnWeight``
  and ``perfect = +tpWeight`` per scored window, summed over files.

Scores that are NaN (a detector that cannot score a row yet) are never detections.
``score_decisions`` applies the same rules to the detector's own ``is_anomaly`` flags
and adds window precision / recall / F1, where a window is caught when one of its
scored rows is flagged and each maximal run of consecutive flagged scored rows outside
all windows is one false alarm (a run is broken by a window, the end of the
probationary period or an unflagged row; flags inside the probationary period are
ignored). Undefined ratios (0/0) are reported as 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from anomalert.errors import FileInputError, InputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
TimeArray = npt.NDArray[np.datetime64]
Window = tuple[np.datetime64, np.datetime64]

PROBATION_FRACTION = 0.15
PROBATION_MAX_ROWS = 750
NO_WINDOW = -1
_TRUE_FLAGS = frozenset({"1", "1.0", "true"})
_FALSE_FLAGS = frozenset({"0", "0.0", "false"})


@dataclass(frozen=True)
class Profile:
    """One NAB cost profile: how much a hit earns and what misses and false alarms cost."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


STANDARD_PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 1.0, 0.11),
    Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
)


@dataclass(frozen=True, eq=False)
class NabFile:
    """One NAB data file and its ground-truth windows, as read from the dataset."""

    timestamps: TimeArray
    values: FloatArray
    windows: tuple[Window, ...]


@dataclass(frozen=True, eq=False)
class ScoredFile:
    """One detector output joined with its windows: everything scoring a file needs."""

    timestamps: TimeArray
    anomaly_score: FloatArray
    is_anomaly: BoolArray | None = None
    windows: tuple[Window, ...] = ()

    @classmethod
    def build(
        cls,
        timestamps: npt.ArrayLike,
        anomaly_score: npt.ArrayLike,
        is_anomaly: npt.ArrayLike | None = None,
        windows: Sequence[tuple[object, object]] = (),
    ) -> ScoredFile:
        """Coerce plain lists/strings into the typed arrays and check the lengths agree."""
        ts = as_datetime64(timestamps)
        score = np.asarray(anomaly_score, dtype=np.float64)
        flags = None if is_anomaly is None else np.asarray(is_anomaly).astype(bool)
        if score.shape != ts.shape or (flags is not None and flags.shape != ts.shape):
            raise InputError("timestamps, anomaly_score and is_anomaly differ in length")
        wins = tuple(_as_window(w) for w in windows)
        return cls(ts, score, flags, wins)


@dataclass(frozen=True)
class CategoryScore:
    """Raw and normalised score of a group of files (a category or the whole set)."""

    files: int
    windows: int
    raw: float
    null: float
    perfect: float
    score: float | None  # normalised; None when the group has no window to score


@dataclass(frozen=True)
class ProfileResult:
    """The NAB result of one profile: headline score plus per-category and per-file raw."""

    profile: str
    threshold: float | None  # None: decisions scored as-is, or "never fire" won the search
    score: float | None
    raw: float
    null: float
    perfect: float
    per_category: dict[str, CategoryScore] = field(default_factory=dict)
    per_file: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WindowCounts:
    """Window-level detection counts and the precision / recall / F1 they imply."""

    windows: int
    detected: int
    false_alarms: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, windows: int, detected: int, false_alarms: int) -> WindowCounts:
        """Derive the ratios, using 0 for 0/0 so a silent detector scores 0, not NaN."""
        precision = _ratio(detected, detected + false_alarms)
        recall = _ratio(detected, windows)
        f1 = _ratio(2 * precision * recall, precision + recall)
        return cls(windows, detected, false_alarms, precision, recall, f1)


@dataclass(frozen=True)
class DecisionReport:
    """NAB scores of the detector's own decisions plus window precision / recall / F1."""

    profiles: dict[str, ProfileResult]
    windows: WindowCounts
    per_category: dict[str, WindowCounts]


@dataclass(frozen=True, eq=False)
class _Layout:
    """Profile-free per-row facts of one file, computed once and reused by every profile."""

    scorable: BoolArray  # False inside the probationary period
    window_id: IntArray  # index of the window holding the row, NO_WINDOW outside
    tp_unit: FloatArray  # hit reward per unit tpWeight (1 on a window's first row)
    fp_unit: FloatArray  # false-alarm factor per unit fpWeight (in [-1, 0))
    n_windows: int  # windows with at least one scored row


@dataclass(frozen=True, eq=False)
class _Prepared:
    """A file ready for scoring: its layout, scores with NaN as -inf, and flags."""

    key: str
    layout: _Layout
    score: FloatArray
    flags: BoolArray | None


# --------------------------------------------------------------------------- rules


def scaled_sigmoid(x: npt.ArrayLike) -> FloatArray:
    """NAB's reward curve ``2 / (1 + exp(5 x)) - 1``, set to -1 beyond ``x = 3``.

    ``x`` is -1 on a window's first row, about 0 on its last and positive after it,
    so early hits earn about +0.987 and false alarms long after a window cost -1.

    >>> [round(float(v), 4) for v in scaled_sigmoid([-1.0, 0.0, 1.0, 3.5])]
    [0.9866, 0.0, -0.9866, -1.0]
    """
    arr = np.asarray(x, dtype=np.float64)
    capped = np.minimum(arr, 3.0)  # keeps exp() finite; those rows are replaced below
    curve = 2.0 / (1.0 + np.exp(5.0 * capped)) - 1.0
    return np.asarray(np.where(arr > 3.0, -1.0, curve), dtype=np.float64)


MAX_TP = float(scaled_sigmoid(-1.0))


def probation_length(rows: int) -> int:
    """Rows at the start of a file that are never scored: 15 %, at most 750.

    >>> probation_length(4032), probation_length(15902)
    (604, 750)
    """
    return min(math.floor(PROBATION_FRACTION * rows), PROBATION_MAX_ROWS)


def normalise(raw: float, windows: int, profile: Profile) -> float | None:
    """Map a raw score onto 0 (never fire) .. 100 (every window hit on its first row)."""
    null = -profile.fn_weight * windows
    perfect = profile.tp_weight * windows
    if perfect == null:
        return None
    return 100.0 * (raw - null) / (perfect - null)


# --------------------------------------------------------------------------- layout


def _window_rows(ts: TimeArray, windows: Sequence[Window], key: str) -> list[tuple[int, int]]:
    """Row span of every window, sorted, checked for existence and overlap."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted(windows, key=lambda w: w[0]):
        first = _first_row(ts, start, key)
        last = _first_row(ts, end, key)
        if last < first:
            raise FileInputError(key, f"window {start}..{end} ends before it starts")
        if spans and first <= spans[-1][1]:
            raise FileInputError(key, f"window {start}..{end} overlaps the previous one")
        spans.append((first, last))
    return spans


def _first_row(ts: TimeArray, when: np.datetime64, key: str) -> int:
    """Index of the first row stamped ``when``; window ends must match rows exactly."""
    hits = np.flatnonzero(ts == when)
    if hits.size == 0:
        raise FileInputError(key, f"window boundary {when} matches no row's timestamp")
    return int(hits[0])


def _layout(scored: ScoredFile, key: str) -> _Layout:
    """Per-row window membership, hit rewards and false-alarm factors of one file."""
    rows = len(scored.timestamps)
    window_id = np.full(rows, NO_WINDOW, dtype=np.int64)
    tp_unit = np.zeros(rows)
    fp_unit = np.full(rows, -1.0)  # no window has ended yet: full false-alarm cost
    spans = _window_rows(scored.timestamps, scored.windows, key)
    for k, (first, last) in enumerate(spans):
        width = last - first + 1
        inside = np.arange(first, last + 1)
        window_id[first : last + 1] = k
        tp_unit[first : last + 1] = scaled_sigmoid(-(last - inside + 1) / width) / MAX_TP
        fp_unit[first : last + 1] = 0.0
        stop = spans[k + 1][0] if k + 1 < len(spans) else rows
        after = np.arange(last + 1, stop)
        fp_unit[last + 1 : stop] = scaled_sigmoid((after - last) / max(width - 1, 1))
    scorable = np.arange(rows) >= probation_length(rows)
    n_windows = int(np.unique(window_id[scorable & (window_id != NO_WINDOW)]).size)
    return _Layout(scorable, window_id, tp_unit, fp_unit, n_windows)


def _prepare(results: Mapping[str, ScoredFile], need_flags: bool) -> list[_Prepared]:
    """Lay out every file once; NaN scores become -inf so no threshold detects them."""
    prepared = []
    for key in sorted(results):
        scored = results[key]
        if need_flags and scored.is_anomaly is None:
            raise FileInputError(key, "no is_anomaly column to score as-is")
        score = np.where(np.isnan(scored.anomaly_score), -np.inf, scored.anomaly_score)
        prepared.append(_Prepared(key, _layout(scored, key), score, scored.is_anomaly))
    return prepared


# --------------------------------------------------------------------------- scoring


def _file_raw(layout: _Layout, detected: BoolArray, profile: Profile) -> float:
    """Raw NAB score of one file for a given set of detected rows."""
    hit = detected & layout.scorable
    outside = hit & (layout.window_id == NO_WINDOW)
    false_alarms = profile.fp_weight * float(layout.fp_unit[outside].sum())
    in_windows = np.flatnonzero(hit & (layout.window_id != NO_WINDOW))
    caught, first = np.unique(layout.window_id[in_windows], return_index=True)
    hits = profile.tp_weight * float(layout.tp_unit[in_windows[first]].sum())
    missed = layout.n_windows - int(caught.size)
    return hits + false_alarms - profile.fn_weight * missed


def _category(key: str) -> str:
    """NAB groups files by their folder ("realTweets/x.csv" -> "realTweets")."""
    return key.split("/", 1)[0] if "/" in key else ""


def _group_score(
    members: Sequence[_Prepared], raws: Mapping[str, float], profile: Profile
) -> CategoryScore:
    """Sum raw scores and windows of some files and normalise the total."""
    windows = sum(p.layout.n_windows for p in members)
    raw = float(sum(raws[p.key] for p in members))
    return CategoryScore(
        files=len(members),
        windows=windows,
        raw=raw,
        null=-profile.fn_weight * windows,
        perfect=profile.tp_weight * windows,
        score=normalise(raw, windows, profile),
    )


def _profile_result(
    prepared: Sequence[_Prepared],
    detections: Mapping[str, BoolArray],
    profile: Profile,
    threshold: float | None,
) -> ProfileResult:
    """Score every file for fixed detections and roll the result up by category."""
    raws = {p.key: _file_raw(p.layout, detections[p.key], profile) for p in prepared}
    total = _group_score(prepared, raws, profile)
    per_category = {
        cat: _group_score([p for p in prepared if _category(p.key) == cat], raws, profile)
        for cat in sorted({_category(p.key) for p in prepared})
    }
    return ProfileResult(
        profile=profile.name,
        threshold=threshold,
        score=total.score,
        raw=total.raw,
        null=total.null,
        perfect=total.perfect,
        per_category=per_category,
        per_file=raws,
    )


def _window_events(prep: _Prepared, profile: Profile) -> tuple[FloatArray, FloatArray]:
    """Scores at which a window's earliest detection moves, and the raw-score change.

    Lowering the threshold past a row's score makes that row the window's earliest
    detection only if it beats every earlier row of the window, i.e. it is a strict
    running maximum from the left. Those records have rising scores and falling
    rewards, so each step swaps the previous (later) record's reward for its own; the
    first one reached replaces the miss penalty.
    """
    layout = prep.layout
    rows = np.flatnonzero(layout.scorable & (layout.window_id != NO_WINDOW))
    if rows.size == 0:
        return np.empty(0), np.empty(0)
    splits = np.flatnonzero(np.diff(layout.window_id[rows])) + 1
    scores, deltas = [], []
    for window_rows in np.split(rows, splits):
        s = prep.score[window_rows]
        earlier_max = np.maximum.accumulate(np.concatenate(([-np.inf], s[:-1])))
        record = s > earlier_max
        reward = profile.tp_weight * layout.tp_unit[window_rows[record]]
        deltas.append(reward - np.append(reward[1:], -profile.fn_weight))
        scores.append(s[record])
    return np.concatenate(scores), np.concatenate(deltas)


def _false_alarm_events(prep: _Prepared, profile: Profile) -> tuple[FloatArray, FloatArray]:
    """Every scored row outside windows adds its own (negative) cost once detected."""
    layout = prep.layout
    mask = layout.scorable & (layout.window_id == NO_WINDOW) & (prep.score > -np.inf)
    return prep.score[mask], profile.fp_weight * layout.fp_unit[mask]


def _best_threshold(prepared: Sequence[_Prepared], profile: Profile) -> float | None:
    """The threshold with the best summed raw score over all files (None: never fire).

    Each detected row contributes a change to the total (see ``_window_events``), so
    sorting all changes by score, high to low, and accumulating them gives the total
    at every candidate threshold in one pass; a threshold equal to a score includes
    every row tied at that score.
    """
    parts = [_window_events(p, profile) for p in prepared]
    parts += [_false_alarm_events(p, profile) for p in prepared]
    scores = np.concatenate([s for s, _ in parts])
    deltas = np.concatenate([d for _, d in parts])
    if scores.size == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    gains = np.cumsum(deltas[order])
    last_of_tie = np.append(ordered[1:] != ordered[:-1], True)
    candidates, candidate_gains = ordered[last_of_tie], gains[last_of_tie]
    best = int(np.argmax(candidate_gains))  # first maximum = highest threshold
    return float(candidates[best]) if candidate_gains[best] > 0.0 else None


def score_threshold_search(
    results: Mapping[str, ScoredFile], profiles: Sequence[Profile] = STANDARD_PROFILES
) -> dict[str, ProfileResult]:
    """NAB's published scoring of ``anomaly_score``: best shared threshold per profile.

    ``results`` maps a file key such as ``"realTweets/Twitter_volume_AAPL.csv"`` to its
    scores and windows. Returns one ``ProfileResult`` per profile name.
    """
    prepared = _prepare(results, need_flags=False)
    report = {}
    for profile in profiles:
        threshold = _best_threshold(prepared, profile)
        detections = {
            p.key: (p.score >= threshold) if threshold is not None else np.zeros_like(p.score, bool)
            for p in prepared
        }
        report[profile.name] = _profile_result(prepared, detections, profile, threshold)
    return report


def _false_alarm_runs(layout: _Layout, flags: BoolArray) -> int:
    """Maximal runs of consecutive flagged, scored rows outside every window."""
    alarm = flags & layout.scorable & (layout.window_id == NO_WINDOW)
    if alarm.size == 0:
        return 0
    return int(alarm[0]) + int(np.count_nonzero(alarm[1:] & ~alarm[:-1]))


def _caught_windows(layout: _Layout, flags: BoolArray) -> int:
    """Windows with at least one flagged, scored row."""
    hit = flags & layout.scorable & (layout.window_id != NO_WINDOW)
    return int(np.unique(layout.window_id[hit]).size)


def _window_counts(prepared: Sequence[_Prepared]) -> WindowCounts:
    """Pool window hits and false-alarm runs over some files."""
    windows = detected = alarms = 0
    for p in prepared:
        assert p.flags is not None  # guaranteed by _prepare(need_flags=True)
        windows += p.layout.n_windows
        detected += _caught_windows(p.layout, p.flags)
        alarms += _false_alarm_runs(p.layout, p.flags)
    return WindowCounts.of(windows, detected, alarms)


def score_decisions(
    results: Mapping[str, ScoredFile], profiles: Sequence[Profile] = STANDARD_PROFILES
) -> DecisionReport:
    """NAB scores of the detector's own ``is_anomaly`` flags (no search) plus window P/R/F1.

    This is what users actually receive as alerts, so it is the number to watch; the
    threshold-searched score shows what the raw scores could achieve at best.
    """
    prepared = _prepare(results, need_flags=True)
    detections = {p.key: p.flags for p in prepared if p.flags is not None}
    per_profile = {
        profile.name: _profile_result(prepared, detections, profile, None) for profile in profiles
    }
    per_category = {
        cat: _window_counts([p for p in prepared if _category(p.key) == cat])
        for cat in sorted({_category(p.key) for p in prepared})
    }
    return DecisionReport(per_profile, _window_counts(prepared), per_category)


# --------------------------------------------------------------------------- input


def as_datetime64(values: npt.ArrayLike) -> TimeArray:
    """Timestamps as ``datetime64[ns]``, parsing strings such as ``2014-04-10 07:15:00``."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]")
    parsed = pd.to_datetime(pd.Series(arr, dtype=object), format="ISO8601")
    return np.asarray(parsed.to_numpy(dtype="datetime64[ns]"))


def _as_window(window: tuple[object, object]) -> Window:
    """A (start, end) pair of anything timestamp-like as two ``datetime64[ns]``."""
    start, end = as_datetime64(np.asarray(window))
    return (start, end)


def load_profiles(path: Path) -> tuple[Profile, ...]:
    """Read NAB's ``config/profiles.json`` (name -> {"CostMatrix": {...}})."""
    raw = json.loads(path.read_text())
    return tuple(
        Profile(
            name,
            float(spec["CostMatrix"]["tpWeight"]),
            float(spec["CostMatrix"]["fnWeight"]),
            float(spec["CostMatrix"]["fpWeight"]),
        )
        for name, spec in raw.items()
    )


def load_nab(root: Path) -> dict[str, NabFile]:
    """Read every ``data/<category>/<file>.csv`` and its windows from ``labels/``.

    Every data file must have an entry in ``combined_windows.json`` and vice versa,
    so a partial copy of the dataset fails loudly instead of scoring a subset.
    """
    labels_path = root / "labels" / "combined_windows.json"
    windows: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    data_dir = root / "data"
    keys = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*.csv"))
    unlabelled = sorted(set(keys) - set(windows))
    missing = sorted(set(windows) - set(keys))
    if unlabelled or missing:
        raise InputError(
            f"NAB data and labels disagree: no windows for {unlabelled}, no data for {missing}"
        )
    corpus = {}
    for key in keys:
        try:
            frame = pd.read_csv(data_dir / key)
            corpus[key] = NabFile(
                timestamps=as_datetime64(frame["timestamp"].to_numpy()),
                values=frame["value"].to_numpy(dtype=np.float64),
                windows=tuple(_as_window((w[0], w[1])) for w in windows[key]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise FileInputError(data_dir / key, f"unreadable NAB file or windows: {exc}") from exc
    return corpus


def parse_flags(column: pd.Series, path: Path) -> BoolArray:
    """Parse an is_anomaly column written as 0/1 or true/false; anything else is an error."""
    if column.dtype == bool:
        return column.to_numpy(dtype=bool)
    text = column.astype(str).str.strip().str.lower()
    bad = ~text.isin(_TRUE_FLAGS | _FALSE_FLAGS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise FileInputError(path, f"is_anomaly {column.iloc[row]!r} on row {row} is not 0/1")
    return text.isin(_TRUE_FLAGS).to_numpy(dtype=bool)


def _read_result_file(path: Path, truth: NabFile | None) -> ScoredFile:
    """One detector output file, checked against the data file it claims to score."""
    if not path.is_file():
        raise FileInputError(path, "missing: the detector wrote no output for this file")
    wanted = {"timestamp", "anomaly_score", "is_anomaly"}
    frame = pd.read_csv(path, usecols=lambda c: c in wanted)
    for column in ("timestamp", "anomaly_score"):
        if column not in frame.columns:
            raise FileInputError(path, f"no {column} column")
    try:
        score = pd.to_numeric(frame["anomaly_score"]).to_numpy(dtype=np.float64)
        timestamps = as_datetime64(frame["timestamp"].to_numpy())
    except (ValueError, TypeError) as exc:
        raise FileInputError(path, f"unreadable anomaly_score or timestamp: {exc}") from exc
    flags = parse_flags(frame["is_anomaly"], path) if "is_anomaly" in frame.columns else None
    if truth is None:
        return ScoredFile(timestamps, score, flags)
    if len(timestamps) != len(truth.timestamps):
        raise FileInputError(path, f"{len(timestamps)} rows, data has {len(truth.timestamps)}")
    differ = np.flatnonzero(timestamps != truth.timestamps)
    if differ.size:
        raise FileInputError(path, f"timestamp on row {int(differ[0])} differs from the data")
    return ScoredFile(truth.timestamps, score, flags, truth.windows)


def read_results(
    results_dir: Path, corpus: Mapping[str, NabFile] | None = None
) -> dict[str, ScoredFile]:
    """Read ``<results>/<category>/<file>.csv`` detector outputs.

    With ``corpus`` (from ``load_nab``) exactly its files are read, each checked
    row by row against its data file and given its windows; a missing output is an
    error. Without it every CSV found is read and has no windows.
    """
    if corpus is None:
        keys = sorted(p.relative_to(results_dir).as_posix() for p in results_dir.rglob("*.csv"))
        return {key: _read_result_file(results_dir / key, None) for key in keys}
    return {key: _read_result_file(results_dir / key, corpus[key]) for key in sorted(corpus)}


def _ratio(num: float, den: float) -> float:
    """num / den, with 0 for an empty denominator."""
    return float(num) / float(den) if den else 0.0
