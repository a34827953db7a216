"""What a Prometheus pull skips reaches the log and /metrics.

``PrometheusPull.last_rejections`` says which result series a pull skipped (labels breaking
the rules, no service, labels repeated) or whose NaN points it dropped; the service's pull
step never read it, so they were lost without a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.service import SKIP_REPEAT, pull_step
from anomalert.store import Store

T0 = 1_767_600_000.0
Answer = Callable[[httpx.Request], httpx.Response]


def matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> httpx.Response:
    result = [
        {"metric": labels, "values": [[t, v] for t, v in points]} for labels, points in series
    ]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return httpx.Response(200, json=body)


@pytest.fixture
def pulling(tmp_path: Path) -> Iterator[Callable[..., tuple[App, Callable[[], None]]]]:
    apps: list[App] = []

    def build(answer: Answer, queries: int = 1) -> tuple[App, Callable[[], None]]:
        config = parse_config(
            {
                "route": {"receiver": "out"},
                "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
                "prometheus": {
                    "url": "http://prom:9090",
                    "queries": [{"metric": f"m{i}", "query": f"q{i}"} for i in range(queries)],
                },
            }
        )
        store = Store.open(f"sqlite:///{tmp_path}/a{len(apps)}.db")
        http = httpx.Client(transport=httpx.MockTransport(answer))
        app = App(config, store, EventClock(T0), http=http)
        apps.append(app)
        step = pull_step(app)
        assert step is not None
        return app, step

    yield build
    for app in apps:
        app.http.close()
        app.store.close()


def rejected(app: App) -> float:
    value = app.metrics.registry.get_sample_value(
        "anomalert_samples_rejected_total", {"source": "prometheus", "reason": "invalid"}
    )
    return value or 0.0


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "anomalert.service" and r.levelno == logging.WARNING
    ]


def test_skipped_series_are_logged_once_per_pull_and_counted(
    pulling: Callable[..., tuple[App, Callable[[], None]]], caplog: pytest.LogCaptureFixture
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return matrix(
            ({"__name__": "m", "job": "api", "pod": "p1"}, [(T0 - 60, "1")]),
            ({"__name__": "m", "job": "api", "pod": "p" * 2049}, [(T0 - 60, "6")]),
            ({"__name__": "m", "job": "a\x00pi", "pod": "p2"}, [(T0 - 60, "2")]),
            ({"__name__": "m", "job": "api", "pod": "p\n3"}, [(T0 - 60, "3")]),
            ({"__name__": "m", "job": "api", "pod": "p4"}, [(T0 - 60, "NaN")]),
            ({"__name__": "m", "pod": "p5"}, [(T0 - 60, "5")]),
        )

    app, pull = pulling(answer)
    with caplog.at_level(logging.WARNING, logger="anomalert.service"):
        pull()
    assert (
        app.metrics.registry.get_sample_value(
            "anomalert_samples_ingested_total", {"source": "prometheus"}
        )
        == 1.0
    )
    assert rejected(app) == 5.0
    (message,) = warnings(caplog)
    assert message.startswith("prometheus pull skipped 5 result series (or their NaN/inf points): ")
    assert "queries[0] (m0): series {'job': 'a\\x00pi', 'pod': 'p2'} skipped" in message
    assert "result[3].labels.pod: must not contain control characters" in message
    assert "pppp...; queries[0] (m0): series {'job': 'a\\x00pi'" in message  # cut short
    assert message.endswith("; and 2 more")  # the first three quoted
    assert message.count("queries[0]") == 3
    assert message.isprintable() and len(message) < 1200  # one line; long labels cut short


def test_a_pull_without_skips_says_nothing(
    pulling: Callable[..., tuple[App, Callable[[], None]]], caplog: pytest.LogCaptureFixture
) -> None:
    app, pull = pulling(lambda r: matrix(({"job": "api"}, [(T0 - 60, "1")])))
    with caplog.at_level(logging.WARNING, logger="anomalert.service"):
        pull()
    assert warnings(caplog) == [] and rejected(app) == 0.0


def test_skips_of_the_queries_that_answered_are_told_when_another_failed(
    pulling: Callable[..., tuple[App, Callable[[], None]]], caplog: pytest.LogCaptureFixture
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params["query"] == "q1":
            return httpx.Response(503, text="overloaded")
        return matrix(({"job": "api"}, [(T0 - 60, "1")]), ({"pod": "p"}, [(T0 - 60, "2")]))

    app, pull = pulling(answer, queries=2)
    with caplog.at_level(logging.WARNING, logger="anomalert.service"):
        pull()
    failed, skipped = warnings(caplog)
    assert "queries[1] (m1): Prometheus answered 503" in failed
    assert skipped == (
        "prometheus pull skipped 1 result series (or their NaN/inf points): "
        "queries[0] (m0): series {'pod': 'p'} has no service or job"
    )
    assert rejected(app) == 1.0


def test_a_series_skipped_on_every_pull_is_warned_of_once_an_hour(
    pulling: Callable[..., tuple[App, Callable[[], None]]], caplog: pytest.LogCaptureFixture
) -> None:
    """Until 2026-12-07 every pull warned again of the same skipped series (a line a minute
    for good); each skip is still counted, and a series newly skipped is told at once."""
    no_service = ({"pod": "p"}, [(T0 - 60, "2")])
    answer: list[tuple[dict[str, str], list[tuple[float, str]]]] = [
        no_service,
        ({"job": "api", "pod": "q"}, [(T0 - 60, "NaN")]),
    ]
    app, pull = pulling(lambda r: matrix(*answer))
    clock = app.clock
    assert isinstance(clock, EventClock)
    with caplog.at_level(logging.WARNING, logger="anomalert.service"):
        pull()
        pull()  # before the interval: no pull, nothing said
        # The same two series (two NaN points now: the count is no new problem).
        answer[1] = ({"job": "api", "pod": "q"}, [(T0, "NaN"), (T0 + 30, "NaN")])
        clock.advance(T0 + 60)
        pull()
        answer.append(({"pod": "r"}, [(T0 + 60, "3")]))  # a new one
        clock.advance(T0 + 120)
        pull()
        clock.advance(T0 + 120 + SKIP_REPEAT)
        pull()
    first, new, hour_later = warnings(caplog)
    assert first.startswith("prometheus pull skipped 2 result series")
    assert new == (
        "prometheus pull skipped 1 result series (or their NaN/inf points): "
        "queries[0] (m0): series {'pod': 'r'} has no service or job "
        "(2 more skipped again, warned of within the hour)"
    )
    assert hour_later.startswith("prometheus pull skipped 3 result series")
    assert rejected(app) == 2 + 2 + 3 + 3
