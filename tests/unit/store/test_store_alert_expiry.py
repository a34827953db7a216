"""Alertmanager-format alerts that are not sent again resolve at their ``endsAt``, through the
HTTP API, on SQLite and on a real PostgreSQL.

Prometheus sends a firing alert with ``endsAt`` a few evaluation intervals ahead and sends it
again while it fires; once it stops (Prometheus down, the rule deleted) Alertmanager resolves
the alert at that ``endsAt``. Here such an alert fired for good. Now it resolves on the tick
after its ``endsAt``, ended then; sent again before, it stays open and takes the new end; sent
without ``endsAt``, it lasts ``ingest.alerts.resolve_timeout`` from its last send. The store
keeps the end, so a restarted service resolves what expired while it was down.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from anomalert.app import EventClock
from anomalert.model import Alert, fingerprint
from anomalert.store import Store
from tests.support.api import ClientFactory, TestClient, api_clients
from tests.support.external_alerts import CONFIG, DISK, LABELS, T0, at, send


@pytest.fixture
def build(tmp_path: Path) -> Iterator[ClientFactory]:
    with api_clients(tmp_path, CONFIG, T0) as factory:
        yield factory


def episodes(client: TestClient) -> list[tuple[str, str, str | None]]:
    """(state, start, end) of every stored alert, oldest first."""
    shown = client.get("/api/v1/alerts").json()["alerts"]
    return [(a["state"], a["starts_at"], a["ends_at"]) for a in reversed(shown)]


def notified(folder: Path) -> list[tuple[str, str, str | None]]:
    """(status, start, end) of each alert of each notification the jsonl receiver wrote."""
    path = folder / "out.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        (n["status"], a["starts_at"], a["ends_at"])
        for n in map(json.loads, lines)
        for a in n["alerts"]
    ]


START = "2026-01-05T07:59:00Z"


def test_an_alert_not_sent_again_resolves_at_its_end(
    build: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client, app = build(url=db_url)
    send(client, app, T0, startsAt=START, endsAt="2026-01-05T08:04:00Z")
    at(app, T0 + 239)
    assert episodes(client) == [("firing", START, None)]
    at(app, T0 + 330)  # the tick after its end: ended at its end, not at the tick
    end = "2026-01-05T08:04:00Z"
    assert episodes(client) == [("resolved", START, end)]
    assert [s for s, _, _ in notified(tmp_path)] == ["firing", "resolved"]
    assert notified(tmp_path)[-1][2] == end
    assert app.pipeline.firing() == []

    at(app, T0 + 3600)  # and nothing more
    assert len(notified(tmp_path)) == 2
    restarted, _ = build(url=db_url)
    assert episodes(restarted) == [("resolved", START, end)]


def test_an_alert_sent_again_before_its_end_stays_open_and_takes_the_new_end(
    build: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client, app = build(url=db_url)
    send(client, app, T0, startsAt=START, endsAt="2026-01-05T08:04:00Z")
    send(client, app, T0 + 200, startsAt=START, endsAt="2026-01-05T08:07:20Z")
    at(app, T0 + 300)
    assert episodes(client) == [("firing", START, None)]
    at(app, T0 + 445)
    assert episodes(client) == [("resolved", START, "2026-01-05T08:07:20Z")]
    assert [s for s, _, _ in notified(tmp_path)] == ["firing", "resolved"]


def test_without_start_or_end_it_lasts_the_resolve_timeout_from_its_last_send(
    tmp_path: Path, db_url: str
) -> None:
    config = {**CONFIG, "ingest": {"alerts": {"resolve_timeout": "2m"}}}
    with api_clients(tmp_path, config, T0) as build:
        client, app = build(url=db_url)
        send(client, app, T0)
        send(client, app, T0 + 100)  # continues the alert, and its two minutes
        at(app, T0 + 219)
        assert episodes(client) == [("firing", "2026-01-05T08:00:00Z", None)]
        at(app, T0 + 230)
        assert episodes(client) == [("resolved", "2026-01-05T08:00:00Z", "2026-01-05T08:03:40Z")]
        send(client, app, T0 + 300)  # sent again after it resolved: a new alert
        assert [s for s, _, _ in episodes(client)] == ["resolved", "firing"]
        assert episodes(client)[-1][1] == "2026-01-05T08:05:00Z"


def test_after_a_restart_the_store_says_what_expired(
    build: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client, app = build(url=db_url)
    send(client, app, T0, startsAt=START, endsAt="2026-01-05T08:04:00Z")
    later = {**DISK, "labels": {**LABELS, "alertname": "DiskSlow"}}
    assert client.post("/api/v2/alerts", json=[{**later, "endsAt": T0 + 3600}]).status_code == 200
    app.tick()

    # stopped before its end; back after it (no checkpoint: the store alone)
    client, app = build(url=db_url)
    assert isinstance(app.clock, EventClock)
    app.clock.advance(T0 + 600)
    app.tick()
    assert episodes(client) == [
        ("resolved", START, "2026-01-05T08:04:00Z"),
        ("firing", "2026-01-05T08:00:00Z", None),
    ]
    at(app, T0 + 3600)
    assert [s for s, _, _ in episodes(client)] == ["resolved", "resolved"]


def test_an_alert_stored_without_an_end_lasts_the_resolve_timeout_from_its_last_update(
    build: ClientFactory, db_url: str
) -> None:
    """Rows stored before the store kept the end (NULL after the migration)."""
    store = Store.open(db_url)
    try:
        store.upsert_alert(
            Alert(
                fingerprint(LABELS),
                {**LABELS, "severity": "P1"},
                {"summary": "disk 97% full"},
                T0 - 3600,
                None,
                "firing",
                1.0,
                "P1",
                "alerting",
                "external",
                T0 - 60,
            )
        )
    finally:
        store.close()
    client, app = build(url=db_url)
    at(app, T0 + 239)
    assert [s for s, _, _ in episodes(client)] == ["firing"]
    at(app, T0 + 240)
    assert episodes(client) == [("resolved", "2026-01-05T07:00:00Z", "2026-01-05T08:04:00Z")]
