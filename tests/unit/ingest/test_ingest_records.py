"""Aggregate records: body shapes, every feature required, fan-out into samples."""

from __future__ import annotations

from typing import Any

import pytest

from anomalert.errors import FieldError
from anomalert.ingest.records import FEATURES, Record, parse_records
from anomalert.ingest.samples import Rejection
from anomalert.ingest.timecheck import TimeWindow
from anomalert.model import Sample

NOW = 1_767_623_280.0
VALUES = {
    "total_requests": 1200,
    "error_rate": 0.013,
    "latency_p99_ms": 840.0,
    "latency_p95_ms": 410.0,
    "latency_mean_ms": 120.5,
    "unique_users": 310,
    "unique_ips": 290,
    "risk_score": -0.2,
}


def record(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"service": "checkout", "timestamp": NOW - 300, "window": "5m"}
    item.update(VALUES)
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not ...}


def test_features_follow_the_product_record_order() -> None:
    product = "total_requests, error_rate, latency_p99_ms, latency_p95_ms, latency_mean_ms, "
    product += "unique_users, unique_ips, risk_score"
    assert ", ".join(FEATURES) == product


@pytest.mark.parametrize(
    "body",
    [record(), [record()], {"records": [record()]}],
    ids=["one object", "a list", "records key"],
)
def test_every_body_shape_gives_the_record(body: object) -> None:
    accepted, rejected = parse_records(body, NOW, TimeWindow())
    assert rejected == []
    assert accepted == [
        Record("checkout", NOW - 300, 300.0, {k: float(v) for k, v in VALUES.items()})
    ]


def test_a_record_fans_out_into_one_sample_per_feature() -> None:
    (rec,), _ = parse_records(record(window=60), NOW, TimeWindow())
    assert rec.window == 60.0
    assert rec.samples() == [
        Sample(name, {"service": "checkout"}, NOW - 300, float(VALUES[name])) for name in FEATURES
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"error_rate": ...}, "records[0].error_rate: required"),
        ({"unique_ips": "many"}, 'records[0].unique_ips: must be a finite number (got "many")'),
        ({"latency_p99_ms": -1}, "records[0].latency_p99_ms: must not be negative (got -1)"),
        ({"total_requests": True}, "records[0].total_requests: must be a finite number"),
        ({"service": ""}, 'records[0].service: must be a non-empty string (got "")'),
        ({"service": "   "}, 'records[0].service: must be a non-empty string (got "   ")'),
        (
            {"service": "check\x00out"},
            "records[0].service: must not contain control characters (got \\x00 at character 6)",
        ),
        ({"service": "checkout\t"}, "records[0].service: must not contain control characters"),
        ({"service": "\x9bcheckout"}, "records[0].service: must not contain control characters"),
        (
            {"error_rate": 5},
            "records[0].error_rate: must be a fraction of the requests, 0 to 1 (got 5)",
        ),
        (
            {"latency_p95_ms": 900.0},
            "records[0].latency_p95_ms: must not exceed latency_p99_ms (got 900 > 840)",
        ),
        ({"service": ...}, "records[0].service: required"),
        ({"window": "5 minutes"}, "records[0].window: '5 minutes' is not a duration"),
        ({"window": 0}, "records[0].window: must be longer than zero"),
        ({"window": ...}, "records[0].window: required"),
        ({"timestamp": NOW - 7200}, "records[0].timestamp: more than 1h in the past"),
        ({"p50": 3}, "records[0].p50: unknown key (expected service, timestamp, window,"),
    ],
)
def test_each_problem_names_its_field(overrides: dict[str, Any], message: str) -> None:
    accepted, rejected = parse_records([record(**overrides)], NOW, TimeWindow())
    assert accepted == []
    assert len(rejected) == 1
    assert rejected[0].error.startswith(message)


def test_bad_records_do_not_lose_the_good_ones_and_duplicates_keep_the_first() -> None:
    body = [record(), record(error_rate=None), record(timestamp=NOW), record(total_requests=5)]
    accepted, rejected = parse_records(body, NOW, TimeWindow())
    assert [(r.timestamp, r.values["total_requests"]) for r in accepted] == [
        (NOW - 300, 1200.0),
        (NOW, 1200.0),
    ]
    assert rejected == [
        Rejection(1, "records[1].error_rate: must be a finite number (got null)"),
        Rejection(
            3,
            "records[3]: duplicate of records[0] (same service and timestamp); the first was kept",
        ),
    ]


def test_replay_takes_old_records() -> None:
    accepted, rejected = parse_records(record(timestamp="2020-01-01T00:00:00Z"), None, None)
    assert rejected == []
    assert accepted[0].timestamp == 1577836800.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x", "records: the body must be a record or a list of records"),
        ({"records": record()}, "records: must be a list"),
        ({"records": [], "more": 1}, 'records: unknown top-level key "more"'),
    ],
)
def test_a_malformed_body_is_refused_whole(body: object, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        parse_records(body, NOW, TimeWindow())


def test_too_many_records_are_refused() -> None:
    with pytest.raises(FieldError, match="the limit is 3"):
        parse_records([record()] * 4, NOW, TimeWindow(), max_batch=3)
