"""Through the service: histograms sent as JSON samples, and records' per-request statistics.

A histogram's buckets are followed as its quantiles whichever way they came (remote_write or
JSON counters), and an aggregate record's error rate and latencies over enough requests
(``ingest.records``), across a restart too.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.stream import series_id
from anomalert.ingest.records import parse_records
from anomalert.store import Store

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

T0 = 1_767_600_000.0
BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, float("inf"))
CONFIG = {
    "route": {"receiver": "out"},
    "receivers": [{"name": "out", "log": {}}],
}


def _app(tmp_path: Path) -> tuple[App, Store, EventClock]:
    clock = EventClock(T0)
    store = Store.open(f"sqlite:///{tmp_path}/anomalert.db")
    return App(parse_config(CONFIG), store, clock), store, clock


def test_json_histogram_buckets_are_followed_as_quantiles(tmp_path: Path) -> None:
    """Buckets posted as JSON counters become ``:p50``, ``:p99`` and ``:mean`` as
    remote_write's do; every sample sent is counted accepted, the buckets are not followed."""
    app, store, clock = _app(tmp_path)
    client = TestClient(create_api(app))
    rng = np.random.default_rng(2)
    totals = np.zeros(len(BOUNDS))
    spent = 0.0
    try:
        for minute in range(3):
            t = T0 + 60.0 * minute
            clock.advance(t)
            latency = rng.lognormal(np.log(0.2), 0.3, 600)
            totals += [np.count_nonzero(latency <= b) for b in BOUNDS]
            spent += float(latency.sum())
            labels = {"service": "api"}
            samples: list[dict[str, Any]] = [
                {
                    "metric": "rpc_seconds_bucket",
                    "labels": {**labels, "le": "+Inf" if b == float("inf") else f"{b:g}"},
                    "timestamp": t,
                    "value": c,
                    "type": "counter",
                }
                for b, c in zip(BOUNDS, totals.tolist(), strict=True)
            ]
            samples += [
                {
                    "metric": "rpc_seconds_sum",
                    "labels": labels,
                    "timestamp": t,
                    "value": spent,
                    "type": "counter",
                },
                {
                    "metric": "rpc_seconds_count",
                    "labels": labels,
                    "timestamp": t,
                    "value": float(totals[-1]),
                    "type": "counter",
                },
            ]
            r = client.post("/api/v1/samples", json={"samples": samples})
            assert r.status_code == 200, r.text
            assert r.json() == {"accepted": len(samples), "rejected": []}
        assert sorted(set(app.detector.metrics)) == [
            "rpc_seconds:mean",
            "rpc_seconds:p50",
            "rpc_seconds:p99",
            "rpc_seconds_count",
            "rpc_seconds_sum",
        ]
        p50 = app.detector.context(series_id("rpc_seconds:p50", {"service": "api"})).values
        assert len(p50) == 2 and all(0.1 < v < 0.25 for v in p50)
    finally:
        client.close()
        app.http.close()
        store.close()


def _night_record(t: float, errors: int, p99: float) -> dict[str, Any]:
    return {
        "service": "checkout",
        "timestamp": t,
        "window": "1m",
        "total_requests": 5,
        "error_rate": errors / 5,
        "latency_p99_ms": p99,
        "latency_p95_ms": p99 * 0.8,
        "latency_mean_ms": 100.0,
        "unique_users": 4,
        "unique_ips": 4,
        "risk_score": 0.1,
    }


def test_a_records_error_rate_waits_for_enough_requests_across_a_restart(
    tmp_path: Path,
) -> None:
    """Five requests a minute: the error rate is followed once 100 requests are in (the
    twentieth record), over all of them, even with a restart after the twelfth; the
    window's own counts are followed every minute, and every feature counts accepted."""
    app, store, clock = _app(tmp_path)
    client = TestClient(create_api(app))
    error_rate = series_id("error_rate", {"service": "checkout"})
    total = series_id("total_requests", {"service": "checkout"})
    try:
        for minute in range(12):
            t = T0 + 60.0 * minute
            clock.advance(t)
            r = client.post("/api/v1/records", json=_night_record(t, minute % 4 == 0, 900.0))
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == 1
        assert error_rate not in app.detector.index
        assert len(app.detector.context(total).values) == 12
        app.checkpoint()
        client.close()
        app.http.close()
        again = App(parse_config(CONFIG), store, clock)
        client = TestClient(create_api(again))
        for minute in range(12, 20):
            t = T0 + 60.0 * minute
            clock.advance(t)
            records, _ = parse_records(_night_record(t, minute % 4 == 0, 900.0), t, None)
            result = again.ingest_records(records)
            assert result.accepted == 8
        assert again.detector.context(error_rate).values == [pytest.approx(5 / 100)]
        app = again
    finally:
        client.close()
        app.http.close()
        store.close()


def test_a_derived_quantile_refused_as_late_names_no_sample(tmp_path: Path) -> None:
    """A sender that also posts ``<family>:p99`` itself, ahead of its buckets: the quantile
    the buckets make is out of order for that series and not followed; the buckets were
    taken, so the answer rejects none of the posted samples (until 2026-12-07 the endpoint
    failed with a 500, looking for the derived sample's place in the body)."""
    app, store, clock = _app(tmp_path)
    client = TestClient(create_api(app))

    def buckets(t: float, scale: float) -> list[dict[str, Any]]:
        return [
            {
                "metric": "rpc_seconds_bucket",
                "labels": {"service": "api", "le": "+Inf" if b == float("inf") else f"{b:g}"},
                "timestamp": t,
                "value": scale * (k + 1) * 100.0,
                "type": "counter",
            }
            for k, b in enumerate(BOUNDS)
        ]

    try:
        clock.advance(T0 + 600.0)
        own = {
            "metric": "rpc_seconds:p99",
            "labels": {"service": "api"},
            "timestamp": T0 + 300.0,
            "value": 0.9,
        }
        assert client.post("/api/v1/samples", json={"samples": [own]}).json()["accepted"] == 1
        client.post("/api/v1/samples", json={"samples": buckets(T0, 1.0)})
        r = client.post("/api/v1/samples", json={"samples": buckets(T0 + 60.0, 2.0)})
        assert r.status_code == 200, r.text
        assert r.json() == {"accepted": len(BOUNDS), "rejected": []}
        p99 = app.detector.context(series_id("rpc_seconds:p99", {"service": "api"})).values
        assert p99 == [pytest.approx(0.9)]  # the sender's own; the derived one refused
    finally:
        client.close()
        app.http.close()
        store.close()
