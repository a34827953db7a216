"""SMD (Server Machine Dataset) metrics that do not flatter: no point adjustment by default.

Point adjustment (PA) counts a whole labelled segment as found once any row of it is
flagged; on SMD that lifts uniformly random scores to a best F1 of about 0.85, so it
says little about a detector. We report instead:

* **point-wise** precision / recall / F1 of the binary decisions (``is_anomaly``);
* **event-wise** precision / recall / F1: events are maximal runs of label-1 rows,
  predicted events maximal runs of flagged rows; recall is the share of true events
  with at least one flagged row, precision the share of predicted events touching at
  least one true event (one long alert and one short alert count the same, which is
  how an operator experiences them);
* **AUC-PR** (average precision) of the continuous score, free of any threshold;
* **VUS-PR** (Paparrizos et al., VLDB 2022, "Volume Under the Surface"): the range
  PR-AUC averaged over label buffers ``l = 0..L`` (see ``vus_pr``), which forgives a
  score for firing a few rows before or after a labelled segment.

Best point-adjusted F1 is available too, but only next to the same figure for seeded
uniform random scores, so nobody reads it without its baseline.

Overall figures: point and event counts are pooled over machines (micro average, every
row/event weighs the same); AUC-PR, VUS-PR and PA-F1 are means over machines, because
each machine has its own model and its scores are not on a common scale. A NaN score
(a row the detector could not score) ranks below every real score.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import average_precision_score

from anomalert.errors import FileInputError, InputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

MAX_BUFFER_CAP = 100
VUS_THRESHOLDS = 200
RANDOM_SEED = 20240101


@dataclass(frozen=True, eq=False)
class SmdMachine:
    """One SMD machine: unlabelled train half, labelled test half (rows x 38 metrics)."""

    name: str
    train: FloatArray
    test: FloatArray
    labels: BoolArray


@dataclass(frozen=True)
class PointCounts:
    """Row-level confusion counts and the precision / recall / F1 they imply."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> PointCounts:
        """Derive the ratios; 0/0 counts as 0 so a silent detector scores 0, not NaN."""
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        return cls(tp, fp, fn, precision, recall, _f1(precision, recall))

    def __add__(self, other: PointCounts) -> PointCounts:
        """Pool two machines' counts (micro average)."""
        return PointCounts.of(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


@dataclass(frozen=True)
class EventCounts:
    """Event-level counts: true events caught, predicted events that were right."""

    true_events: int
    caught_events: int
    predicted_events: int
    correct_predictions: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, true_events: int, caught: int, predicted: int, correct: int) -> EventCounts:
        """Derive the ratios; 0/0 counts as 0."""
        precision, recall = _ratio(correct, predicted), _ratio(caught, true_events)
        return cls(
            true_events, caught, predicted, correct, precision, recall, _f1(precision, recall)
        )

    def __add__(self, other: EventCounts) -> EventCounts:
        """Pool two machines' counts (micro average)."""
        return EventCounts.of(
            self.true_events + other.true_events,
            self.caught_events + other.caught_events,
            self.predicted_events + other.predicted_events,
            self.correct_predictions + other.correct_predictions,
        )


@dataclass(frozen=True)
class MachineReport:
    """All metrics of one machine's test half, with the random-score references."""

    name: str
    rows: int
    anomalous_rows: int
    point: PointCounts
    events: EventCounts
    auc_pr: float
    vus_pr: float
    pa_f1_best: float
    random_auc_pr: float
    random_vus_pr: float
    random_pa_f1_best: float


@dataclass(frozen=True)
class SmdSummary:
    """Overall SMD figures (pooled counts, machine-mean curves) plus every machine."""

    max_buffer: int
    random_seed: int
    point: PointCounts
    events: EventCounts
    auc_pr: float
    vus_pr: float
    pa_f1_best: float
    random_auc_pr: float
    random_vus_pr: float
    random_pa_f1_best: float
    machines: dict[str, MachineReport]


# --------------------------------------------------------------------------- loading


def machine_names(root: Path) -> list[str]:
    """Machines present in ``test_label/`` (the labels define what can be scored)."""
    return sorted(p.name.removesuffix(".txt") for p in (root / "test_label").glob("*.txt"))


def _read_matrix(path: Path) -> FloatArray:
    """A headerless comma-separated matrix (gzip read transparently)."""
    if not path.is_file():
        raise FileInputError(path, "missing")
    return pd.read_csv(path, header=None, dtype=np.float64).to_numpy()


def load_smd(root: Path) -> Iterator[SmdMachine]:
    """Yield every machine's train array, test array and test labels, one at a time.

    A generator, because all 14 machines together take a few hundred MB as floats.
    """
    names = machine_names(root)
    if not names:
        raise InputError(f"{root}: no machines in test_label/")
    for name in names:
        train = _read_matrix(root / "train" / f"{name}.txt.gz")
        test = _read_matrix(root / "test" / f"{name}.txt.gz")
        label_path = root / "test_label" / f"{name}.txt"
        labels = np.loadtxt(label_path, dtype=np.int64).reshape(-1) != 0
        if labels.size != test.shape[0] or train.shape[1] != test.shape[1]:
            raise FileInputError(
                label_path, f"{labels.size} labels for a {test.shape} test and {train.shape} train"
            )
        yield SmdMachine(name, train, test, labels)


def raw_rows(root: Path, name: str) -> list[str]:
    """A machine's train then test rows exactly as stored (comma-separated text).

    Re-emitting the stored text is ten times faster than formatting floats again and
    guarantees the detector sees the published values digit for digit.
    """
    rows: list[str] = []
    for part in ("train", "test"):
        with gzip.open(root / part / f"{name}.txt.gz", "rt") as handle:
            rows.extend(line.rstrip("\r\n") for line in handle if line.strip())
    return rows


# --------------------------------------------------------------------------- events


def runs(mask: npt.ArrayLike) -> IntArray:
    """Maximal runs of True as rows ``[start, stop)`` (shape ``(k, 2)``).

    >>> runs([0, 1, 1, 0, 1]).tolist()
    [[1, 3], [4, 5]]
    """
    padded = np.concatenate(([0], np.asarray(mask, dtype=np.int8), [0]))
    edges = np.diff(padded)
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return np.stack([starts, stops], axis=1).astype(np.int64)


def touched(spans: IntArray, mask: BoolArray) -> BoolArray:
    """Which spans contain at least one True row of ``mask`` (prefix sums, no loop)."""
    prefix = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    return np.asarray(prefix[spans[:, 1]] - prefix[spans[:, 0]] > 0)


def point_counts(labels: npt.ArrayLike, predictions: npt.ArrayLike) -> PointCounts:
    """Row-level TP / FP / FN of binary predictions, no adjustment."""
    y, p = _bools(labels), _bools(predictions)
    _same_length(y, p)
    tp = int(np.count_nonzero(y & p))
    return PointCounts.of(tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(y)) - tp)


def event_counts(labels: npt.ArrayLike, predictions: npt.ArrayLike) -> EventCounts:
    """Event-level counts: runs of labels caught, runs of predictions that hit a label."""
    y, p = _bools(labels), _bools(predictions)
    _same_length(y, p)
    true_spans, predicted_spans = runs(y), runs(p)
    return EventCounts.of(
        true_events=len(true_spans),
        caught=int(np.count_nonzero(touched(true_spans, p))),
        predicted=len(predicted_spans),
        correct=int(np.count_nonzero(touched(predicted_spans, y))),
    )


# --------------------------------------------------------------------------- curves


def auc_pr(labels: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Average precision of the score (area under the PR curve); NaN without positives."""
    y, s = _bools(labels), _rankable(score)
    _same_length(y, s)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, s))


def default_max_buffer(labels: Sequence[npt.ArrayLike]) -> int:
    """VUS's largest buffer: the median true event length over all series, capped at 100.

    Tying the buffer to typical event length lets a score be early or late by about
    half an event; the cap keeps one very long event from blurring everything.
    """
    lengths = np.concatenate([np.diff(runs(_bools(y)), axis=1).reshape(-1) for y in labels])
    if lengths.size == 0:
        return 0
    return int(min(MAX_BUFFER_CAP, max(1, round(float(np.median(lengths))))))


def _distance_to_label(y: BoolArray) -> IntArray:
    """Rows between each row and the nearest labelled row (a huge number if none)."""
    rows = np.arange(y.size)
    big = np.int64(2 * y.size + 1)
    before = np.maximum.accumulate(np.where(y, rows, -big))
    after = np.minimum.accumulate(np.where(y, rows, 2 * big)[::-1])[::-1]
    return np.minimum(rows - before, after - rows).astype(np.int64)


def soft_labels(labels: npt.ArrayLike, buffer: int) -> FloatArray:
    """VUS's buffered labels: 1 inside events, ``sqrt(1 - d / buffer)`` up to half a buffer out.

    ``d`` is the distance in rows to the nearest labelled row; rows farther than
    ``buffer // 2`` stay 0. (The authors' code adds the two ramps where buffers of
    neighbouring events meet and caps at 1; we take the nearest event, which only
    differs in such gaps.)

    >>> soft_labels([0, 0, 0, 1, 0, 0, 0], 4).round(3).tolist()
    [0.0, 0.707, 0.866, 1.0, 0.866, 0.707, 0.0]
    """
    y = _bools(labels)
    distance = _distance_to_label(y)
    if buffer <= 0:
        return y.astype(np.float64)
    near = distance <= buffer // 2
    ramp = np.sqrt(np.clip(1.0 - distance / buffer, 0.0, 1.0))
    return np.where(near, ramp, 0.0)


@dataclass(frozen=True, eq=False)
class _Ranking:
    """A score sorted once and shared by every buffer of a VUS computation."""

    score: FloatArray  # row order
    order: IntArray  # rows from highest to lowest score
    thresholds: FloatArray  # candidate thresholds, descending
    flagged: IntArray  # rows with score >= each threshold

    @classmethod
    def of(cls, score: FloatArray, n_thresholds: int) -> _Ranking:
        """Pick ``n_thresholds`` score quantiles (evenly spaced ranks) as thresholds."""
        ascending = np.sort(score, kind="stable")
        ranks = np.linspace(0, score.size - 1, n_thresholds).round().astype(np.int64)
        thresholds = np.unique(ascending[ranks])[::-1]
        flagged = score.size - np.searchsorted(ascending, thresholds, side="left")
        order = np.argsort(-score, kind="stable")
        return cls(score, order, thresholds, flagged.astype(np.int64))


def _span_max(score: FloatArray, spans: IntArray) -> FloatArray:
    """Highest score inside each ``[start, stop)`` span (one ``reduceat``, no loop)."""
    if len(spans) == 0:
        return np.empty(0)
    padded = np.append(score, -np.inf)  # lets a span end at the last row
    return np.asarray(np.maximum.reduceat(padded, spans.reshape(-1))[::2], dtype=np.float64)


def _range_pr_auc(positives: int, soft: FloatArray, ranking: _Ranking) -> float:
    """Range PR-AUC of one buffer: soft-label precision and existence-weighted recall.

    Precision at threshold t is the soft-label mass of the flagged rows over their
    count. Recall is that mass over ``(P + sum(soft)) / 2`` (capped at 1) times the
    share of buffered events holding at least one flagged row, so touching every
    event beats covering one event thoroughly.
    """
    mass = np.cumsum(soft[ranking.order])[ranking.flagged - 1]
    event_max = np.sort(_span_max(ranking.score, runs(soft > 0)))
    reached = event_max.size - np.searchsorted(event_max, ranking.thresholds, side="left")
    existence = reached / max(event_max.size, 1)
    recall = np.minimum(mass / ((positives + soft.sum()) / 2.0), 1.0) * existence
    precision = mass / ranking.flagged
    gained = np.diff(np.concatenate(([0.0], recall)))
    return float(np.sum(gained * precision))


def vus_pr(
    labels: npt.ArrayLike,
    score: npt.ArrayLike,
    max_buffer: int | None = None,
    n_thresholds: int = VUS_THRESHOLDS,
) -> float:
    """VUS-PR: range PR-AUC averaged over buffers ``l = 0..max_buffer`` (NaN without events).

    Thresholds are ``n_thresholds`` score quantiles (evenly spaced ranks), ending at
    the lowest score so every curve reaches recall 1. Each curve is integrated like
    average precision (recall gained times precision at that threshold) rather than
    with the authors' trapezoid from (0, 1), which hands a constant score about
    ``(1 + anomaly rate) / 2``. Either way a perfect binary score gets 1 at buffer 0
    and less at wider buffers, whose soft rows it does not flag (about 0.85 with
    SMD's L = 9); random scores get about the anomaly rate. ``max_buffer`` defaults
    to ``default_max_buffer([labels])``. Everything per buffer is a prefix sum over one
    shared score order, so a 24k-row series with L = 100 takes well under a second.
    """
    y, s = _bools(labels), _rankable(score)
    _same_length(y, s)
    if not y.any():
        return float("nan")
    top = default_max_buffer([y]) if max_buffer is None else max_buffer
    ranking = _Ranking.of(s, n_thresholds)
    positives = int(np.count_nonzero(y))
    areas = [_range_pr_auc(positives, soft_labels(y, b), ranking) for b in range(top + 1)]
    return float(np.mean(areas))


def best_pa_f1(labels: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Best point-adjusted F1 over every distinct threshold (an optimistic, inflated figure).

    Under point adjustment an event whose highest score reaches the threshold counts
    all its rows as hits; flagged normal rows stay false positives.
    """
    y, s = _bools(labels), _rankable(score)
    _same_length(y, s)
    if not y.any():
        return float("nan")
    spans = runs(y)
    event_max = _span_max(s, spans)
    event_len = (spans[:, 1] - spans[:, 0]).astype(np.float64)
    by_max = np.argsort(-event_max, kind="stable")
    caught_rows = np.concatenate(([0.0], np.cumsum(event_len[by_max])))
    order = np.argsort(-s, kind="stable")
    ordered = s[order]
    last_of_tie = np.append(ordered[1:] != ordered[:-1], True)
    thresholds = ordered[last_of_tie]
    false_pos = np.cumsum(~y[order])[last_of_tie]
    caught = np.searchsorted(-event_max[by_max], -thresholds, side="right")
    tp = caught_rows[caught]
    f1 = 2 * tp / (2 * tp + false_pos + (np.count_nonzero(y) - tp))
    return float(f1.max())


# --------------------------------------------------------------------------- reports


def random_scores(name: str, rows: int, seed: int = RANDOM_SEED) -> FloatArray:
    """Seeded uniform noise for one machine, reproducible across runs and machines."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return rng.random(rows)


def evaluate_machine(
    name: str,
    labels: npt.ArrayLike,
    score: npt.ArrayLike,
    predictions: npt.ArrayLike,
    max_buffer: int,
    seed: int = RANDOM_SEED,
) -> MachineReport:
    """Every SMD metric of one machine's test rows, plus the same curves for random scores."""
    y = _bools(labels)
    noise = random_scores(name, y.size, seed)
    return MachineReport(
        name=name,
        rows=int(y.size),
        anomalous_rows=int(np.count_nonzero(y)),
        point=point_counts(y, predictions),
        events=event_counts(y, predictions),
        auc_pr=auc_pr(y, score),
        vus_pr=vus_pr(y, score, max_buffer),
        pa_f1_best=best_pa_f1(y, score),
        random_auc_pr=auc_pr(y, noise),
        random_vus_pr=vus_pr(y, noise, max_buffer),
        random_pa_f1_best=best_pa_f1(y, noise),
    )


def summarise(
    reports: Mapping[str, MachineReport], max_buffer: int, seed: int = RANDOM_SEED
) -> SmdSummary:
    """Overall figures: pooled point/event counts, machine means of the curve metrics."""
    if not reports:
        raise InputError("no SMD machine was scored")
    items = [reports[name] for name in sorted(reports)]
    point, events = items[0].point, items[0].events
    for report in items[1:]:
        point, events = point + report.point, events + report.events
    return SmdSummary(
        max_buffer=max_buffer,
        random_seed=seed,
        point=point,
        events=events,
        auc_pr=_mean([r.auc_pr for r in items]),
        vus_pr=_mean([r.vus_pr for r in items]),
        pa_f1_best=_mean([r.pa_f1_best for r in items]),
        random_auc_pr=_mean([r.random_auc_pr for r in items]),
        random_vus_pr=_mean([r.random_vus_pr for r in items]),
        random_pa_f1_best=_mean([r.random_pa_f1_best for r in items]),
        machines={r.name: r for r in items},
    )


# --------------------------------------------------------------------------- helpers


def _bools(values: npt.ArrayLike) -> BoolArray:
    """0/1 (or bool) input as a flat bool array."""
    return np.asarray(values).reshape(-1).astype(bool)


def _rankable(score: npt.ArrayLike) -> FloatArray:
    """Scores with NaN/-inf below and +inf above every finite score, order kept."""
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    finite = s[np.isfinite(s)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    s = np.where(np.isnan(s) | (s == -np.inf), low - 1.0, s)
    return np.where(s == np.inf, high + 1.0, s)


def _same_length(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> None:
    """Labels and scores must align row by row."""
    if a.size != b.size:
        raise InputError(f"labels have {a.size} rows, scores/predictions {b.size}")


def _ratio(num: float, den: float) -> float:
    """num / den, with 0 for an empty denominator."""
    return float(num) / float(den) if den else 0.0


def _f1(precision: float, recall: float) -> float:
    """Harmonic mean, 0 when both are 0."""
    return _ratio(2 * precision * recall, precision + recall)


def _mean(values: Sequence[float]) -> float:
    """Mean of the defined (non-NaN) values; NaN when none is defined."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else float("nan")
