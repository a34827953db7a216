"""Which samples are counters: the sender's metadata first, then the metric's name."""

from __future__ import annotations

import pytest

from anomalert.config import parse_config
from anomalert.errors import ConfigError
from anomalert.ingest.counters import (
    COUNTER,
    GAUGE,
    HISTOGRAM,
    SUMMARY,
    UNKNOWN,
    CounterNames,
)
from anomalert.ingest.remote_write import decode, encode_write_request
from anomalert.model import Sample

T = 1_767_623_280.0


@pytest.mark.parametrize(
    ("metric", "counts"),
    [
        ("http_requests_total", True),
        ("rpc_duration_seconds_bucket", True),
        ("rpc_duration_seconds_count", True),
        ("rpc_duration_seconds_sum", True),
        ("cpu_percent", False),
        ("process_start_time_seconds", False),
        ("total_connections", False),
    ],
)
def test_prometheus_names_tell_counters_when_nothing_else_does(metric: str, counts: bool) -> None:
    assert CounterNames()(metric) is counts


def test_the_senders_metadata_outranks_the_name() -> None:
    names = CounterNames()
    names.learn("queue_total", GAUGE)  # a gauge named like a counter
    names.learn("jobs_done", COUNTER)  # a counter named without _total (text format)
    names.learn("http_requests", COUNTER)  # OpenMetrics: the family lacks the _total
    names.learn("rpc_seconds", HISTOGRAM)
    names.learn("gc_seconds", SUMMARY)
    names.learn("mystery_total", UNKNOWN)  # says nothing
    verdicts = {
        m: names(m)
        for m in (
            "queue_total",
            "jobs_done",
            "http_requests_total",
            "rpc_seconds_bucket",
            "rpc_seconds_count",
            "gc_seconds_sum",
            "gc_seconds",  # a summary's quantiles are gauges
            "mystery_total",
        )
    }
    assert verdicts == {
        "queue_total": False,
        "jobs_done": True,
        "http_requests_total": True,
        "rpc_seconds_bucket": True,
        "rpc_seconds_count": True,
        "gc_seconds_sum": True,
        "gc_seconds": False,
        "mystery_total": True,
    }


def test_a_verdict_changes_when_the_metadata_does() -> None:
    names = CounterNames()
    assert names("queue_total")
    names.learn("queue_total", GAUGE)
    assert not names("queue_total")


def test_configured_patterns_replace_the_names() -> None:
    names = CounterNames(["*_seen"])
    assert names("logins_seen") and not names("http_requests_total")
    assert not CounterNames([])("http_requests_total")


def test_remote_write_marks_counters_from_the_requests_metadata() -> None:
    samples = [
        Sample("jobs_done", {"service": "batch"}, T, 7.0),
        Sample("queue_total", {"service": "batch"}, T, 3.0),
        Sample("http_requests_total", {"service": "batch"}, T, 9.0),
        Sample("cpu_percent", {"service": "batch"}, T, 9.0),
    ]
    raw = encode_write_request(samples, metadata={"jobs_done": COUNTER, "queue_total": GAUGE})
    names = CounterNames()
    marked = {s.metric: s.counter for s in decode(raw, counters=names).samples}
    assert marked == {
        "jobs_done": True,
        "queue_total": False,
        "http_requests_total": True,
        "cpu_percent": False,
    }
    assert names.families == {"jobs_done": COUNTER, "queue_total": GAUGE}
    # Metadata comes in requests of its own: what was learned holds for the next ones.
    later = encode_write_request([Sample("jobs_done", {"service": "batch"}, T + 60, 8.0)])
    assert decode(later, counters=names).samples[0].counter
    # Without a CounterNames nothing is marked (the decoder alone knows no config).
    assert not any(s.counter for s in decode(raw).samples)


def test_the_ingest_section_takes_patterns_and_refuses_empty_ones() -> None:
    base = {"route": {"receiver": "r"}, "receivers": [{"name": "r", "log": {}}]}
    config = parse_config({**base, "ingest": {"counters": ["*_seen"]}})
    assert config.ingest.counters == ("*_seen",)
    assert parse_config(base).ingest.counters == ("*_total", "*_count", "*_sum", "*_bucket")
    with pytest.raises(ConfigError, match=r"ingest\.counters"):
        parse_config({**base, "ingest": {"counters": [" "]}})
