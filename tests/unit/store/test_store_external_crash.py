"""A crash between checkpoints, with Alertmanager-format alerts, on SQLite and on a real
PostgreSQL: the restarted service tells what changes next and never repeats a message.

What the receivers were told is read back from the outbox at the start (``App._catch_up``);
a firing alert the store holds and the pipeline does not know (it came after the
checkpoint, and the crash came before its group was sent) is pushed back into the pipeline.
No checkpoint is ever taken here (the first one is a minute in), the harshest case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import ClientFactory, api_clients
from tests.support.external_alerts import CONFIG, DISK, T0, at, send


@pytest.fixture
def build(tmp_path: Path) -> Iterator[ClientFactory]:
    with api_clients(tmp_path, CONFIG, T0) as factory:
        yield factory


def notified(folder: Path) -> list[tuple[str, list[str]]]:
    """(status, each alert's status) of each message the jsonl receiver wrote."""
    path = folder / "out.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n["status"], [a["status"] for a in n["alerts"]]) for n in map(json.loads, lines)]


START = "2026-01-05T07:59:00Z"
END = "2026-01-05T08:04:00Z"


def test_an_alert_told_before_the_crash_is_told_when_it_resolves_after(
    build: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client, app = build(url=db_url)
    send(client, app, T0, startsAt=START, endsAt=END)
    assert notified(tmp_path) == [("firing", ["firing"])]
    _, restarted = build(url=db_url)  # the crash: nothing saved on the way out
    at(restarted, T0 + 30)
    assert notified(tmp_path) == [("firing", ["firing"])]  # not told again
    at(restarted, T0 + 330)  # past its end: it resolves, and whoever was told hears it
    assert notified(tmp_path) == [("firing", ["firing"]), ("resolved", ["resolved"])]


def test_an_alert_taken_just_before_the_crash_is_sent_after_it(
    build: ClientFactory, db_url: str, tmp_path: Path
) -> None:
    client, _ = build(url=db_url)
    r = client.post("/api/v2/alerts", json=[{**DISK, "startsAt": START, "endsAt": END}])
    assert r.status_code == 200, r.text  # stored; the loop never ran: nothing sent yet
    assert notified(tmp_path) == []
    _, restarted = build(url=db_url)
    at(restarted, T0 + 30)
    assert notified(tmp_path) == [("firing", ["firing"])]
    at(restarted, T0 + 330)
    assert notified(tmp_path) == [("firing", ["firing"]), ("resolved", ["resolved"])]
