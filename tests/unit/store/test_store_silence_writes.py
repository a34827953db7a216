"""A silence change the store refuses changes nothing, through the HTTP API, on SQLite and on
a real PostgreSQL.

The silencer took a change into memory before the store write: a failed write (a lost
connection, a constraint) answered 500 while the new silence muted alerts and was listed,
until a restart forgot it; a failed expiry answered 500 with the silence expired in memory
and active again after a restart. The store is now the first write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc

from anomalert.api.server import create_api
from anomalert.app import App
from anomalert.store import SilenceRow, Store
from tests.support.api import ClientFactory, TestClient, api_clients

T0 = 1_767_600_000.0
CONFIG: dict[str, Any] = {
    "defaults": {"mode": "alerting"},
    "route": {"receiver": "out", "group_wait": "0s", "group_interval": "1m"},
}
DB = {"name": "service", "value": "db", "isRegex": False}
API = {"name": "service", "value": "api", "isRegex": False}


@pytest.fixture
def build(tmp_path: Path) -> Iterator[ClientFactory]:
    with api_clients(tmp_path, CONFIG, T0) as factory:
        yield factory


def answering(app: App) -> TestClient:
    """A client that gets the 500 a server error is, as a real client would."""
    return TestClient(create_api(app), raise_server_exceptions=False)


def failing_writes(monkeypatch: pytest.MonkeyPatch, app: App) -> None:
    def refuse(rows: Any) -> None:
        raise sqlalchemy.exc.OperationalError("INSERT INTO silences", {}, Exception("gone"))

    for name in ("save_silence", "save_silences"):  # one at a time, or together
        monkeypatch.setattr(app.store, name, refuse, raising=False)


def silences(client: TestClient) -> list[tuple[str, str, list[Any]]]:
    """(id, state, matchers) of every silence listed."""
    shown = client.get("/api/v2/silences").json()
    return [(s["id"], s["status"]["state"], s["matchers"]) for s in shown]


def notified(folder: Path) -> list[tuple[str, str]]:
    """(status, service) of each alert the jsonl receiver was told about."""
    path = folder / "out.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        (n["status"], a["labels"]["service"]) for n in map(json.loads, lines) for a in n["alerts"]
    ]


def test_a_silence_the_store_refused_neither_mutes_nor_lists(
    build: ClientFactory, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, app = build(url=db_url)
    client = answering(app)
    failing_writes(monkeypatch, app)
    r = client.post("/api/v2/silences", json={"matchers": [DB], "endsAt": T0 + 3600})
    assert r.status_code == 500 and r.json()["error"]["code"] == "internal"
    assert silences(client) == []

    alert = {"labels": {"alertname": "DiskFull", "service": "db"}, "endsAt": T0 + 240}
    assert client.post("/api/v2/alerts", json=[alert]).status_code == 200
    app.tick()
    app.deliver()
    assert notified(tmp_path) == [("firing", "db")]  # not muted

    restarted, _ = build(url=db_url)
    assert silences(restarted) == []


def test_an_expiry_or_replacement_the_store_refused_changes_nothing(
    build: ClientFactory, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, app = build(url=db_url)
    client = answering(app)
    r = client.post("/api/v2/silences", json={"matchers": [DB], "endsAt": T0 + 3600})
    sid = r.json()["silenceID"]
    before = silences(client)
    assert [state for _, state, _ in before] == ["active"]

    failing_writes(monkeypatch, app)
    assert client.delete(f"/api/v2/silence/{sid}").status_code == 500
    assert silences(client) == before
    # an active silence matching something else becomes a new one, the old one expiring:
    # neither happens
    body = {"id": sid, "matchers": [API], "endsAt": T0 + 3600}
    assert client.post("/api/v2/silences", json=body).status_code == 500
    assert silences(client) == before
    assert app.pipeline.muted_by({"service": "db"}, T0) == [sid]
    assert app.pipeline.muted_by({"service": "api"}, T0) == []

    monkeypatch.undo()
    restarted, _ = build(url=db_url)
    assert silences(restarted) == before


def test_silences_saved_together_are_saved_all_or_none(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        good = SilenceRow("good", [dict(DB)], T0, T0 + 60, "ana", "", False, T0)
        bad = SilenceRow("bad", [dict(DB)], T0, T0 + 60, None, "", False, T0)  # type: ignore[arg-type]
        with pytest.raises(sqlalchemy.exc.IntegrityError):  # created_by is NOT NULL
            store.save_silences([good, bad])
        assert store.list_silences() == []
        store.save_silences([good])
        assert [s.id for s in store.list_silences()] == ["good"]
    finally:
        store.close()
