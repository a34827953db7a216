"""Aggregate records: one service's request statistics over a window, fanned out to samples.

A record is what a log pipeline or an API gateway already computes every few minutes
(PRODUCT.md §1): ``{service, timestamp, window, total_requests, error_rate, latency_p99_ms,
latency_p95_ms, latency_mean_ms, unique_users, unique_ips, risk_score}``. The body is one
record, a list of them, or ``{"records": [...]}``. Handling follows :mod:`.samples`: the body
shape raises ``FieldError("records")``; each bad record is a :class:`Rejection` naming every
problem (``records[2].error_rate: required``); unknown keys are refused; every feature is
required, a finite number, and (all but ``risk_score``, whose scale is the sender's) not
negative; ``latency_p95_ms`` is not above ``latency_p99_ms``; ``window`` is ``"5m"`` or
seconds, positive; ``service`` holds no control character (it becomes its samples'
``service`` label); a second record of the same service and timestamp in one request is
refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from anomalert.configbase import parse_duration
from anomalert.errors import FieldError
from anomalert.ingest.jsonin import plain_text
from anomalert.ingest.samples import (
    MAX_BATCH,
    Rejection,
    attempt,
    batch,
    check_size,
    event_time,
    finite_number,
    got,
    unknown_keys,
)
from anomalert.ingest.timecheck import TimeWindow
from anomalert.model import Sample

FEATURES: tuple[str, ...] = (
    "total_requests",
    "error_rate",
    "latency_p99_ms",
    "latency_p95_ms",
    "latency_mean_ms",
    "unique_users",
    "unique_ips",
    "risk_score",
)
RECORD_KEYS: tuple[str, ...] = ("service", "timestamp", "window", *FEATURES)
_SIGNED = frozenset({"risk_score"})
#: Features that are shares of the window's requests: at most 1.
_FRACTIONS = frozenset({"error_rate"})


@dataclass(frozen=True)
class Record:
    """One service's statistics over ``window`` seconds ending at ``timestamp``."""

    service: str
    timestamp: float
    window: float
    values: dict[str, float] = field(hash=False)

    def samples(self) -> list[Sample]:
        """One sample per feature, in :data:`FEATURES` order, labelled with the service."""
        return [
            Sample(name, {"service": self.service}, self.timestamp, self.values[name])
            for name in FEATURES
        ]


def parse_records(
    body: object,
    now: float | None,
    window: TimeWindow | None,
    *,
    max_batch: int = MAX_BATCH,
) -> tuple[list[Record], list[Rejection]]:
    """Validated records and the rejected ones; FieldError("records") for a malformed body."""
    items = _items(body, max_batch)
    accepted: list[Record] = []
    rejected: list[Rejection] = []
    seen: dict[tuple[str, float], int] = {}
    for i, item in enumerate(items):
        where = f"records[{i}]"
        record, problems = _record(where, item, now, window)
        if record is not None:
            first = seen.setdefault((record.service, record.timestamp), i)
            if first != i:
                problems.append(
                    f"{where}: duplicate of records[{first}] "
                    "(same service and timestamp); the first was kept"
                )
        if problems:
            rejected.append(Rejection(i, "; ".join(problems)))
        elif record is not None:
            accepted.append(record)
    return accepted, rejected


def _items(body: object, max_batch: int) -> list[object]:
    """The records of any accepted body shape (a lone record is ``records[0]`` in errors)."""
    if isinstance(body, list):
        return check_size(body, "records", max_batch)
    if isinstance(body, dict) and "records" in body:
        return batch(body, "records", max_batch)
    if isinstance(body, dict):
        return [body]
    raise FieldError("records", f"the body must be a record or a list of records (got {got(body)})")


def _record(
    where: str, item: object, now: float | None, window: TimeWindow | None
) -> tuple[Record | None, list[str]]:
    def at(key: str) -> str:
        return f"{where}.{key}"

    if not isinstance(item, dict):
        return None, [f"{where}: must be an object (got {got(item)})"]
    problems = unknown_keys(where, item, RECORD_KEYS)
    problems += [f"{at(key)}: required" for key in RECORD_KEYS if key not in item]
    service = attempt(problems, _service, at("service"), item.get("service", ...))
    timestamp = attempt(
        problems,
        lambda w, v: event_time(w, v, now, window),
        at("timestamp"),
        item.get("timestamp", ...),
    )
    span = attempt(problems, _window, at("window"), item.get("window", ...))
    values: dict[str, float] = {}
    for name in FEATURES:
        value = attempt(problems, _feature, at(name), item.get(name, ...))
        if value is not None:
            values[name] = value
    problems += _ordered_quantiles(where, values)
    if problems or service is None or timestamp is None or span is None:
        return None, problems
    return Record(service, timestamp, span, values), []


def _ordered_quantiles(where: str, values: dict[str, float]) -> list[str]:
    """A p95 above the p99 is no latency distribution (fields swapped or mislabelled by the
    sender); taken, it would teach both series a lie."""
    p95, p99 = values.get("latency_p95_ms"), values.get("latency_p99_ms")
    if p95 is None or p99 is None or p95 <= p99:
        return []
    return [f"{where}.latency_p95_ms: must not exceed latency_p99_ms (got {p95:g} > {p99:g})"]


def _service(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():  # as an event's service
        raise FieldError(where, f"must be a non-empty string (got {got(value)})")
    return plain_text(where, value)  # a label of its samples: as their labels


def _window(where: str, value: object) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise FieldError(where, f"{exc} (got {got(value)})") from None
    if seconds <= 0:
        raise FieldError(where, "must be longer than zero")
    return seconds


def _feature(where: str, value: object) -> float:
    number = finite_number(where, value)
    name = where.rsplit(".", 1)[-1]
    if number < 0 and name not in _SIGNED:
        raise FieldError(where, f"must not be negative (got {got(value)})")
    if name in _FRACTIONS and number > 1.0:
        # A share of the window's requests (pooled as errors / requests: ``recordpools``).
        raise FieldError(where, f"must be a fraction of the requests, 0 to 1 (got {got(value)})")
    return number
