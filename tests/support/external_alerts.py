"""An alert in Alertmanager's format sent to the service's API on its own clock, for the
tests of how such alerts are kept (re-sends, expiry), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from anomalert.app import App, EventClock
from tests.support.api import TestClient

T0 = 1_767_600_000.0  # 2026-01-05T08:00:00Z
CONFIG: dict[str, Any] = {
    "defaults": {"mode": "alerting"},
    "route": {"receiver": "out", "group_wait": "0s", "group_interval": "1m"},
}
LABELS = {"alertname": "DiskFull", "service": "db", "severity": "critical"}
DISK: dict[str, Any] = {"labels": LABELS, "annotations": {"summary": "disk 97% full"}}


def at(app: App, t: float) -> None:
    """The clock moves to ``t`` and the service's loop runs once."""
    clock = app.clock
    assert isinstance(clock, EventClock)
    clock.advance(t)
    app.tick()
    app.deliver()


def send(client: TestClient, app: App, t: float, **fields: Any) -> None:
    """``DISK`` with these fields, sent at ``t``; the loop runs once after."""
    clock = app.clock
    assert isinstance(clock, EventClock)
    clock.advance(t)
    r = client.post("/api/v2/alerts", json=[{**DISK, **fields}])
    assert r.status_code == 200 and r.json() == {"accepted": 1, "rejected": []}, r.text
    at(app, t)
