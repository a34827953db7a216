"""JSON samples: body shape, per-sample rejections naming fields, duplicates, time window."""

from __future__ import annotations

import math
from typing import Any

import pytest

from anomalert.errors import FieldError
from anomalert.ingest.samples import Rejection, parse_samples
from anomalert.ingest.timecheck import TimeWindow
from anomalert.model import Sample

NOW = 1_767_623_280.0


def sample(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "metric": "http_latency_p99_ms",
        "labels": {"service": "checkout", "region": "eu"},
        "timestamp": NOW - 60,
        "value": 210.5,
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not ...}


def errors(items: list[Any]) -> list[str]:
    accepted, rejected = parse_samples({"samples": items}, NOW, TimeWindow())
    assert len(accepted) + len(rejected) == len(items)
    return [r.error for r in rejected]


def test_valid_samples_become_samples() -> None:
    body = {
        "samples": [
            sample(),
            sample(timestamp="2026-01-05T14:27:30Z", value=3, metric="up:ratio"),
        ]
    }
    accepted, rejected = parse_samples(body, NOW, TimeWindow())
    assert rejected == []
    assert accepted == [
        Sample("http_latency_p99_ms", {"service": "checkout", "region": "eu"}, NOW - 60, 210.5),
        Sample("up:ratio", {"service": "checkout", "region": "eu"}, NOW - 30, 3.0),
    ]
    assert accepted[0].service == "checkout"
    assert all(isinstance(s.value, float) and isinstance(s.timestamp, float) for s in accepted)


def test_a_sample_may_say_it_is_a_counters_total() -> None:
    """The engine follows a counter's rate (``detect.counters``); gauges are the default."""
    items = [
        sample(type="counter"),
        sample(type="gauge", timestamp=NOW - 30),
        sample(timestamp=NOW),
    ]
    accepted, rejected = parse_samples({"samples": items}, NOW, TimeWindow())
    assert rejected == []
    assert [s.counter for s in accepted] == [True, False, False]


def test_bad_samples_are_rejected_and_the_good_ones_kept() -> None:
    items = [sample(), sample(value="NaN"), sample(value=2.0, timestamp=NOW)]
    accepted, rejected = parse_samples({"samples": items}, NOW, TimeWindow())
    assert [s.value for s in accepted] == [210.5, 2.0]
    assert rejected == [Rejection(1, 'samples[1].value: must be a finite number (got "NaN")')]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"value": True}, "samples[0].value: must be a finite number (got true)"),
        ({"value": "1.5"}, 'samples[0].value: must be a finite number (got "1.5")'),
        ({"value": math.inf}, "samples[0].value: must be a finite number (got Infinity)"),
        ({"value": math.nan}, "samples[0].value: must be a finite number (got NaN)"),
        ({"value": None}, "samples[0].value: must be a finite number (got null)"),
        ({"value": ...}, "samples[0].value: required"),
        ({"metric": ...}, "samples[0].metric: required"),
        (
            {"metric": "1st"},
            'samples[0].metric: must be a metric name [a-zA-Z_:][a-zA-Z0-9_:]* (got "1st")',
        ),
        ({"metric": "http-latency"}, "samples[0].metric: must be a metric name"),
        ({"labels": ...}, "samples[0].labels: required"),
        ({"labels": {"region": "eu"}}, "samples[0].labels.service: required"),
        ({"labels": {"service": ""}}, "samples[0].labels.service: required"),
        (
            {"labels": {"service": "a", "zone": 3}},
            "samples[0].labels.zone: must be a string (got 3)",
        ),
        (
            {"labels": {"service": "a", "bad-name": "x"}},
            "samples[0].labels.bad-name: is not a label name",
        ),
        (
            {"labels": {"service": "a", "__name__": "x"}},
            "samples[0].labels.__name__: is not a label name",
        ),
        ({"labels": ["service"]}, "samples[0].labels: must be an object"),
        (
            {"valeu": 3},
            "samples[0].valeu: unknown key (expected metric, labels, timestamp, value, type)",
        ),
        ({"type": "Counter"}, 'samples[0].type: must be "counter" or "gauge" (got "Counter")'),
        ({"type": ["counter"]}, 'samples[0].type: must be "counter" or "gauge" (got ["counter"])'),
        ({"timestamp": ...}, "samples[0].timestamp: required"),
        ({"timestamp": "now"}, "samples[0].timestamp: is not an RFC 3339 timestamp"),
        ({"timestamp": NOW * 1000}, "samples[0].timestamp: looks like milliseconds"),
        (
            {"timestamp": NOW - 3601},
            "samples[0].timestamp: more than 1h in the past; "
            "send history through `anomalert replay`",
        ),
        ({"timestamp": NOW + 301}, "samples[0].timestamp: more than 5m in the future"),
    ],
)
def test_each_problem_names_its_field(overrides: dict[str, Any], message: str) -> None:
    (error,) = errors([sample(**overrides)])
    assert error.startswith(message)


def test_every_problem_of_one_sample_is_reported_at_once() -> None:
    (error,) = errors([{"metric": "ok", "labels": {}, "value": "x", "extra": 1}])
    assert error.split("; ") == [
        "samples[0].extra: unknown key (expected metric, labels, timestamp, value, type)",
        "samples[0].timestamp: required",
        'samples[0].value: must be a finite number (got "x")',
        "samples[0].labels.service: required (the service this metric belongs to)",
    ]


def test_a_sample_that_is_not_an_object_is_rejected() -> None:
    assert errors([[1, 2]]) == [
        "samples[0]: must be an object with metric, labels, timestamp, value (got [1, 2])"
    ]


def test_duplicates_in_one_batch_keep_the_first() -> None:
    items = [
        sample(value=1.0),
        sample(value=2.0, labels={"service": "checkout", "region": "us"}),  # another series
        sample(value=3.0, timestamp=NOW - 59),  # another time
        sample(value=4.0, labels={"region": "eu", "service": "checkout"}),  # same as the first
    ]
    accepted, rejected = parse_samples({"samples": items}, NOW, TimeWindow())
    assert [s.value for s in accepted] == [1.0, 2.0, 3.0]
    assert rejected == [
        Rejection(
            3,
            "samples[3]: duplicate of samples[0] (same series and timestamp); the first was kept",
        )
    ]


def test_replay_has_no_window() -> None:
    accepted, rejected = parse_samples({"samples": [sample(timestamp=1000.0)]}, None, None)
    assert rejected == []
    assert accepted[0].timestamp == 1000.0


def test_a_window_needs_a_clock() -> None:
    with pytest.raises(ValueError, match="needs the receiving clock"):
        parse_samples({"samples": [sample()]}, None, TimeWindow())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([sample()], 'samples: the body must be an object {"samples": [...]}'),
        ({"sample": []}, 'samples: unknown top-level key "sample"; expected only "samples"'),
        ({}, "samples: must be a list (got null)"),
        ({"samples": sample()}, "samples: must be a list"),
        ("text", "samples: the body must be an object"),
    ],
)
def test_a_malformed_body_is_refused_whole(body: object, message: str) -> None:
    with pytest.raises(FieldError) as info:
        parse_samples(body, NOW, TimeWindow())
    assert info.value.field == "samples"
    assert str(info.value).startswith(message)


def test_batches_over_the_limit_are_refused() -> None:
    items = [sample(timestamp=NOW - i * 0.001) for i in range(10_001)]
    with pytest.raises(FieldError, match="10,001 items in one request; the limit is 10,000"):
        parse_samples({"samples": items}, NOW, TimeWindow())
    accepted, rejected = parse_samples({"samples": items[:10_000]}, NOW, TimeWindow())
    assert (len(accepted), rejected) == (10_000, [])


def test_an_empty_batch_is_fine() -> None:
    assert parse_samples({"samples": []}, NOW, TimeWindow()) == ([], [])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"metric": "m" * 1025}, "samples[0].metric: longer than 1024 characters"),
        (
            {"labels": {"service": "checkout", "pod": "p" * 2049}},
            "samples[0].labels.pod: longer than 2048 characters",
        ),
        (
            {"labels": {"service": "checkout", **{f"l{k}": "v" for k in range(64)}}},
            "samples[0].labels: more than 64 labels (65)",
        ),
    ],
)
def test_a_series_name_and_labels_have_limits(overrides: dict[str, Any], message: str) -> None:
    """A series' name and labels are kept for as long as it is followed: without limits a
    sender's 100 KB label values times ``detection.max_series`` fill the memory."""
    (error,) = errors([sample(**overrides)])
    assert error.startswith(message)
    at_limits = sample(
        metric="m" * 1024,
        labels={"service": "checkout", "pod": "p" * 2048, **{f"l{k}": "v" for k in range(62)}},
    )
    assert errors([at_limits]) == []


#: A control character of each kind: NUL (PostgreSQL cannot store it), a C0 control, DEL,
#: a C1 control (NEL), a newline; as ``control_problem`` writes each.
CONTROLS = [("\x00", "\\x00"), ("\x07", "\\x07"), ("\x7f", "\\x7f"), ("\x85", "\\x85")]
CONTROLS += [("\n", "\\n")]


@pytest.mark.parametrize(("char", "shown"), CONTROLS)
@pytest.mark.parametrize("label", ["service", "pod"])
def test_a_label_value_with_a_control_character_is_rejected_naming_it(
    char: str, shown: str, label: str
) -> None:
    """The other samples of the batch are kept, those of the same label set before it too
    (the fast path checks each label set once)."""
    labels = {"service": "checkout", "pod": "web-1"}
    bad = sample(labels={**labels, label: f"we{char}b"}, timestamp=NOW - 30)
    items = [sample(labels=labels), bad, sample(labels=labels, timestamp=NOW)]
    accepted, rejected = parse_samples({"samples": items}, NOW, TimeWindow())
    assert [s.timestamp for s in accepted] == [NOW - 60, NOW]
    message = f"samples[1].labels.{label}: must not contain control characters (got {shown} "
    assert rejected == [Rejection(1, message + "at character 3)")]


def test_a_label_name_with_a_control_character_is_named_escaped() -> None:
    (error,) = errors([sample(labels={"service": "checkout", "p\x00d": "x"})])
    assert error.startswith("samples[0].labels.p\\x00d: is not a label name")


def test_label_values_may_hold_any_printable_text() -> None:
    labels = {"service": "zürich eu", "path": "/a b/ç", "note": "tab\u00a0nbsp 🙂"}
    assert errors([sample(labels=labels)]) == []
