"""Counters through the service: remote_write marks them, the engine and the rules see rates.

A request counter whose total climbs into the millions would breach a rule written on its
rate ("more than 20 requests a second") from its first sample, and its restarts would be
drops; the app follows its per-second rate from the second sample on (``detect.counters``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.stream import series_id
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Sample
from anomalert.store import Store

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

T0 = 1_767_600_000.0
LABELS = {"service": "api", "job": "api"}


def test_remote_write_counters_are_followed_and_ruled_on_their_rate(tmp_path: Path) -> None:
    config = parse_config(
        {
            "route": {"receiver": "out", "group_wait": "0s"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
            "rules": {
                "static": [
                    {"name": "TooBusy", "metric": "http_requests_total", "value": 20.0},
                ]
            },
        }
    )
    clock = EventClock(T0)
    store = Store.open(f"sqlite:///{tmp_path}/anomalert.db")
    app = App(config, store, clock)
    client = TestClient(create_api(app))

    def write(t: float, total: float) -> int:
        clock.advance(t)
        body = encode_write_request([Sample("http_requests_total", LABELS, t, total)])
        r = client.post(
            "/api/v1/write", content=body, headers={"content-type": "application/x-protobuf"}
        )
        app.tick()
        return r.status_code

    try:
        # The first sample alone is taken (204, not "none kept"): the rate starts from it.
        assert write(T0, 5_000_000.0) == 204
        for k in range(1, 6):  # 10 a second, then a restart, then 10 a second again
            total = 5_000_000.0 + 600.0 * k if k < 4 else 600.0 * (k - 3)
            assert write(T0 + 60.0 * k, total) == 204
        assert app.rules.active() == []
        sid = series_id("http_requests_total", LABELS)
        assert app.detector.context(sid).values == [10.0] * 4  # none at the restart
        assert write(T0 + 360.0, 600.0 * 2 + 60.0 * 30) == 204  # 30 a second
        assert [a.labels["alertname"] for a in app.rules.active()] == ["TooBusy"]
        assert "30" in app.rules.active()[0].annotations["summary"]
    finally:
        client.close()
        app.http.close()
        store.close()


BOUNDS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.5, 5.0, float("inf"))


def test_a_latency_regression_in_a_histogram_alerts_on_its_p99(tmp_path: Path) -> None:
    """A day of one-minute scrapes of a request-latency histogram (600 requests a minute,
    median 0.2 s), four times slower for half an hour in its last hours: the service follows
    the histogram's p50, p99 and mean (and its request rate), not its thirteen buckets, and
    the p99 and the mean alert, in words; the request rate, which held, does not."""
    config = parse_config(
        {
            "detection": {"min_age": "6h"},
            "route": {"receiver": "out", "group_wait": "0s"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
        }
    )
    clock = EventClock(T0)
    store = Store.open(f"sqlite:///{tmp_path}/anomalert.db")
    app = App(config, store, clock)
    rng = np.random.default_rng(4)
    totals = np.zeros(len(BOUNDS))
    spent = 0.0
    slow = range(20 * 60, 20 * 60 + 30)
    fired: list[tuple[int, str, str]] = []
    try:
        for minute in range(24 * 60):
            t = T0 + 60.0 * minute
            clock.advance(t)
            latency = rng.lognormal(np.log(0.2), 0.3, 600) * (4.0 if minute in slow else 1.0)
            totals += [np.count_nonzero(latency <= b) for b in BOUNDS]
            spent += float(latency.sum())
            le = ["+Inf" if b == float("inf") else f"{b:g}" for b in BOUNDS]
            family = "http_request_duration_seconds"
            scrape = [
                Sample(f"{family}_bucket", {**LABELS, "le": e}, t, c, True)
                for e, c in zip(le, totals.tolist(), strict=True)
            ]
            scrape += [
                Sample(f"{family}_sum", LABELS, t, spent, True),
                Sample(f"{family}_count", LABELS, t, totals[-1], True),
            ]
            result = app.ingest(scrape, "remote_write")
            assert result.accepted == len(scrape) and result.late == []
            fired += [
                (minute, a.labels["metric"], a.annotations.get("summary", ""))
                for a in result.transitions
                if a.status == "firing"
            ]
            app.tick()
        assert sorted(set(app.detector.metrics)) == [
            "http_request_duration_seconds:mean",
            "http_request_duration_seconds:p50",
            "http_request_duration_seconds:p99",
            "http_request_duration_seconds_count",
            "http_request_duration_seconds_sum",
        ]
        assert fired and all(m in slow for m, _, _ in fired), fired
        named = {metric for _, metric, _ in fired}
        assert {"http_request_duration_seconds:p99", "http_request_duration_seconds:mean"} <= named
        assert "http_request_duration_seconds_count" not in named  # the traffic held
    finally:
        app.http.close()
        store.close()


def test_a_restart_keeps_where_each_histogram_was(tmp_path: Path) -> None:
    """The next scrape after a restart gives its quantiles at once: the last complete
    scrape's counts are in the checkpoint."""
    config = parse_config(
        {
            "route": {"receiver": "out"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
        }
    )
    le = ["+Inf" if b == float("inf") else f"{b:g}" for b in BOUNDS]

    def scrape(t: float, scale: float) -> list[Sample]:
        return [
            Sample("rpc_seconds_bucket", {**LABELS, "le": e}, t, scale * (k + 1), True)
            for k, e in enumerate(le)
        ]

    clock = EventClock(T0)
    store = Store.open(f"sqlite:///{tmp_path}/anomalert.db")
    try:
        app = App(config, store, clock)
        app.ingest(scrape(T0, 100.0), "remote_write")
        app.checkpoint()
        app.http.close()
        again = App(config, store, clock)
        again.ingest(scrape(T0 + 60.0, 200.0), "remote_write")
        assert sorted(set(again.detector.metrics)) == ["rpc_seconds:p50", "rpc_seconds:p99"]
        again.http.close()
    finally:
        store.close()
