"""Bad input a fuzzing review sent to the HTTP API: each is a 4xx in the one error shape
naming its field (or an item's rejection, the batch's good items kept), never a 500, and
nothing is stored for it. Whatever an older version stored is still shown, never a 500.

Built as tests/unit/test_api_contract.py builds its clients: a real App on an event clock
over SQLite, its FastAPI app through the ASGI test client (which raises any server error).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anomalert.alert.matchers import Matcher
from anomalert.alert.silence import Silence
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Alert, Sample, fingerprint
from anomalert.report.gather import import_incidents
from anomalert.report.incidents_file import IncidentItem
from tests.support.api import ClientFactory, api_clients, assert_error, record_body

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
#: Year 9999 at a -12:00 offset: year 10000 in UTC, which no datetime can hold.
Y10K = "9999-12-31T23:59:59-12:00"
CONFIG: dict[str, Any] = {"route": {"receiver": "out"}}
IMPORT = "/api/v1/incidents/labelled/import"


@pytest.fixture
def make(tmp_path: Path) -> Iterator[ClientFactory]:
    with api_clients(tmp_path, CONFIG, NOW) as build:
        yield build


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


def post_raw(client: Any, path: str, text: str, method: str = "POST") -> Any:
    return client.request(method, path, content=text, headers={"content-type": "application/json"})


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


# -- lone UTF-16 surrogates ----------------------------------------------------------------

#: Half of a surrogate pair: a legal JSON escape that no UTF-8 can encode.
LONE = chr(0xD800)


def post_json(client: Any, path: str, body: Any, method: str = "POST") -> Any:
    """``body`` as JSON with every non-ASCII character escaped (``\\ud800``), as a sender
    writing JSON by hand or in another language can."""
    return post_raw(client, path, json.dumps(body), method)


def sample(service: str = "db", **labels: str) -> dict[str, Any]:
    labels = {"service": service, **labels}
    return {"metric": "m", "labels": labels, "timestamp": NOW - 10, "value": 1}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (sample(pod=f"p{LONE}"), "samples[1].labels.pod"),
        (sample(LONE), "samples[1].labels.service"),
    ],
)
def test_a_sample_with_a_lone_surrogate_is_rejected_the_good_one_kept(
    make: ClientFactory, bad: dict[str, Any], field: str
) -> None:
    client, app = make()
    answer = post_json(client, "/api/v1/samples", {"samples": [sample(), bad]}).json()
    assert answer["accepted"] == 1
    (rejected,) = answer["rejected"]
    assert rejected["error"] == f"{field}: must be valid Unicode (a lone surrogate \\ud800)"
    assert app.detector.followed == 1


def test_an_event_with_a_lone_surrogate_stores_nothing_for_it(make: ClientFactory) -> None:
    client, app = make()
    good = {"kind": "deployment", "service": "db", "timestamp": NOW, "description": "GOOD-1"}
    bad = {**good, "description": f"bad {chr(0xDFFF)}"}
    link = {**good, "link": f"https://{LONE}"}
    answer = post_json(client, "/api/v1/events", [good, bad, link]).json()
    assert len(answer["ids"]) == 1
    assert [r["error"].split(":")[0] for r in answer["rejected"]] == [
        "events[1].description",
        "events[2].link",
    ]
    assert [e.description for e in app.store.events()] == ["GOOD-1"]


def test_records_alerts_and_incidents_name_the_field_with_a_lone_surrogate(
    make: ClientFactory,
) -> None:
    client, _ = make()
    (rejected,) = post_json(client, "/api/v1/records", {"service": LONE}).json()["rejected"]
    assert "records[0].service: must be valid Unicode" in rejected["error"]
    alerts = [
        {"labels": {"alertname": "A", "service": LONE}},
        {"labels": {"alertname": "A"}, "annotations": {"summary": LONE}},
        {"labels": {"alertname": "A"}, "generatorURL": LONE},
        {"labels": {"alertname": "Good"}},
    ]
    answer = post_json(client, "/api/v2/alerts", alerts).json()
    assert answer["accepted"] == 1
    assert [r["error"].split(":")[0] for r in answer["rejected"]] == [
        "alerts[0].labels.service",
        "alerts[1].annotations.summary",
        "alerts[2].generatorURL",
    ]
    incident = {"start": NOW, "end": NOW + 60, "title": LONE}
    assert_error(post_json(client, "/api/v1/incidents/labelled", incident), 400, "title")
    content = json.dumps(
        [incident, {**incident, "title": "ok", "id": LONE}, {**incident, "title": "ok"}]
    )
    answer = post_json(client, IMPORT, {"format": "json", "content": content}).json()
    assert answer["imported"] == 1
    assert [r["field"] for r in answer["rejected"]] == ["title", "id"]
    titles = [i["title"] for i in client.get("/api/v1/incidents/labelled").json()["incidents"]]
    assert titles == ["ok"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": [{"name": "service", "value": LONE}]}, "matchers[0].value"),
        ({"createdBy": LONE}, "createdBy"),
        ({"comment": f"x{LONE}"}, "comment"),
    ],
)
def test_a_silence_with_a_lone_surrogate_is_400_and_not_stored(
    make: ClientFactory, change: dict[str, Any], field: str
) -> None:
    client, _ = make()
    silence = {"matchers": [{"name": "service", "value": "db"}], "endsAt": NOW + 600, **change}
    assert "valid Unicode" in assert_error(
        post_json(client, "/api/v2/silences", silence), 400, field
    )
    assert client.get("/api/v2/silences").json() == []


def test_a_silence_stored_with_a_lone_surrogate_still_lists(make: ClientFactory) -> None:
    """An older version stored them (matchers are a JSON column): shown escaped."""
    client, app = make()
    matcher = Matcher("service", "=", f"db{LONE}")
    app.add_silence(Silence("", (matcher,), NOW, NOW + 600))
    (shown,) = client.get("/api/v2/silences").json()
    assert shown["matchers"][0]["value"] == "db\\ud800"


def test_model_bodies_refuse_a_lone_surrogate_naming_the_field(make: ClientFactory) -> None:
    client, _ = make()
    post_json(client, "/api/v2/alerts", [{"labels": {"alertname": "A", "service": "db"}}])
    assert_error(post_json(client, "/api/v1/alerts/1/ack", {"by": LONE}), 400, "by")
    body = {"helpful": True, "comment": LONE}
    assert_error(post_json(client, "/api/v1/alerts/1/feedback", body), 400, "comment")
    body = {"mode": "shadow", "by": LONE}
    assert_error(post_json(client, "/api/v1/services/db/mode", body, "PUT"), 400, "by")
    assert client.get("/api/v1/alerts/1").json()["history"][-1]["kind"] != "ack"


def test_an_answer_quoting_a_lone_surrogate_escapes_it(make: ClientFactory) -> None:
    client, _ = make()
    bad = {**sample(), LONE: 1}
    (rejected,) = post_json(client, "/api/v1/samples", {"samples": [bad]}).json()["rejected"]
    assert rejected["error"].startswith("samples[0].\\ud800: unknown key")
    r = post_json(client, "/api/v2/silences", {LONE: 1})
    assert assert_error(r, 400, "\\ud800") == "\\ud800: unknown field"


# -- control characters in ingested text --------------------------------------------------

#: NUL (PostgreSQL cannot store it: tests/unit/store/test_store_control_characters.py), a C0
#: control, DEL and a C1 control (NEL), as the error messages write them.
CONTROLS = [("\x00", "\\x00"), ("\x07", "\\x07"), ("\x7f", "\\x7f"), ("\x85", "\\x85")]


def refused(field: str, shown: str, at: int) -> str:
    return f"{field}: must not contain control characters (got {shown} at character {at})"


@pytest.mark.parametrize(("char", "shown"), CONTROLS)
def test_a_sample_with_a_control_character_is_rejected_the_good_ones_kept(
    make: ClientFactory, char: str, shown: str
) -> None:
    client, app = make()
    batch = [sample(), sample(pod=f"p{char}d"), sample(f"d{char}b"), sample("api")]
    answer = post_json(client, "/api/v1/samples", {"samples": batch}).json()
    assert answer["accepted"] == 2
    assert answer["rejected"] == [
        {"index": 1, "error": refused("samples[1].labels.pod", shown, 2)},
        {"index": 2, "error": refused("samples[2].labels.service", shown, 2)},
    ]
    assert app.detector.followed == 2
    services = client.get("/api/v1/services").json()["services"]
    assert sorted(s["name"] for s in services) == ["api", "db"]


def write(client: Any, *samples: Sample) -> Any:
    body = encode_write_request(samples)
    return client.post(
        "/api/v1/write", content=body, headers={"content-type": "application/x-protobuf"}
    )


@pytest.mark.parametrize(("char", "shown"), CONTROLS)
def test_remote_write_drops_a_series_with_a_control_character_and_keeps_the_others(
    make: ClientFactory, char: str, shown: str
) -> None:
    client, app = make()
    good = Sample("up", {"job": "db"}, NOW - 10, 1.0)
    bad = Sample("up", {"job": f"d{char}b"}, NOW - 10, 1.0)
    assert write(client, good, bad).status_code == 204
    assert app.detector.followed == 1
    assert app.metrics.rejected.labels("remote_write", "invalid")._value.get() == 1
    message = assert_error(write(client, bad), 400)
    assert message == "1 samples refused, none kept; first: " + refused(
        "timeseries[0].labels.job", shown, 2
    )


@pytest.mark.parametrize(("char", "shown"), CONTROLS)
def test_an_alert_with_a_control_character_is_rejected_the_good_ones_kept(
    make: ClientFactory, char: str, shown: str
) -> None:
    client, _ = make()
    multiline = "Disk 97% full.\n\tRunbook: https://rb/disk"
    alerts = [
        {"labels": {"alertname": "Good", "service": "db"}},
        {"labels": {"alertname": "A", "service": f"d{char}b"}},
        {"labels": {"alertname": "A"}, "annotations": {"summary": f"s{char}"}},
        {"labels": {"alertname": "Lines"}, "annotations": {"description": multiline}},
    ]
    answer = post_json(client, "/api/v2/alerts", alerts).json()
    assert answer["accepted"] == 2
    assert [r["error"] for r in answer["rejected"]] == [
        refused("alerts[1].labels.service", shown, 2),
        refused("alerts[2].annotations.summary", shown, 2).replace(
            "characters", "characters other than line breaks and tabs"
        ),
    ]
    shown_alerts = client.get("/api/v1/alerts").json()["alerts"]
    assert sorted(a["labels"]["alertname"] for a in shown_alerts) == ["Good", "Lines"]
    (lines,) = (a for a in shown_alerts if a["labels"]["alertname"] == "Lines")
    assert lines["annotations"]["description"] == multiline


@pytest.mark.parametrize(("char", "shown"), CONTROLS)
def test_an_event_with_a_control_character_stores_nothing_for_it(
    make: ClientFactory, char: str, shown: str
) -> None:
    client, app = make()
    good = {"kind": "deployment", "service": "db", "timestamp": NOW, "description": "a\n\tb"}
    bad = [
        {**good, "service": f"d{char}b"},
        {**good, "version": f"v{char}"},
        {**good, "description": f"x{char}"},
    ]
    answer = post_json(client, "/api/v1/events", [good, *bad]).json()
    assert len(answer["ids"]) == 1
    free = "characters other than line breaks and tabs"
    assert [r["error"] for r in answer["rejected"]] == [
        refused("events[1].service", shown, 2),
        refused("events[2].version", shown, 2),
        refused("events[3].description", shown, 2).replace("characters", free),
    ]
    assert [(e.service, e.description) for e in app.store.events()] == [("db", "a\n\tb")]


@pytest.mark.parametrize(("char", "shown"), CONTROLS)
def test_a_record_with_a_control_character_is_rejected_the_good_one_kept(
    make: ClientFactory, char: str, shown: str
) -> None:
    client, _ = make()
    record = record_body("db", NOW - 60)
    answer = post_json(client, "/api/v1/records", [{**record, "service": f"d{char}b"}, record])
    assert answer.json()["accepted"] == 1
    assert answer.json()["rejected"] == [
        {"index": 0, "error": refused("records[0].service", shown, 2)}
    ]
    services = client.get("/api/v1/services").json()["services"]
    assert [s["name"] for s in services] == ["db"]


@pytest.mark.parametrize(("char", "shown"), [*CONTROLS, ("\n", "\\n"), ("\x1b", "\\x1b")])
def test_one_line_fields_and_query_parameters_refuse_control_characters(
    make: ClientFactory, char: str, shown: str
) -> None:
    """Who did it, a name, a filter: one line each (a NUL: a 500 on PostgreSQL,
    tests/unit/store/test_store_control_characters.py; a newline or an escape garbles the
    page, the email or the log line that shows it)."""
    client, _ = make()
    post_json(client, "/api/v2/alerts", [{"labels": {"alertname": "A", "service": "db"}}])
    silence = {"matchers": [{"name": "service", "value": "db"}], "endsAt": NOW + 600}
    incident = {"start": NOW, "end": NOW + 1, "title": char}
    writes = [
        ("POST", "/api/v1/alerts/1/ack", {"by": f"a{char}"}, "by"),
        ("PUT", "/api/v1/services/db/mode", {"mode": "shadow", "by": f"a{char}"}, "by"),
        ("POST", "/api/v2/silences", {**silence, "createdBy": f"a{char}"}, "createdBy"),
        ("POST", "/api/v1/incidents/labelled", incident, "title"),
    ]
    for method, path, body, field in writes:
        message = assert_error(post_json(client, path, body, method), 400, field)
        assert message.startswith(f"{field}: must not contain control characters (got {shown}")
    for name in ("service", "search", "incident"):
        r = client.get("/api/v1/alerts", params={name: f"d{char}b"})
        assert assert_error(r, 400, name) == refused(name, shown, 2)
    content = "id,title,start,end\nINC-1,ok,60,120\n" + f'INC-2,"a{char}b",60,120\n'
    answer = post_json(client, IMPORT, {"format": "csv", "content": content}).json()
    assert answer["imported"] == 1
    assert [r["field"] for r in answer["rejected"]] == ["title"]


@pytest.mark.parametrize("char", ["\n", "\t", "\r"])
def test_comments_keep_line_breaks_and_tabs(make: ClientFactory, char: str) -> None:
    client, _ = make()
    post_json(client, "/api/v2/alerts", [{"labels": {"alertname": "A", "service": "db"}}])
    comment = f"deploy{char}noise"
    r = post_json(client, "/api/v1/alerts/1/feedback", {"helpful": False, "comment": comment})
    assert r.status_code == 200 and r.json()["comment"] == comment, r.text
    silence = {"matchers": [{"name": "service", "value": "db"}], "endsAt": NOW + 600}
    r = post_json(client, "/api/v2/silences", {**silence, "comment": comment})
    assert r.status_code == 200, r.text
    assert [s["comment"] for s in client.get("/api/v2/silences").json()] == [comment]
    message = assert_error(
        post_json(client, "/api/v2/silences", {**silence, "comment": f"a{char}\x1b"}), 400
    )
    assert "other than line breaks and tabs (got \\x1b at character 3)" in message


def test_the_page_of_a_service_named_with_a_control_character_is_a_404_page(
    make: ClientFactory,
) -> None:
    """No service can be so named (the API refuses it), and every call of the page failed."""
    client, _ = make()
    r = client.get("/services/d%00b")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "There is no service named d\\x00b." in r.text
    assert client.get("/services/z%C3%BCrich%20eu").status_code == 200


# -- silences ------------------------------------------------------------------------------


def test_a_matcher_with_an_unknown_key_is_refused_naming_it(make: ClientFactory) -> None:
    """``isregex`` for ``isRegex`` would be a literal matcher that mutes nothing."""
    client, _ = make()
    typo = {"name": "service", "value": "pay.*", "isregex": True}
    r = client.post("/api/v2/silences", json={"matchers": [typo], "endsAt": NOW + 600})
    assert "unknown field" in assert_error(r, 400, "matchers[0].isregex")
    assert client.get("/api/v2/silences").json() == []
    team = {"name": "team", "value": "shop", "isRegex": False, "isEqual": True}
    negative = {"name": "service", "value": "pay.*", "isRegex": True, "isEqual": False}
    r = client.post("/api/v2/silences", json={"matchers": [team, negative], "endsAt": NOW + 600})
    assert r.status_code == 200, r.text  # isEqual is Alertmanager's too
    (stored,) = client.get("/api/v2/silences").json()
    assert stored["matchers"] == [team, negative]


# -- ids beyond the database's integers ----------------------------------------------------

BEYOND = str(2**63)  # one more than the largest SQLite INTEGER


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", f"/api/v1/alerts/{BEYOND}", "alert_id"),
        ("POST", f"/api/v1/alerts/{10**23}/feedback", "alert_id"),
        ("POST", f"/api/v1/alerts/{BEYOND}/ack", "alert_id"),
        ("DELETE", f"/api/v1/incidents/labelled/{BEYOND}", "incident_id"),
        ("GET", f"/api/v1/alerts?before={10**30}", "before"),
        ("GET", f"/api/v1/alerts/-{BEYOND}1", "alert_id"),
    ],
)
def test_ids_beyond_64_bits_are_400_naming_the_parameter(
    make: ClientFactory, method: str, path: str, field: str
) -> None:
    client, _ = make()
    r = client.request(method, path, json={"helpful": True} if "feedback" in path else None)
    assert_error(r, 400, field)


def test_the_largest_id_is_a_404_and_the_page_of_a_larger_one_too(make: ClientFactory) -> None:
    client, _ = make()
    assert_error(client.get(f"/api/v1/alerts/{2**63 - 1}"), 404, "alert_id")
    assert client.get(f"/alerts/{BEYOND}").status_code == 404


# -- control characters in path names ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("PUT", "/api/v1/services/db%00/mode", "name"),
        ("PUT", "/api/v1/services/d%0Ab/mode", "name"),
        ("PUT", "/api/v1/services/db%7F/mode", "name"),
        ("PUT", "/api/v1/services/db%C2%85/mode", "name"),  # NEL, a C1 control
        ("GET", "/api/v1/services/db%00", "name"),
        ("GET", "/api/v1/services/%1B%5B31mdb", "name"),
        ("POST", "/api/v1/services/db%09/metrics/m/sensitivity/reset", "name"),
        ("POST", "/api/v1/services/db/metrics/m%00/sensitivity/reset", "metric"),
    ],
)
def test_a_control_character_in_a_path_name_is_400_naming_it(
    make: ClientFactory, method: str, path: str, field: str
) -> None:
    client, _ = make()
    r = client.request(method, path, json={"mode": "shadow"} if path.endswith("mode") else None)
    assert "control characters" in assert_error(r, 400, field)
    assert client.get("/api/v1/services").json()["services"] == []


def test_a_name_with_spaces_and_letters_beyond_ascii_is_a_name(make: ClientFactory) -> None:
    client, _ = make()
    r = client.put("/api/v1/services/z%C3%BCrich%20eu/mode", json={"mode": "shadow"})
    assert r.status_code == 200 and r.json()["name"] == "zürich eu", r.text


# -- histogram buckets ---------------------------------------------------------------------


def test_a_bucket_without_a_numeric_le_is_rejected_naming_it(make: ClientFactory) -> None:
    client, _ = make()

    def bucket(**le: str) -> dict[str, Any]:
        labels = {"service": "api", **le}
        t = NOW - 10
        return {"metric": "rpc_seconds_bucket", "labels": labels, "timestamp": t, "value": 1}

    batch = [bucket(le="abc"), bucket(), bucket(le="NaN"), bucket(le="+Inf"), bucket(le="0.5")]
    answer = client.post(
        "/api/v1/samples", json={"samples": [{**s, "type": "counter"} for s in batch]}
    ).json()
    assert answer["accepted"] == 2
    assert [r["error"] for r in answer["rejected"]] == [
        'samples[0].labels.le: must be a number or +Inf (got "abc")',
        "samples[1].labels.le: required (a histogram bucket's upper bound, a number or +Inf)",
        'samples[2].labels.le: must be a number or +Inf (got "NaN")',
    ]
    assert client.post("/api/v1/samples", json={"samples": [bucket()]}).json()["accepted"] == 1


# -- feedback ------------------------------------------------------------------------------


@pytest.mark.parametrize("helpful", ["yes", "true", 1, "off", 0.0, None])
def test_feedback_is_true_or_false_nothing_coerced(make: ClientFactory, helpful: Any) -> None:
    client, _ = make()
    post_json(client, "/api/v2/alerts", [{"labels": {"alertname": "A", "service": "db"}}])
    r = client.post("/api/v1/alerts/1/feedback", json={"helpful": helpful})
    assert_error(r, 400, "helpful")
    assert client.post("/api/v1/alerts/1/feedback", json={"helpful": False}).status_code == 200


# -- content types of JSON bodies ----------------------------------------------------------

#: A JSON endpoint that reads its body itself (``json_body``) and one FastAPI reads into a
#: model: (method, path, a valid body).
JSON_BODIES = [
    ("POST", "/api/v1/samples", b'{"samples": []}'),
    ("PUT", "/api/v1/services/db/mode", b'{"mode": "shadow"}'),
]


def send(client: Any, method: str, path: str, body: bytes, ctype: str) -> Any:
    return client.request(method, path, content=body, headers={"content-type": ctype})


@pytest.mark.parametrize(("method", "path", "body"), JSON_BODIES)
@pytest.mark.parametrize(
    "ctype",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF8",
        'application/json; charset="UTF-8"',
        "application/json; version=2",
        "application/vnd.api+json",
        "application/problem+json; charset=utf-8",
        "application/json; charset=us-ascii",
    ],
)
def test_json_and_its_plus_json_types_in_utf8_are_read(
    make: ClientFactory, method: str, path: str, body: bytes, ctype: str
) -> None:
    client, _ = make()
    r = send(client, method, path, body, ctype)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("method", "path", "body"), JSON_BODIES)
@pytest.mark.parametrize("charset", ["latin-1", "ISO-8859-1", '"utf-16"', ""])
def test_a_charset_other_than_utf8_is_415_naming_it(
    make: ClientFactory, method: str, path: str, body: bytes, charset: str
) -> None:
    client, _ = make()
    r = send(client, method, path, body, f"application/json; charset={charset}")
    message = assert_error(r, 415)
    assert f'charset "{charset.strip(chr(34))}"' in message and "must be UTF-8" in message
    assert client.get("/api/v1/services/db").status_code == 404  # no mode was stored


def test_a_latin1_body_is_415_not_a_json_error(make: ClientFactory) -> None:
    """Declared latin-1 and not UTF-8: the charset is the problem, not the JSON."""
    client, _ = make()
    body = '{"mode": "shadow", "by": "José"}'.encode("latin-1")
    for method, path in [("PUT", "/api/v1/services/db/mode"), ("POST", "/api/v1/events")]:
        r = send(client, method, path, body, "application/json; charset=latin-1")
        assert "latin-1" in assert_error(r, 415)


@pytest.mark.parametrize(("method", "path", "body"), JSON_BODIES)
@pytest.mark.parametrize(
    "ctype", ["text/json-ish", "application/jsonx", "text/json", "application/x-json", "json"]
)
def test_a_type_that_only_contains_json_is_415(
    make: ClientFactory, method: str, path: str, body: bytes, ctype: str
) -> None:
    client, _ = make()
    message = assert_error(send(client, method, path, body, ctype), 415)
    assert f"not {ctype}" in message


# -- a client that hangs up ----------------------------------------------------------------


def test_a_client_hanging_up_mid_body_is_one_quiet_line(
    make: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Content-Length 100, 10 bytes, then gone: no error, no traceback."""
    client, _ = make()
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"samples"', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/samples",
        "raw_path": b"/api/v1/samples",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with caplog.at_level(logging.DEBUG, logger="anomalert"):
        # In a thread of its own: a test before this one in the same worker may have left an
        # event loop running in this thread (Playwright's sync API keeps one).
        worker = threading.Thread(target=lambda: asyncio.run(client.app(scope, receive, send)))
        worker.start()
        worker.join()
    ours = [r for r in caplog.records if r.name.startswith("anomalert")]
    assert [(r.levelno, r.exc_info) for r in ours] == [(logging.INFO, None)]
    assert "/api/v1/samples" in ours[0].getMessage()
