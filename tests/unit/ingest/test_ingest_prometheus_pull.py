"""Pulling from Prometheus with query_range: a real server, then edge cases over httpx's mock."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge
from pydantic import ValidationError

from anomalert.ingest.prometheus_pull import (
    MAX_POINTS,
    PrometheusPull,
    PullConfig,
    PullError,
    PullQuery,
    Skip,
)
from tests.support.prometheus import Prometheus, running_prometheus, serving_metrics


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Gauge, str]]:
    """A real Prometheus scraping, every second, a target whose gauge the test sets."""
    registry = CollectorRegistry()
    gauge = Gauge("app_queue_depth", "Jobs waiting", ["service"], registry=registry)
    gauge.labels(service="checkout").set(42.0)
    with (
        serving_metrics(registry) as target,
        running_prometheus(tmp_path_factory.mktemp("prom"), [target], job="app") as prometheus,
    ):
        yield prometheus, gauge, target


def test_polls_return_each_grid_point_once_with_the_scraped_values(
    scraped: tuple[Prometheus, Gauge, str],
) -> None:
    prometheus, gauge, target = scraped
    prometheus.wait_for("count_over_time(app_queue_depth[1m]) >= 3")
    config = PullConfig(
        url=prometheus.url + "/",
        lookback=30.0,
        queries=[
            PullQuery(metric="queue_depth", query="app_queue_depth", step=1.0),
            PullQuery(metric="scrape_ok", query="up", step=2, service="payments"),
        ],
    )
    with httpx.Client() as client:
        pull = PrometheusPull(config, client)
        now = time.time()
        first = pull.poll(now)
        depth = [s for s in first if s.metric == "queue_depth"]
        times = [s.timestamp for s in depth]
        assert len(depth) >= 2
        assert {s.value for s in depth} == {42.0}
        assert all(
            s.labels == {"service": "checkout", "job": "app", "instance": target} for s in depth
        )
        assert times[-1] == math.floor(now)  # the grid point at or before now
        assert times[0] >= now - 30
        assert [b - a for a, b in itertools.pairwise(times)] == [1.0] * (len(times) - 1)
        ups = [s for s in first if s.metric == "scrape_ok"]
        assert ups and {s.value for s in ups} == {1.0}
        assert all(s.timestamp % 2 == 0 and s.service == "payments" for s in ups)
        assert pull.last_rejections == []

        gauge.labels(service="checkout").set(7.0)
        prometheus.wait_for("app_queue_depth == 7")
        seen = time.time()
        time.sleep(math.floor(seen) + 1.05 - seen)  # the next grid point sees the new value
        now2 = time.time()
        second = [s for s in pull.poll(now2) if s.metric == "queue_depth"]
        assert second[0].timestamp == times[-1] + 1  # no gap, nothing twice
        assert second[-1].timestamp == math.floor(now2)
        assert second[-1].value == 7.0
        assert {s.value for s in second} <= {42.0, 7.0}
        assert pull.poll(now2) == []


def test_bad_promql_raises_prometheus_message_and_keeps_the_range(
    scraped: tuple[Prometheus, Gauge, str],
) -> None:
    prometheus, _, _ = scraped
    config = PullConfig(
        url=prometheus.url,
        lookback=10.0,
        queries=[
            PullQuery(metric="scrape_ok", query="up", step=1),
            PullQuery(metric="broken", query="rate(app_queue_depth[1m]", step=1, service="x"),
        ],
    )
    with httpx.Client() as client:
        pull = PrometheusPull(config, client)
        with pytest.raises(PullError) as info:
            pull.poll(time.time())
    (failure,) = info.value.failures
    assert failure.startswith("queries[1] (broken): Prometheus answered 400 bad_data: ")
    assert "parse error" in failure
    assert all(s.metric == "scrape_ok" for s in info.value.partial)
    assert list(pull.marks) == [0]  # the failed query will ask its whole range again


# --- edge cases against httpx's mock transport, answering like Prometheus' API ----------------

Handler = Callable[[httpx.Request], httpx.Response]


def matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> httpx.Response:
    result = [{"metric": m, "values": [[t, v] for t, v in points]} for m, points in series]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    # ASCII JSON, as Go writes it: a lone surrogate travels as its escape ("\ud800")
    return httpx.Response(
        200, content=json.dumps(body), headers={"content-type": "application/json"}
    )


def grid_answer(request: httpx.Request) -> httpx.Response:
    """Every grid point of the asked range, valued by its time (so values prove the range)."""
    start, end, step = (float(request.url.params[k]) for k in ("start", "end", "step"))
    n = round((end - start) / step) + 1
    return matrix(
        (
            {"__name__": "x", "job": "api"},
            [(start + i * step, f"{start + i * step}") for i in range(n)],
        )
    )


def pull_with(handler: Handler, **config: Any) -> tuple[PrometheusPull, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    settings: dict[str, Any] = {
        "url": "http://prom:9090",
        "queries": [{"metric": "x", "query": "x", "step": "1m"}],
    }
    settings.update(config)
    client = httpx.Client(transport=httpx.MockTransport(record))
    return PrometheusPull(PullConfig.model_validate(settings), client), requests


def asked(request: httpx.Request) -> tuple[float, float, str]:
    params = request.url.params
    return float(params["start"]), float(params["end"]), params["step"]


def test_ranges_follow_the_step_grid_and_the_high_water_mark() -> None:
    pull, requests = pull_with(grid_answer)
    first = pull.poll(10_000.5)
    assert asked(requests[0]) == (6420.0, 9960.0, "60")  # ceil(now - 1h), floor(now)
    assert requests[0].url.path == "/api/v1/query_range"
    assert requests[0].url.params["query"] == "x"
    assert [s.timestamp for s in first] == [6420.0 + 60 * i for i in range(60)]
    assert all(s.value == s.timestamp for s in first)
    assert first[0].labels == {"job": "api", "service": "api"}

    assert pull.poll(10_010.0) == []  # no new grid point yet: nothing asked
    assert len(requests) == 1
    second = pull.poll(10_150.0)
    assert asked(requests[1]) == (10_020.0, 10_140.0, "60")
    assert [s.timestamp for s in second] == [10_020.0, 10_080.0, 10_140.0]


def test_long_ranges_are_asked_in_chunks_prometheus_accepts() -> None:
    pull, requests = pull_with(
        grid_answer, lookback="2d", queries=[{"metric": "x", "query": "x", "step": 10}]
    )
    samples = pull.poll(200_000.0)
    spans = [asked(r) for r in requests]
    assert spans == [
        (27_200.0, 27_200.0 + (MAX_POINTS - 1) * 10, "10"),
        (27_200.0 + MAX_POINTS * 10, 200_000.0, "10"),
    ]
    times = [s.timestamp for s in samples]
    assert times == [27_200.0 + 10 * i for i in range(len(times))]
    assert times[-1] == 200_000.0


def test_a_failing_chunk_keeps_the_chunks_before_it() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return grid_answer(request) if len(requests) == 1 else refuse(request)

    pull, requests = pull_with(
        answer, lookback="2d", queries=[{"metric": "x", "query": "x", "step": 10}]
    )
    with pytest.raises(PullError, match="ConnectError") as info:
        pull.poll(200_000.0)
    assert len(info.value.partial) == MAX_POINTS
    assert pull.marks == {0: info.value.partial[-1].timestamp}
    assert asked(requests[1])[0] == info.value.partial[-1].timestamp + 10


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_failures_leave_the_mark_so_the_range_is_asked_again() -> None:
    answers: list[Handler] = [
        lambda r: httpx.Response(503, text="Service Unavailable"),
        refuse,
        lambda r: httpx.Response(
            422, json={"status": "error", "errorType": "execution", "error": "query timed out"}
        ),
        lambda r: httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
        ),
        lambda r: httpx.Response(200, text="<html>proxy</html>"),
        grid_answer,
    ]
    pull, requests = pull_with(lambda r: answers[len(requests) - 1](r))
    messages = []
    for _ in range(5):
        with pytest.raises(PullError) as info:
            pull.poll(10_000.0)
        assert info.value.partial == []
        messages.append(str(info.value))
    assert messages == [
        "queries[0] (x): Prometheus answered 503: Service Unavailable",
        "queries[0] (x): ConnectError: connection refused",
        "queries[0] (x): Prometheus answered 422 execution: query timed out",
        "queries[0] (x): not a query_range matrix answer (ValueError(\"resultType 'vector'\"))",
        "queries[0] (x): Prometheus answered 200: <html>proxy</html>",
    ]
    assert pull.marks == {}
    assert len(pull.poll(10_000.0)) == 60
    assert {asked(r) for r in requests} == {(6420.0, 9960.0, "60")}


def test_services_labels_and_reported_skips() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return matrix(
            (
                {"__name__": "m", "service": "checkout", "job": "api"},
                [(60, "1"), (120, "NaN"), (180, "+Inf")],
            ),
            ({"__name__": "m", "job": "auth"}, [(60, "2")]),
            ({"__name__": "m", "instance": "h"}, [(60, "3")]),
            ({"__name__": "other", "job": "auth"}, [(60, "4")]),  # same labels once __name__ goes
            ({"app": "web", "job": "x"}, [(60, "5")]),
        )

    pull, _ = pull_with(
        answer,
        queries=[
            {"metric": "m", "query": "m"},
            {"metric": "by_app", "query": "m", "service_label": "app"},
            {"metric": "fixed", "query": "m", "service": "payments"},
        ],
    )
    samples = pull.poll(200.0)
    by_metric: dict[str, list[tuple[dict[str, str], float]]] = {}
    for s in samples:
        by_metric.setdefault(s.metric, []).append((s.labels, s.value))
    assert by_metric["m"] == [
        ({"service": "checkout", "job": "api"}, 1.0),
        ({"job": "auth", "service": "auth"}, 2.0),
        ({"app": "web", "job": "x", "service": "x"}, 5.0),
    ]
    # service_label, then job: a series without "app" takes its job even if it has "service"
    assert [labels["service"] for labels, _ in by_metric["by_app"]] == ["api", "auth", "web"]
    assert {labels["service"] for labels, _ in by_metric["fixed"]} == {"payments"}
    errors = [r.error for r in pull.last_rejections if r.index == 0]
    assert errors == [
        "queries[0] (m): 2 NaN/inf points of {'service': 'checkout', 'job': 'api'} skipped",
        "queries[0] (m): series {'instance': 'h'} has no service or job",
        "queries[0] (m): two series have labels {'job': 'auth', 'service': 'auth'}; aggregate them",
    ]
    no_app = "queries[1] (by_app): series {'instance': 'h'} has no app or job"
    assert Skip(1, no_app, no_app) in pull.last_rejections
    # What names a skipped series stays the same from poll to poll: not the NaN count.
    assert next(r.series for r in pull.last_rejections if r.index == 0) == (
        "queries[0] (m): NaN/inf points of {'service': 'checkout', 'job': 'api'} skipped"
    )


def test_series_breaking_the_label_rules_are_skipped_and_reported() -> None:
    """As remote_write's and JSON samples' labels (Prometheus stores any UTF-8 in a label
    value, NUL included, which PostgreSQL cannot store: tests/unit/store)."""

    def answer(request: httpx.Request) -> httpx.Response:
        return matrix(
            ({"__name__": "m", "job": "api", "pod": "p1"}, [(60, "1")]),
            ({"__name__": "m", "job": "a\x00pi", "pod": "p2"}, [(60, "2")]),
            ({"__name__": "m", "job": "api", "pod": "p\n3"}, [(60, "3")]),
            ({"__name__": "m", "job": "api", "pod": "p4\x85"}, [(60, "4")]),
            ({"__name__": "m", "job": "api", "pod": "p5", "a-b": "x"}, [(60, "5")]),
            ({"__name__": "m", "job": "api", "pod": "p\ud8006"}, [(60, "6")]),
            ({"__name__": "m", "job": "api", "pod": "p" * 2049}, [(60, "7")]),
        )

    pull, _ = pull_with(answer)
    assert [(s.labels, s.value) for s in pull.poll(120.0)] == [
        ({"job": "api", "pod": "p1", "service": "api"}, 1.0)
    ]
    errors = [r.error.split(" skipped: ") for r in pull.last_rejections]
    assert [r.index for r in pull.last_rejections] == [0] * 6
    assert [problem for _, problem in errors] == [
        "result[1].labels.job: must not contain control characters (got \\x00 at character 2)",
        "result[2].labels.pod: must not contain control characters (got \\n at character 2)",
        "result[3].labels.pod: must not contain control characters (got \\x85 at character 3)",
        "result[4].labels.a-b: is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, no leading __)",
        "result[5].labels.pod: must be valid Unicode (a lone surrogate \\ud800)",
        "result[6].labels.pod: longer than 2048 characters",
    ]
    assert errors[0][0] == "queries[0] (x): series {'job': 'a\\x00pi', 'pod': 'p2'}"
    assert all("\x00" not in e and "\n" not in e for e in (r.error for r in pull.last_rejections))


def test_the_bearer_token_and_timeout_are_sent() -> None:
    pull, requests = pull_with(grid_answer, bearer_token="s3cret", timeout="3s")
    pull.poll(10_000.0)
    assert requests[0].headers["Authorization"] == "Bearer s3cret"
    assert requests[0].extensions["timeout"]["read"] == 3.0
    assert "s3cret" not in repr(pull.config)


@pytest.mark.parametrize(
    ("settings", "location"),
    [
        ({"url": "prom:9090"}, "url"),
        ({"queries": [{"metric": "a-b", "query": "x"}]}, "queries.0.metric"),
        ({"queries": [{"metric": "a", "query": "x", "step": 0}]}, "queries.0.step"),
        ({"queries": [{"metric": "a", "query": "x", "steps": 5}]}, "queries.0.steps"),
        ({"interval": "soon"}, "interval"),
    ],
)
def test_config_errors_name_their_location(settings: dict[str, Any], location: str) -> None:
    base: dict[str, Any] = {"url": "http://prom:9090", "queries": [{"metric": "a", "query": "x"}]}
    base.update(settings)
    with pytest.raises(ValidationError) as info:
        PullConfig.model_validate(base)
    assert [".".join(map(str, e["loc"])) for e in info.value.errors()] == [location]


def test_config_defaults() -> None:
    config = PullConfig.model_validate_json(
        json.dumps({"url": "https://prom", "queries": [{"metric": "a", "query": "x"}]})
    )
    assert (config.interval, config.lookback, config.timeout) == (60.0, 3600.0, 10.0)
    assert config.queries[0].step == 60.0
    assert config.queries[0].service_label == "service"
