"""Alertmanager-format alerts re-sent without ``startsAt``, through the HTTP API, on SQLite
and on a real PostgreSQL.

Prometheus and most senders re-send a firing alert every minute. Alertmanager keeps one
alert per fingerprint while it fires; here alerts are stored by fingerprint and start, and
"a missing startsAt means now" made each re-send a new alert: three re-sends were three
alerts firing for ever (a resolve without startsAt was refused as ending before it began).
Now a re-send continues the episode going on, a resolve ends it, and an alert firing again
after that is a new one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import ClientFactory, TestClient, api_clients
from tests.support.external_alerts import CONFIG, T0, send


@pytest.fixture
def build(tmp_path: Path) -> Iterator[ClientFactory]:
    with api_clients(tmp_path, CONFIG, T0) as factory:
        yield factory


def episodes(client: TestClient) -> list[tuple[str, str, str | None, str]]:
    """(state, start, end, summary) of every stored alert, oldest first."""
    shown = client.get("/api/v1/alerts").json()["alerts"]
    return [(a["state"], a["starts_at"], a["ends_at"], a["reason"]) for a in reversed(shown)]


def notified(folder: Path) -> list[tuple[str, str]]:
    """(status, start of the alert) of each notification the jsonl receiver wrote."""
    lines = (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()
    return [(n["status"], a["starts_at"]) for n in map(json.loads, lines) for a in n["alerts"]]


def test_resends_without_start_are_one_alert_until_resolved(
    build: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client, app = build(url=db_url)
    for minute in range(3):  # as Prometheus: endsAt four minutes ahead, every minute
        t = T0 + 60 * minute
        summary = f"disk {97 + minute}% full"
        send(client, app, t, endsAt=t + 240, annotations={"summary": summary})
    assert episodes(client) == [("firing", "2026-01-05T08:00:00Z", None, "disk 99% full")]
    assert notified(tmp_path) == [("firing", "2026-01-05T08:00:00Z")]

    # the service restarts (no checkpoint): the store says which episode goes on
    client, app = build(url=db_url)
    send(client, app, T0 + 180, endsAt=T0 + 420)
    assert len(episodes(client)) == 1

    send(client, app, T0 + 240, endsAt=T0 + 230)  # resolved, ten seconds ago
    send(client, app, T0 + 300, endsAt=T0 + 230)  # and said again
    assert episodes(client) == [
        ("resolved", "2026-01-05T08:00:00Z", "2026-01-05T08:03:50Z", "disk 97% full")
    ]
    assert notified(tmp_path) == [
        ("firing", "2026-01-05T08:00:00Z"),
        ("resolved", "2026-01-05T08:00:00Z"),
    ]

    send(client, app, T0 + 600, endsAt=T0 + 840)  # fires again: a new alert
    assert [(state, start) for state, start, _, _ in episodes(client)] == [
        ("resolved", "2026-01-05T08:00:00Z"),
        ("firing", "2026-01-05T08:10:00Z"),
    ]
    assert notified(tmp_path)[-1] == ("firing", "2026-01-05T08:10:00Z")


def test_a_resolve_without_start_of_an_unknown_alert_starts_at_its_end(
    build: ClientFactory, db_url: str
) -> None:
    """As Alertmanager does; sent again, it is the same alert."""
    client, app = build(url=db_url)
    send(client, app, T0, endsAt=T0 - 30)
    send(client, app, T0 + 60, endsAt=T0 - 30)
    end = "2026-01-05T07:59:30Z"
    assert episodes(client) == [("resolved", end, end, "disk 97% full")]


def test_resends_of_a_firing_alert_add_nothing_to_its_history(
    build: ClientFactory, db_url: str
) -> None:
    """Its page shows what changed: a row when it fired and one when it resolved, not one
    per re-send (the summary moving on is the alert's latest snapshot, not a new state)."""
    client, app = build(url=db_url)
    for minute in range(10):
        t = T0 + 60 * minute
        summary = f"disk {90 + minute}% full"
        send(client, app, t, endsAt=t + 240, annotations={"summary": summary})
    send(client, app, T0 + 600, endsAt=T0 + 590)
    [shown] = client.get("/api/v1/alerts").json()["alerts"]
    history = client.get(f"/api/v1/alerts/{shown['id']}").json()["history"]
    assert [h["detail"]["status"] for h in history if h["kind"] == "state"] == [
        "firing",
        "resolved",
    ]
