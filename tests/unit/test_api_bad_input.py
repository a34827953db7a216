"""Bad input a fuzzing review sent to the HTTP API: each is a 4xx in the one error shape
naming its field (or an item's rejection, the batch's good items kept), never a 500, and
nothing is stored for it. Whatever an older version stored is still shown, never a 500.

Built as tests/unit/test_api_contract.py builds its clients: a real App on an event clock
over SQLite, its FastAPI app through the ASGI test client (which raises any server error).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anomalert.model import Alert, fingerprint
from anomalert.report.gather import import_incidents
from anomalert.report.incidents_file import IncidentItem
from tests.support.api import ClientFactory, api_clients

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
#: Year 9999 at a -12:00 offset: year 10000 in UTC, which no datetime can hold.
Y10K = "9999-12-31T23:59:59-12:00"
CONFIG: dict[str, Any] = {"route": {"receiver": "out"}}


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ClientFactory]:
    with api_clients(tmp_path, CONFIG, NOW) as build:
        yield build


def assert_error(r: Any, status: int, field: str | None = None) -> str:
    """The one error shape, with this status (and field, when given); its message."""
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(r.json()) == {"error"} and err["status"] == status
    assert set(err) <= {"status", "code", "message", "field"}
    if field is not None:
        assert err.get("field") == field, err
    return str(err["message"])


def alert(start: float, end: float | None = None) -> Alert:
    labels = {"alertname": "Old", "service": "db"}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={},
        starts_at=start,
        ends_at=end,
        status="firing" if end is None else "resolved",
        score=1.0,
        severity="P2",
        mode="alerting",
        source="external",
        updated_at=start,
    )


# -- times past year 9999 ------------------------------------------------------------------


def test_string_times_past_the_bound_are_refused_naming_the_field(make: ClientFactory) -> None:
    client, _ = make()
    r = client.post("/api/v2/alerts", json=[{"labels": {"alertname": "Y"}, "startsAt": Y10K}])
    assert r.status_code == 200, r.text
    (rejected,) = r.json()["rejected"]
    assert rejected["error"].startswith("alerts[0].startsAt: must not be after 5138")
    event = {"kind": "maintenance", "service": "db", "timestamp": NOW, "end": Y10K}
    (rejected,) = client.post("/api/v1/events", json=event).json()["rejected"]
    assert rejected["error"].startswith("events[0].end: must not be after")
    incident = {"start": NOW, "end": Y10K}
    assert_error(client.post("/api/v1/incidents/labelled", json=incident), 400, "end")
    assert_error(client.get(f"/api/v1/reports/shadow?until={Y10K}"), 400, "until")
    assert_error(client.get(f"/api/v1/reports/audit?until={Y10K}"), 400, "until")
    assert client.get("/api/v1/alerts").json()["alerts"] == []
    assert client.get("/api/v1/incidents/labelled").json()["incidents"] == []


def test_times_stored_past_year_9999_are_shown_clamped(make: ClientFactory) -> None:
    """A database written by an older version may hold them: the lists still answer."""
    client, app = make()
    alert_id = app.store.upsert_alert(alert(NOW, 3e11))
    row = client.get("/api/v1/alerts").json()["alerts"][0]
    assert row["ends_at"] == "9999-12-31T23:59:59Z"
    assert client.get(f"/api/v1/alerts/{alert_id}").json()["ends_at"] == row["ends_at"]
    import_incidents(app.store, [IncidentItem(None, "db", "", NOW, 1e12)], "page", NOW)
    (incident,) = client.get("/api/v1/incidents/labelled").json()["incidents"]
    assert incident["end"] == "9999-12-31T23:59:59Z"
