"""JSON metric samples as the HTTP endpoint takes them, and the validation every format shares.

Body: ``{"samples": [{"metric", "labels", "timestamp", "value"}, ...]}``, each sample with an
optional ``"type"``: ``"counter"`` for a counter's running total, which the engine follows as
its per-second rate (``detect.counters``), or ``"gauge"`` (the default). How odd input is
handled (PRODUCT.md §1: a clear error or a documented, counted handling, never silence):

- a body that is not that shape, or holds more than ``max_batch`` samples, raises
  ``FieldError("samples", ...)``: the whole request is refused (HTTP 400/413);
- each bad sample becomes a :class:`Rejection` naming its fields, all of its problems at once
  (``samples[3].value: must be a finite number (got "NaN")``); the valid samples of the same
  batch are kept, so one bad row does not lose a batch;
- names follow Prometheus: metric ``[a-zA-Z_:][a-zA-Z0-9_:]*``, label ``[a-zA-Z_][a-zA-Z0-9_]*``
  (``__``-prefixed names are reserved); label values are strings; ``labels.service`` is required;
- label values are valid Unicode (a lone surrogate, ``"\\ud800"``, is refused) without
  control characters (NUL, a newline, an escape, DEL, a C1 control: see :mod:`.jsonin`);
- values are JSON numbers (bools and numeric strings are not), finite (NaN and ±inf refused);
- unknown keys are refused: a typo (``"valeu"``) must not become a silently missing value;
- timestamps: see :mod:`.timestamps`; on live endpoints also :class:`.timecheck.TimeWindow`;
- a counter named ``*_bucket`` is a histogram bucket: its ``le`` is a number or ``+Inf``
  (:func:`.histograms.bucket_problem`), as remote_write requires too;
- a second sample of the same series at the same timestamp in one batch is refused (the
  first is kept); ordering across batches is the detector's business, not the parser's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from anomalert.errors import FieldError
from anomalert.ingest.histograms import bucket_problem
from anomalert.ingest.jsonin import free_text, one_line, plain_text, printable
from anomalert.ingest.timecheck import TimeWindow
from anomalert.ingest.timestamps import parse_timestamp
from anomalert.model import Sample

MAX_BATCH = 10_000
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: Limits on a series' name and labels, as Mimir and Cortex keep (their defaults: names of
#: 1,024 characters, values of 2,048, 30 labels; more labels here, for the label copies
#: kube-state-metrics adds). A series' name and labels live in the engine's state and in
#: ``/metrics`` for as long as the series is followed: without limits, a sender's 100 KB
#: label values times ``detection.max_series`` would fill the memory.
MAX_NAME_LENGTH = 1024
MAX_VALUE_LENGTH = 2048
MAX_LABELS = 64


def check_label_limits(where: str, metric: str, labels: Mapping[str, str]) -> None:
    """FieldError where a series' name or labels pass the limits above (``where``: the
    series' place, its labels at ``where.labels``)."""
    if len(metric) > MAX_NAME_LENGTH:
        raise FieldError(where, f"metric name longer than {MAX_NAME_LENGTH} characters")
    if len(labels) > MAX_LABELS:
        raise FieldError(f"{where}.labels", f"more than {MAX_LABELS} labels ({len(labels)})")
    for name, value in labels.items():
        if len(name) > MAX_NAME_LENGTH:
            raise FieldError(
                f"{where}.labels", f"a label name longer than {MAX_NAME_LENGTH} characters"
            )
        if len(value) > MAX_VALUE_LENGTH:
            raise FieldError(f"{where}.labels.{name}", f"longer than {MAX_VALUE_LENGTH} characters")


SAMPLE_KEYS = ("metric", "labels", "timestamp", "value")
#: What a sample's optional ``type`` may say, and whether that is a counter.
SAMPLE_TYPES = {"gauge": False, "counter": True}
T = TypeVar("T")


@dataclass(frozen=True)
class Rejection:
    """One item of a batch that was refused: its position and every problem, fields named."""

    index: int
    error: str


def got(value: object) -> str:
    """The offending value as the sender wrote it, short enough for an error message (and
    safe to send: a lone surrogate is written as its escape, deep nesting is elided).

    >>> got("NaN"), got(True)
    ('"NaN"', 'true')
    """
    try:
        text = json.dumps(value, ensure_ascii=False)
    except RecursionError:
        text = "[...]" if isinstance(value, list) else "{...}"
    except (TypeError, ValueError):
        text = repr(value)
    text = printable(text)
    return text if len(text) <= 40 else text[:37] + "..."


def finite_number(where: str, value: object) -> float:
    """A JSON number that is finite; FieldError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldError(where, f"must be a finite number (got {got(value)})")
    return float(value)


def event_time(where: str, value: object, now: float | None, window: TimeWindow | None) -> float:
    """A parsed timestamp inside the live window (when there is one); FieldError otherwise."""
    try:
        t = parse_timestamp(value)
    except ValueError as exc:
        raise FieldError(where, f"{exc} (got {got(value)})") from None
    if window is not None:
        if now is None:
            raise ValueError("a time window needs the receiving clock (now)")
        problem = window.check(t, now)
        if problem is not None:
            raise FieldError(where, problem)
    return t


def label_set(where: str, value: object, *, free: bool = False) -> dict[str, str]:
    """A label map with Prometheus-valid names and string values without control characters
    (``free``: annotations, whose values may hold line breaks and tabs); FieldError otherwise.
    """
    if not isinstance(value, dict):
        raise FieldError(where, f"must be an object of name: value strings (got {got(value)})")
    labels: dict[str, str] = {}
    for name, text in value.items():
        if not LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise FieldError(
                f"{where}.{one_line(printable(name[:100]))}",
                "is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)",
            )
        if not isinstance(text, str):
            raise FieldError(f"{where}.{name}", f"must be a string (got {got(text)})")
        labels[name] = (free_text if free else plain_text)(f"{where}.{name}", text)
    check_label_limits(where.removesuffix(".labels"), "", labels)
    return labels


def metric_name(where: str, value: object) -> str:
    """A Prometheus metric name; FieldError otherwise."""
    if not isinstance(value, str) or not METRIC_NAME.fullmatch(value):
        raise FieldError(
            where, f"must be a metric name [a-zA-Z_:][a-zA-Z0-9_:]* (got {got(value)})"
        )
    if len(value) > MAX_NAME_LENGTH:
        raise FieldError(where, f"longer than {MAX_NAME_LENGTH} characters")
    return value


def unknown_keys(where: str, obj: Mapping[str, object], allowed: Iterable[str]) -> list[str]:
    """One problem per key the format does not have (typos must not pass silently)."""
    known = tuple(allowed)
    return [
        f"{where}.{key}: unknown key (expected {', '.join(known)})"
        for key in obj
        if key not in known
    ]


def attempt(
    problems: list[str], check: Callable[[str, object], T], where: str, value: object
) -> T | None:
    """``check(where, value)``, or None with its problem appended; ``...`` means absent."""
    if value is ...:
        return None
    try:
        return check(where, value)
    except FieldError as exc:
        problems.append(str(exc))
        return None


def batch(body: object, name: str, max_batch: int) -> list[object]:
    """The list under ``name`` in an object body; FieldError(name) when the shape is wrong."""
    if not isinstance(body, dict):
        raise FieldError(name, f'the body must be an object {{"{name}": [...]}} (got {got(body)})')
    extra = [key for key in body if key != name]
    if extra:
        raise FieldError(name, f'unknown top-level key {got(extra[0])}; expected only "{name}"')
    items = body.get(name)
    if not isinstance(items, list):
        raise FieldError(name, f"must be a list (got {got(items)})")
    return check_size(items, name, max_batch)


def check_size(items: list[object], name: str, max_batch: int) -> list[object]:
    """The items, or FieldError when one request holds too many (split the batch)."""
    if len(items) > max_batch:
        raise FieldError(
            name, f"{len(items):,} items in one request; the limit is {max_batch:,}: split it"
        )
    return items


def parse_samples(
    body: object,
    now: float | None,
    window: TimeWindow | None,
    *,
    max_batch: int = MAX_BATCH,
) -> tuple[list[Sample], list[Rejection]]:
    """Validated samples and the rejected ones; FieldError("samples") for a malformed body.

    ``window`` None (replay) accepts any time; otherwise ``now`` is the receiving clock.
    """
    accepted: list[Sample] = []
    rejected: list[Rejection] = []
    seen: dict[tuple[str, tuple[tuple[str, str], ...], float], int] = {}
    fast = _FastPath(now, window)
    for i, item in enumerate(batch(body, "samples", max_batch)):
        sample: Sample | None = fast.sample(item)
        problems: list[str] = []
        if sample is None:
            sample, problems = _sample(f"samples[{i}]", item, now, window)
        if sample is not None:
            key = (sample.metric, tuple(sorted(sample.labels.items())), sample.timestamp)
            first = seen.setdefault(key, i)
            if first != i:
                problems.append(
                    f"samples[{i}]: duplicate of samples[{first}] (same series and timestamp); "
                    "the first was kept"
                )
        if problems:
            rejected.append(Rejection(i, "; ".join(problems)))
        elif sample is not None:
            accepted.append(sample)
    return accepted, rejected


class _FastPath:
    """The common, valid sample checked without building a single string.

    Almost every sample of a batch is valid and shares its metric name and label set with
    thousands of others: each distinct name and label set is validated once per batch, and
    anything unusual (a missing key, a string timestamp, a bool, NaN) takes the full path,
    which produces the error messages. Same verdicts, about half the time per sample.
    """

    def __init__(self, now: float | None, window: TimeWindow | None) -> None:
        self.now = now
        self.window = window
        self.names: set[str] = set()
        self.labels: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    def sample(self, item: object) -> Sample | None:
        if type(item) is not dict or len(item) != 4:
            return None
        metric, labels, t, value = (
            item.get("metric"),
            item.get("labels"),
            item.get("timestamp"),
            item.get("value"),
        )
        if type(t) not in (int, float) or type(value) not in (int, float):
            return None  # bools, strings (RFC 3339), None: the full path decides
        t, value = float(t), float(value)  # type: ignore[arg-type]
        if not (math.isfinite(t) and math.isfinite(value)) or not 0 < t < 1e11:
            return None
        if self.window is not None and (
            self.now is None or self.window.check(t, self.now) is not None
        ):
            return None
        if type(metric) is not str or type(labels) is not dict:
            return None
        if metric not in self.names:
            if len(metric) > MAX_NAME_LENGTH or not METRIC_NAME.fullmatch(metric):
                return None
            self.names.add(metric)
        try:
            key = tuple(labels.items())
            checked = self.labels.get(key)
        except TypeError:
            return None
        if checked is None:
            try:
                checked = label_set("", labels)
            except FieldError:
                return None
            if not checked.get("service"):
                return None
            self.labels[key] = checked
        return Sample(metric=metric, labels=checked, timestamp=t, value=value)


def _sample(
    where: str, item: object, now: float | None, window: TimeWindow | None
) -> tuple[Sample | None, list[str]]:
    if not isinstance(item, dict):
        return None, [f"{where}: must be an object with {', '.join(SAMPLE_KEYS)} (got {got(item)})"]
    problems = unknown_keys(where, item, (*SAMPLE_KEYS, "type"))
    problems += [f"{where}.{key}: required" for key in SAMPLE_KEYS if key not in item]
    metric = attempt(problems, metric_name, f"{where}.metric", item.get("metric", ...))
    labels = attempt(problems, label_set, f"{where}.labels", item.get("labels", ...))
    timestamp = attempt(
        problems,
        lambda w, v: event_time(w, v, now, window),
        f"{where}.timestamp",
        item.get("timestamp", ...),
    )
    value = attempt(problems, finite_number, f"{where}.value", item.get("value", ...))
    kind = item.get("type", "gauge")
    if not isinstance(kind, str) or kind not in SAMPLE_TYPES:
        problems.append(f'{where}.type: must be "counter" or "gauge" (got {got(kind)})')
    elif metric is not None and labels is not None:
        bucket = bucket_problem(metric, labels, SAMPLE_TYPES[kind])
        if bucket is not None:
            problems.append(f"{where}.{bucket}")
    if labels is not None and not labels.get("service"):
        problems.append(f"{where}.labels.service: required (the service this metric belongs to)")
    if problems or metric is None or labels is None or timestamp is None or value is None:
        return None, problems
    sample = Sample(metric, labels, timestamp, value, SAMPLE_TYPES[kind])
    return sample, []
