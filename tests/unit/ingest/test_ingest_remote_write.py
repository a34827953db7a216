"""Prometheus remote_write: round trip, documented handling, and a real Prometheus sending."""

from __future__ import annotations

import contextlib
import math
import struct
import time
from pathlib import Path

import cramjam
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from anomalert.errors import FieldError
from anomalert.ingest.counters import COUNTER, GAUGE, CounterNames
from anomalert.ingest.remote_write import (
    STALE_NAN,
    WriteRequest,
    decode,
    decode_write_request,
    encode_write_request,
)
from anomalert.ingest.samples import Rejection
from anomalert.model import Sample
from tests.support.procs import wait_until
from tests.support.prometheus import running_prometheus, serving_metrics

T = 1_767_623_280.0


def body(*series: tuple[dict[str, str], list[tuple[float, int]]]) -> bytes:
    """A remote_write body written field by field, for what our encoder would never send."""
    request = WriteRequest()
    for labels, points in series:
        ts = request.timeseries.add()
        for name, text in labels.items():
            ts.labels.add(name=name, value=text)
        for number, millis in points:
            ts.samples.add(value=number, timestamp=millis)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_round_trip() -> None:
    samples = [
        Sample("http_requests_total", {"service": "checkout", "code": "500"}, T, 3.0),
        Sample("http_requests_total", {"service": "checkout", "code": "200"}, T + 15.25, 1e9),
        Sample("http_requests_total", {"service": "checkout", "code": "500"}, T + 15.001, -0.5),
        Sample("memory:ratio", {"service": "auth"}, T, 0.75),
    ]
    decoded, rejected = decode_write_request(encode_write_request(samples))
    assert rejected == []
    key = lambda s: (s.metric, sorted(s.labels.items()), s.timestamp)  # noqa: E731
    assert sorted(decoded, key=key) == sorted(samples, key=key)


def test_job_names_the_service_when_there_is_no_service_label() -> None:
    labels = {"__name__": "up", "job": "api", "instance": "h:9100", "team": ""}
    (sample,), rejected = decode_write_request(body((labels, [(1.0, 1_767_623_280_500)])))
    assert rejected == []
    assert sample == Sample(
        "up", {"job": "api", "instance": "h:9100", "service": "api"}, T + 0.5, 1.0
    )


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        ({"__name__": "up", "instance": "h"}, "timeseries[1].labels: needs a service or job label"),
        ({"job": "api"}, 'timeseries[1].labels.__name__: must be a metric name (got "")'),
        ({"__name__": "a-b", "job": "api"}, "timeseries[1].labels.__name__: must be a metric name"),
        (
            {"__name__": "up", "job": "api", "a.b": "1"},
            'timeseries[1].labels: "a.b" is not a label',
        ),
        (
            {"__name__": "up", "job": "api", "pod": "w\x00b"},
            "timeseries[1].labels.pod: must not contain control characters (got \\x00 at "
            "character 2)",
        ),
        (
            {"__name__": "up", "job": "a\x85pi"},
            "timeseries[1].labels.job: must not contain control characters (got \\x85",
        ),
        (
            {"__name__": "up", "service": "api", "job": "\x1b[31mapi"},
            "timeseries[1].labels.job: must not contain control characters (got \\x1b",
        ),
        (
            {"__name__": "up", "service": "a\x7fpi"},
            "timeseries[1].labels.service: must not contain control characters (got \\x7f",
        ),
    ],
)
def test_bad_series_are_rejected_and_the_others_kept(labels: dict[str, str], problem: str) -> None:
    good = ({"__name__": "up", "service": "api"}, [(1.0, 1000)])
    samples, rejected = decode_write_request(body(good, (labels, [(1.0, 1000)])))
    assert [s.labels for s in samples] == [{"service": "api"}]
    assert [r.index for r in rejected] == [1]
    assert rejected[0].error.startswith(problem)


def test_a_label_sent_twice_is_rejected() -> None:
    request = WriteRequest()
    ts = request.timeseries.add()
    for name, value in [("__name__", "up"), ("job", "a"), ("job", "b")]:
        ts.labels.add(name=name, value=value)
    ts.samples.add(value=1.0, timestamp=1000)
    raw = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    assert decode_write_request(raw) == (
        [],
        [Rejection(0, 'timeseries[0].labels: label "job" appears twice')],
    )


def test_native_histograms_are_refused_saying_so_and_the_samples_kept() -> None:
    """Read as opaque messages: counted and named, never skipped unseen."""
    request = WriteRequest()
    ts = request.timeseries.add()
    for name, text in {"__name__": "rpc_seconds", "service": "api"}.items():
        ts.labels.add(name=name, value=text)
    ts.samples.add(value=1.0, timestamp=int(T * 1000))
    ts.histograms.extend([b"\x08\x05", b"\x08\x07"])  # two native histogram samples
    decoded = decode(bytes(cramjam.snappy.compress_raw(request.SerializeToString())))
    assert [s.value for s in decoded.samples] == [1.0]
    assert decoded.rejections == [
        Rejection(
            0,
            "timeseries[0].histograms: 2 native histogram samples, not supported; send "
            "classic histograms (remote_write send_native_histograms: false)",
        )
    ]


def test_a_bucket_without_a_numeric_le_is_rejected_naming_it() -> None:
    """As in JSON samples: followed as a counter of its own, it would be in no quantile."""
    millis = int(T * 1000)
    bucket = {"__name__": "rpc_seconds_bucket", "service": "api"}
    decoded = decode(
        body(
            ({**bucket, "le": "abc"}, [(1.0, millis)]),
            (bucket, [(1.0, millis)]),
            ({**bucket, "le": "NaN"}, [(1.0, millis)]),
            ({**bucket, "le": "+Inf"}, [(1.0, millis)]),
        ),
        counters=CounterNames(),
    )
    assert [s.labels["le"] for s in decoded.samples] == ["+Inf"]
    assert [r.error for r in decoded.rejections] == [
        'timeseries[0].labels.le: must be a number or +Inf (got "abc")',
        "timeseries[1].labels.le: required (a histogram bucket's upper bound, a number or +Inf)",
        'timeseries[2].labels.le: must be a number or +Inf (got "NaN")',
    ]
    gauges = decode(body(({**bucket, "le": "abc"}, [(1.0, millis)])))  # no counter: no bucket
    assert not gauges.rejections


def test_stale_markers_are_skipped_and_counted_other_nans_rejected() -> None:
    stale = struct.unpack("<d", STALE_NAN)[0]
    labels = {"__name__": "up", "job": "api"}
    points = [(1.0, 1000), (stale, 2000), (math.nan, 3000), (math.inf, 4000), (2.0, 5000)]
    decoded = decode(body((labels, points)))
    assert [(s.timestamp, s.value) for s in decoded.samples] == [(1.0, 1.0), (5.0, 2.0)]
    assert decoded.stale_markers == 1
    assert decoded.rejections == [
        Rejection(
            0,
            "timeseries[0].samples[2].value: must be finite (got nan); "
            "timeseries[0].samples[3].value: must be finite (got inf)",
        )
    ]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "not snappy-compressed"),
        (b"\xff\xff\xff\xff\xff\xff", "not snappy-compressed"),
        (b"\x10garbage", "not snappy-compressed"),
        (bytes(cramjam.snappy.compress_raw(b"\x0a\x05\x0a\x03")), "not a Prometheus remote_write"),
        (bytes(cramjam.snappy.compress(b"hello")), "not snappy-compressed"),  # framed, not block
    ],
)
def test_bodies_that_are_not_write_requests(raw: bytes, problem: str) -> None:
    with pytest.raises(FieldError, match=problem) as info:
        decode_write_request(raw)
    assert info.value.field == "body"


def test_a_body_announcing_a_huge_size_is_refused_before_decompressing() -> None:
    raw = encode_write_request([Sample("up", {"service": "a"}, T, 1.0)])
    with pytest.raises(FieldError, match="the limit is 10"):
        decode(raw, max_decompressed=10)


def test_a_real_prometheus_remote_write_decodes_to_the_scraped_metrics(
    tmp_path: Path, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    url, bodies = receiver
    registry = CollectorRegistry()
    gauge = Gauge("app_queue_depth", "Jobs waiting", ["service"], registry=registry)
    gauge.labels(service="checkout").set(42.0)

    def decoded() -> list[Sample]:
        return [s for _, raw in list(bodies) for s in decode(raw).samples]

    with contextlib.ExitStack() as scrape_target:
        target = scrape_target.enter_context(serving_metrics(registry))
        with running_prometheus(tmp_path, [target], job="app", remote_write_url=url):
            started = time.time()
            wait_until(
                lambda: sum(s.metric == "app_queue_depth" for s in decoded()) >= 2,
                timeout=25,
                what="remote_write of the scraped gauge",
            )
            scrape_target.close()  # the target goes away: Prometheus marks its series stale
            wait_until(
                lambda: sum(decode(raw).stale_markers for _, raw in list(bodies)) >= 1,
                timeout=15,
                what="remote_write of the stale markers",
            )
    headers = bodies[0][0]
    assert headers["Content-Encoding"] == "snappy"
    assert headers["Content-Type"] == "application/x-protobuf"
    assert headers["X-Prometheus-Remote-Write-Version"].startswith("0.1")

    gauges = [s for s in decoded() if s.metric == "app_queue_depth"]
    assert {s.value for s in gauges} == {42.0}
    assert {s.labels["instance"] for s in gauges} == {target}
    assert all(
        s.labels == {"service": "checkout", "job": "app", "instance": target} for s in gauges
    )
    assert all(started - 30 < s.timestamp <= time.time() for s in gauges)
    ups = sorted((s for s in decoded() if s.metric == "up"), key=lambda s: s.timestamp)
    assert ups and ups[0].value == 1.0 and {s.value for s in ups} <= {0.0, 1.0}  # 0: target gone
    assert {s.service for s in ups} == {"app"}  # no service label: the job names the service
    assert all(decode(raw).rejections == [] for _, raw in bodies)


def test_a_real_prometheus_sends_the_types_that_mark_its_counters(
    tmp_path: Path, receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    """No name patterns: only the metadata Prometheus sends can tell the counter."""
    url, bodies = receiver
    registry = CollectorRegistry()
    jobs = Counter("app_jobs", "Jobs done", ["service"], registry=registry)
    jobs.labels(service="batch").inc(5)
    Gauge("app_queue_depth", "Jobs waiting", ["service"], registry=registry).labels(
        service="batch"
    ).set(3.0)
    names = CounterNames([])
    seen: list[Sample] = []

    def counted() -> bool:
        while len(seen) < 10_000 and bodies:
            seen.extend(decode(bodies.pop(0)[1], counters=names).samples)
        return any(s.metric == "app_jobs_total" and s.counter for s in seen)

    with contextlib.ExitStack() as stack:
        target = stack.enter_context(serving_metrics(registry))
        stack.enter_context(running_prometheus(tmp_path, [target], remote_write_url=url))
        wait_until(counted, timeout=25, what="a counter marked by remote_write metadata")
    assert COUNTER in {names.families.get("app_jobs"), names.families.get("app_jobs_total")}
    assert names.families.get("app_queue_depth") == GAUGE
    assert not any(s.counter for s in seen if s.metric in ("app_queue_depth", "up"))
    assert {s.value for s in seen if s.metric == "app_jobs_total"} == {5.0}


def test_a_series_name_and_labels_have_limits_in_remote_write_too() -> None:
    good = ({"__name__": "up", "service": "api"}, [(1.0, 1000)])
    long_value = ({"__name__": "up", "service": "api", "pod": "p" * 2049}, [(1.0, 1000)])
    many = (
        {"__name__": "up", "service": "api", **{f"l{k}": "v" for k in range(64)}},
        [(1.0, 1000)],
    )
    samples, rejected = decode_write_request(body(good, long_value, many))
    assert [s.labels for s in samples] == [{"service": "api"}]
    assert [(r.index, r.error) for r in rejected] == [
        (1, "timeseries[1].labels.pod: longer than 2048 characters"),
        (2, "timeseries[2].labels: more than 64 labels (65)"),
    ]
