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
IMPORT = "/api/v1/incidents/labelled/import"


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


# -- numbers too large for a float, documents nested too deeply ----------------------------

#: An integer literal too large for a float, and one past Python's 4,300-digit int limit.
HUGE = "1" + "0" * 400
HUGER = "1" + "0" * 5000


def post_raw(client: Any, path: str, text: str) -> Any:
    return client.post(path, content=text, headers={"content-type": "application/json"})


@pytest.mark.parametrize("number", [HUGE, HUGER])
@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        (
            "/api/v1/samples",
            '{"samples": [{"metric": "m", "labels": {"service": "s"}, "timestamp": 1767225590,'
            ' "value": N}]}',
            "samples[0].value: must be a finite number",
        ),
        (
            "/api/v1/samples",
            '{"samples": [{"metric": "m", "labels": {"service": "s"}, "timestamp": N,'
            ' "value": 1}]}',
            "samples[0].timestamp: must be a finite number",
        ),
        (
            "/api/v1/events",
            '{"kind": "deployment", "service": "s", "timestamp": N}',
            "events[0].timestamp: must be a finite number",
        ),
        ("/api/v2/alerts", '[{"labels": {"alertname": "A"}, "startsAt": N}]', "alerts[0].startsAt"),
    ],
)
def test_integers_too_large_for_a_float_are_rejected_naming_the_field(
    make: ClientFactory, path: str, body: str, error: str, number: str
) -> None:
    client, _ = make()
    r = post_raw(client, path, body.replace("N", number))
    assert r.status_code == 200, r.text
    (rejected,) = r.json()["rejected"]
    assert rejected["error"].startswith(error), rejected


def test_integers_too_large_for_a_float_are_400_naming_the_field(make: ClientFactory) -> None:
    client, _ = make()
    matcher = '{"name": "service", "value": "db"}'
    r = post_raw(client, "/api/v2/silences", f'{{"matchers": [{matcher}], "endsAt": {HUGER}}}')
    assert "finite" in assert_error(r, 400, "endsAt")
    r = post_raw(client, "/api/v1/incidents/labelled", f'{{"start": {HUGE}, "end": 1}}')
    assert_error(r, 400, "start")
    content = f'[{{"start": {HUGER}, "end": 1}}, {{"start": 1, "end": 2}}]'
    r = client.post(IMPORT, json={"format": "json", "content": content})
    assert r.json()["imported"] == 1, r.text
    assert r.json()["rejected"][0]["field"] == "start"


@pytest.mark.parametrize("path", ["/api/v1/samples", "/api/v2/silences", "/api/v1/events"])
def test_a_body_nested_too_deeply_is_400_naming_the_body(make: ClientFactory, path: str) -> None:
    client, _ = make()
    r = post_raw(client, path, "[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in assert_error(r, 400, "body")


def test_import_content_nested_too_deeply_is_400_naming_the_content(make: ClientFactory) -> None:
    client, _ = make()
    content = "[" * 100_000 + "]" * 100_000
    r = client.post(IMPORT, json={"format": "json", "content": content})
    assert "nested too deeply" in assert_error(r, 400, "content")


def test_a_window_of_400_digits_is_refused_as_infinite(make: ClientFactory) -> None:
    client, _ = make()
    record = {
        "service": "s",
        "timestamp": NOW,
        "total_requests": 10,
        "error_rate": 0,
        "latency_p99_ms": 1,
        "latency_p95_ms": 1,
        "latency_mean_ms": 1,
        "unique_users": 1,
        "unique_ips": 1,
        "risk_score": 0,
    }
    for window in (int(HUGE), f"{HUGE}s"):
        (rejected,) = client.post("/api/v1/records", json={**record, "window": window}).json()[
            "rejected"
        ]
        assert rejected["error"].startswith("records[0].window: a duration must be finite")
