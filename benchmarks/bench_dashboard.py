"""The dashboard's reads with 100,000 alerts stored: every list page must cost the same.

A SQLite store is filled with ``--alerts`` alert episodes (each with the context an anomaly
alert carries: 48 recent points and their band), some acknowledged, some with feedback,
then the API the dashboard reads is timed through an in-process client: the first page,
a page deep in the keyset, each filter, a search, one alert with its context, the services
and audit summaries when they exist. Part of ``make bench``; figures, never assertions.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.model import Alert, fingerprint
from anomalert.store import Store, schema
from anomalert.store.alerts import _values as alert_values

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SERVICES = ("checkout", "payments", "auth", "search", "db", "cart", "email", "ledger")
METRICS = ("latency_p99_ms", "latency_p50_ms", "error_rate_5xx", "request_rate", "cpu", "memory")
NOW = 1_767_225_600.0  # 2026-01-01
POINTS = 48


def _context(k: int) -> dict[str, Any]:
    times = [NOW - 60.0 * (POINTS - i) for i in range(POINTS)]
    values = [100.0 + (i % 7) + (50.0 if i == POINTS - 1 else 0.0) for i in range(POINTS)]
    return {
        "series": f"s{k}",
        "window": {
            "times": times,
            "values": values,
            "expected": [100.0] * POINTS,
            "lower": [95.0] * POINTS,
            "upper": [105.0] * POINTS,
        },
        "value": values[-1],
        "expected": 100.0,
        "band": [95.0, 105.0],
        "kind": "spike",
        "detail": None,
    }


def fill(store: Store, n: int) -> float:
    """Store n alert episodes over the last 30 days, in batches; seconds it took.

    Rows go in with one multi-row insert per batch (the pipeline's own upserts are one
    transaction each, which would make filling the store the slowest part of the bench);
    acknowledgements and feedback then use the store's own methods.
    """
    t0 = time.perf_counter()
    step = 30 * 86400.0 / n
    batch: list[dict[str, Any]] = []
    for k in range(n):
        service = SERVICES[k % len(SERVICES)]
        metric = METRICS[(k // len(SERVICES)) % len(METRICS)]
        labels = {"alertname": "Anomaly", "service": service, "metric": metric}
        start = NOW - 30 * 86400.0 + k * step
        firing = k >= n - 200
        alert = Alert(
            fingerprint=fingerprint(labels),
            labels=labels,
            annotations={"summary": f"{metric} {k % 900 + 100}, 5.1σ above the usual 210"},
            starts_at=start,
            ends_at=None if firing else start + 600.0,
            status="firing" if firing else "resolved",
            score=0.9 + (k % 10) / 100.0,
            severity=("P1", "P2", "P3")[k % 3],
            mode=("alerting", "assistive", "shadow")[k % 7 % 3],
            source="anomaly",
            updated_at=start + 600.0,
        )
        batch.append({**alert_values(alert), "context": _context(k)})
        if len(batch) == 2000 or k == n - 1:
            with store.engine.begin() as conn:
                conn.execute(sa.insert(schema.alerts), batch)
            batch.clear()
    with store.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.select(schema.alerts.c.id).order_by("id"))]
    for k, alert_id in enumerate(ids):
        start = NOW - 30 * 86400.0 + k * step
        if k % 50 == 0:
            store.ack(alert_id, start + 120.0, "alice")
        if k % 97 == 0:
            store.add_feedback(alert_id, start + 300.0, k % 2 == 0, "")
    return time.perf_counter() - t0


def timed(client: TestClient, path: str, repeat: int = 5) -> tuple[float, int]:
    """Median milliseconds of GET path, and the bytes of its answer."""
    samples = []
    size = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        samples.append((time.perf_counter() - t0) * 1000.0)
        if r.status_code != 200:
            return float("nan"), 0
        size = len(r.content)
    return statistics.median(samples), size


def run(n: int, folder: Path) -> list[tuple[str, float, int]]:
    """Fill a store and time the dashboard's reads."""
    store = Store.open(f"sqlite:///{folder}/bench.db")
    console = Console(stderr=True)
    with console.status(f"storing {n:,} alerts ..."):
        seconds = fill(store, n)
    console.print(f"stored {n:,} alerts in {seconds:.0f} s")
    config = parse_config({"receivers": [{"name": "log", "log": {}}], "route": {"receiver": "log"}})
    app = App(config, store, clock=EventClock(NOW))
    client = TestClient(create_api(app))
    first = client.get("/api/v1/alerts?limit=50").json()
    deep = first["alerts"][0]["id"] - n // 2
    rows = []
    paths = [
        ("first page (50)", "/api/v1/alerts?limit=50"),
        ("page in the middle", f"/api/v1/alerts?limit=50&before={deep}"),
        ("firing", "/api/v1/alerts?limit=50&state=firing"),
        ("unacknowledged", "/api/v1/alerts?limit=50&state=unacknowledged"),
        ("service=db", "/api/v1/alerts?limit=50&service=db"),
        ("severity=P1, mode=shadow", "/api/v1/alerts?limit=50&severity=P1&mode=shadow"),
        ("search 'latency'", "/api/v1/alerts?limit=50&search=latency"),
        ("search, no match", "/api/v1/alerts?limit=50&search=nomatch-xyz"),
        ("one alert + context", f"/api/v1/alerts/{deep}"),
        ("services", "/api/v1/services"),
        ("weekly audit", f"/api/v1/reports/audit?until={NOW}"),
        ("dashboard page /", "/"),
    ]
    for name, path in paths:
        ms, size = timed(client, path)
        rows.append((name, ms, size))
    client.close()
    store.close()
    return rows


def render(n: int, rows: list[tuple[str, float, int]], console: Console) -> None:
    """The figures as one table."""
    table = Table(title=f"Dashboard reads with {n:,} alerts stored (SQLite, in-process client)")
    table.add_column("read")
    table.add_column("median ms", justify="right")
    table.add_column("bytes", justify="right")
    for name, ms, size in rows:
        table.add_row(name, "n/a" if ms != ms else f"{ms:.1f}", f"{size:,}")
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="anomalert-dash-") as tmp:
        rows = run(args.alerts, Path(tmp))
    render(args.alerts, rows, Console())


if __name__ == "__main__":
    main()
