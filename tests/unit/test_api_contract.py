"""The HTTP API's contract, on a real App over a SQLite file, driven through the ASGI app.

What clients rely on: every error has ONE shape ``{"error": {"status", "code", "message",
["field"]}}``; a bad item of a batch is named and the good ones are kept; writes need a token
once tokens are configured and reads never do; no token or secret ever comes back in an
answer. docs/api.md describes the same endpoints (a test checks every route is in it).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Sample
from anomalert.store import Store
from anomalert.timefmt import rfc3339

with warnings.catch_warnings():
    # starlette asks for the httpx2 fork; the httpx it falls back to works the same here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NOW = 1_700_000_000.0
WRITE = "write-tok-7f3a9c21"
ADMIN = "admin-tok-b81e44d0"
HOOK = "https://hooks.example.com/services/T0/B0/hook-secret-5d2e"
HOOK_BEARER = "hook-bearer-90ac17"
SECRETS = (WRITE, ADMIN, "hook-secret-5d2e", HOOK_BEARER)
LIMIT = 4096
API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}

#: (path, one valid-JSON body that is wrong for it, the field the 400 names)
JSON_POSTS: list[tuple[str, Any, str]] = [
    ("/api/v1/samples", {"rows": []}, "samples"),
    ("/api/v1/records", 3, "records"),
    ("/api/v1/events", "deployed", "events"),
    ("/api/v2/alerts", {"labels": {"alertname": "x"}}, "alerts"),
    ("/api/v2/silences", {"matchers": []}, "matchers"),
    ("/api/v1/alerts/1/ack", {"by": 3}, "by"),
    ("/api/v1/alerts/1/feedback", {"helpful": "maybe"}, "helpful"),
]
WRITE_POSTS = ["/api/v1/samples", "/api/v1/records", "/api/v1/write", "/api/v1/events"]
WRITE_POSTS += ["/api/v2/alerts"]
ADMIN_POSTS = ["/api/v2/silences", "/api/v1/alerts/1/ack", "/api/v1/alerts/1/feedback"]
READS = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/alerts",
    "/api/v1/outbox",
    "/api/v2/silences",
]

Factory = Callable[..., tuple[TestClient, App]]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Factory]:
    """A real App (SQLite file, event clock, a jsonl receiver) and a client on its API."""
    opened: list[tuple[TestClient, App, httpx.Client]] = []

    def make(
        server: dict[str, Any] | None = None,
        receivers: list[dict[str, Any]] | None = None,
        transport: httpx.MockTransport | None = None,
    ) -> tuple[TestClient, App]:
        out = {"name": "out", "jsonl": {"path": str(tmp_path / "notifications.jsonl")}}
        config = parse_config(
            {
                "server": {"max_body_bytes": LIMIT, **(server or {})},
                "route": {"receiver": (receivers or [out])[0]["name"]},
                "receivers": receivers or [out],
            }
        )
        store = Store.open(f"sqlite:///{tmp_path}/a{len(opened)}.db")
        http = httpx.Client(transport=transport or httpx.MockTransport(_refuse_network))
        app = App(config, store, EventClock(NOW), http=http)
        client = TestClient(create_api(app))
        opened.append((client, app, http))
        return client, app

    yield make
    for client, app, http in opened:
        client.close()
        http.close()
        app.store.close()


@pytest.fixture
def client(make_client: Factory) -> TestClient:
    """An open service (no tokens configured, loopback only)."""
    return make_client()[0]


@pytest.fixture
def guarded(make_client: Factory) -> TestClient:
    """A service with write and admin tokens configured."""
    return make_client({"write_tokens": [WRITE], "admin_tokens": [ADMIN]})[0]


def _refuse_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"unexpected network call to {request.url.host}")


class Answer(Protocol):
    """What the checks read of a response (TestClient types it with the httpx2 fork)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def assert_error(r: Answer, status: int, field: str | None = None) -> dict[str, Any]:
    """The one error shape, with this status (and field, when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert set(err) <= {"status", "code", "message", "field"}, err
    assert err["status"] == status
    assert err["code"] == CODES[status]
    assert isinstance(err["message"], str) and err["message"]
    if field is not None:
        assert err.get("field") == field, err
    return err


def sample(value: Any, t: float = NOW - 60, metric: str = "latency_ms") -> dict[str, Any]:
    return {"metric": metric, "labels": {"service": "checkout"}, "timestamp": t, "value": value}


def ingested(client: TestClient) -> float:
    """anomalert_samples_ingested_total{source="json"} from the exposition."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == "anomalert_samples_ingested_total" and s.labels == {"source": "json"}:
                return float(s.value)
    return 0.0


def post_alert(client: TestClient, headers: dict[str, str] | None = None, expected: int = 1) -> int:
    """Push one firing alert in Alertmanager's format; its id in the alert list (of
    ``expected`` alerts, newest first)."""
    alert = {"labels": {"alertname": "HighLatency", "service": "checkout", "severity": "P2"}}
    r = client.post("/api/v2/alerts", json=[alert], headers=headers)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    rows = client.get("/api/v1/alerts").json()["alerts"]
    assert len(rows) == expected
    return int(rows[0]["id"])


# -- the error shape on transport-level problems -------------------------------------------


def test_unknown_route_is_404_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(client.post("/api/v9/samples", json={}), 404)


def test_wrong_method_is_405_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.delete("/healthz"), 405)
    assert_error(client.put("/api/v1/samples", json={"samples": []}), 405)
    assert_error(client.get("/api/v1/alerts/1/ack"), 405)


@pytest.mark.parametrize("path", [p for p, _, _ in JSON_POSTS])
def test_invalid_json_is_400_naming_the_body(client: TestClient, path: str) -> None:
    r = client.post(path, content=b'{"samples": [', headers={"content-type": "application/json"})
    err = assert_error(r, 400, "body")
    assert "not valid JSON" in err["message"]


@pytest.mark.parametrize("path", [p for p, _, _ in JSON_POSTS])
def test_wrong_content_type_is_415(client: TestClient, path: str) -> None:
    r = client.post(path, content=b"helpful=yes", headers={"content-type": "text/plain"})
    err = assert_error(r, 415)
    assert "text/plain" in err["message"]


@pytest.mark.parametrize("path", ["/api/v1/alerts/1/ack", "/api/v1/alerts/1/feedback"])
def test_a_model_body_without_a_content_type_is_415_saying_so(
    client: TestClient, path: str
) -> None:
    """Not "Input should be a valid dictionary" for JSON that may well be right."""
    r = client.post(path, content=b'{"helpful": true}')
    assert "content-type" not in r.request.headers
    assert "has none" in assert_error(r, 415)["message"]


def test_remote_write_refuses_json_with_415(client: TestClient) -> None:
    r = client.post("/api/v1/write", json={"timeseries": []})
    assert "protobuf" in assert_error(r, 415)["message"]


@pytest.mark.parametrize("path", [*(p for p, _, _ in JSON_POSTS), "/api/v1/write"])
def test_body_over_the_limit_is_413_with_content_length(client: TestClient, path: str) -> None:
    r = client.post(path, content=b" " * (LIMIT + 1), headers={"content-type": "application/json"})
    err = assert_error(r, 413)
    assert str(LIMIT) in err["message"]


@pytest.mark.parametrize("path", [*(p for p, _, _ in JSON_POSTS), "/api/v1/write"])
def test_body_over_the_limit_is_413_when_chunked(client: TestClient, path: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * (LIMIT // 2)

    ctype = "application/x-protobuf" if path.endswith("/write") else "application/json"
    r = client.post(path, content=chunks(), headers={"content-type": ctype})
    assert "content-length" not in r.request.headers  # really streamed, size unknown upfront
    assert_error(r, 413)


def test_a_body_at_the_limit_is_read(client: TestClient) -> None:
    body = b'{"samples": []}'
    body += b" " * (LIMIT - len(body))
    r = client.post("/api/v1/samples", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 0, "rejected": []}


# -- bad bodies, endpoint by endpoint ------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "field"), JSON_POSTS)
def test_every_json_post_names_the_bad_field(
    client: TestClient, path: str, body: Any, field: str
) -> None:
    if path.startswith("/api/v1/alerts/"):
        post_alert(client)  # alert 1 exists: the 400 is about the body, not the id
    assert_error(client.post(path, json=body), 400, field)


def test_remote_write_garbage_is_400_naming_the_body(client: TestClient) -> None:
    r = client.post(
        "/api/v1/write",
        content=b"\x00garbage\xff",
        headers={"content-type": "application/x-protobuf"},
    )
    assert "snappy" in assert_error(r, 400, "body")["message"]


def test_remote_write_accepts_a_real_write_request(client: TestClient) -> None:
    body = encode_write_request([Sample("cpu_percent", {"service": "db"}, NOW - 30, 41.5)])
    r = client.post(
        "/api/v1/write", content=body, headers={"content-type": "application/x-protobuf"}
    )
    assert r.status_code == 204, r.text
    assert r.content == b""


def test_remote_write_names_the_series_of_a_sample_outside_the_window(client: TestClient) -> None:
    """Timestamps in seconds where remote_write sends milliseconds land in 1970: the error
    says which series (as PromQL writes it), not a position in the request."""
    old = Sample("cpu_percent", {"service": "db", "pod": "db-0"}, (NOW - 30) / 1000, 41.5)
    body = encode_write_request([old])
    r = client.post(
        "/api/v1/write", content=body, headers={"content-type": "application/x-protobuf"}
    )
    message = assert_error(r, 400)["message"]
    assert message.startswith(
        '1 samples refused, none kept; first: cpu_percent{pod="db-0",service="db"} at '
        "1699999.970: more than 1h in the past"
    ), message


def test_samples_with_bad_items_keep_the_good_ones(client: TestClient) -> None:
    before = ingested(client)
    bad = sample(1.0)
    bad.pop("metric")
    body = {"samples": [sample(120.0), sample("NaN", NOW - 50), bad, sample(121.0, NOW - 40)]}
    r = client.post("/api/v1/samples", json=body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["accepted"] == 2
    assert [x["index"] for x in answer["rejected"]] == [1, 2]
    assert answer["rejected"][0]["error"].startswith("samples[1].value: must be a finite number")
    assert "samples[2].metric: required" in answer["rejected"][1]["error"]
    assert ingested(client) == before + 2


def test_samples_far_in_the_past_or_future_are_rejected_with_the_reason(
    client: TestClient,
) -> None:
    body = {"samples": [sample(1.0, NOW - 7200), sample(2.0, NOW + 3600), sample(3.0, NOW)]}
    answer = client.post("/api/v1/samples", json=body).json()
    assert answer["accepted"] == 1
    past, future = (x["error"] for x in answer["rejected"])
    assert past.startswith("samples[0].timestamp: more than 1h in the past")
    assert "anomalert replay" in past
    assert future.startswith("samples[1].timestamp: more than 5m in the future")


def test_the_time_window_follows_the_config(make_client: Factory) -> None:
    client, _ = make_client({"max_sample_age": "3d", "max_sample_future": "1m"})
    body = {"samples": [sample(1.0, NOW - 2 * 86400), sample(2.0, NOW + 120)]}
    answer = client.post("/api/v1/samples", json=body).json()
    assert answer["accepted"] == 1
    assert answer["rejected"][0]["error"].startswith("samples[1].timestamp: more than 1m in")


def test_records_events_and_alerts_name_each_bad_item(client: TestClient) -> None:
    r = client.post("/api/v1/records", json=[{"service": "checkout", "timestamp": NOW}])
    assert r.json()["accepted"] == 0
    assert "records[0].error_rate: required" in r.json()["rejected"][0]["error"]
    event = {"kind": "deployment", "service": "checkout", "timestamp": NOW, "version": "1.2"}
    r = client.post("/api/v1/events", json=[event, {**event, "kind": "reboot"}])
    answer = r.json()
    assert answer["accepted"] == 1 and len(answer["ids"]) == 1
    assert answer["rejected"][0]["error"].startswith("events[1].kind: must be one of")
    r = client.post("/api/v2/alerts", json=[{"labels": {}}])
    assert r.json()["rejected"] == [{"index": 0, "error": "alerts[0].labels: must not be empty"}]


def test_silence_errors_name_the_field(client: TestClient) -> None:
    matcher = {"name": "service", "value": "checkout", "isRegex": False}
    r = client.post("/api/v2/silences", json={"matchers": [matcher], "endsAt": "soon"})
    assert_error(r, 400, "endsAt")
    r = client.post("/api/v2/silences", json={"matchers": [matcher], "endsAt": NOW + 60, "x": 1})
    assert_error(r, 400, "x")
    r = client.post("/api/v2/silences", json={"matchers": [{"name": "service"}]})
    assert_error(r, 400, "matchers[0].value")
    r = client.post("/api/v2/silences", json={"id": "nope", "matchers": [matcher], "endsAt": NOW})
    assert_error(r, 404, "id")
    assert_error(client.get("/api/v2/silence/nope"), 404, "silence_id")
    assert_error(client.delete("/api/v2/silence/nope"), 404, "silence_id")


def test_ack_and_feedback_on_an_unknown_alert_are_404(client: TestClient) -> None:
    assert_error(client.post("/api/v1/alerts/999/ack", json={"by": "ana"}), 404, "alert_id")
    r = client.post("/api/v1/alerts/999/feedback", json={"helpful": True})
    assert_error(r, 404, "alert_id")
    assert_error(client.get("/api/v1/alerts/999"), 404, "alert_id")
    assert_error(client.get("/api/v1/alerts/abc"), 400, "alert_id")


def test_ack_and_feedback_name_unknown_or_missing_fields(client: TestClient) -> None:
    alert_id = post_alert(client)
    assert_error(client.post(f"/api/v1/alerts/{alert_id}/ack", json={"who": "x"}), 400, "who")
    assert_error(client.post(f"/api/v1/alerts/{alert_id}/feedback", json={}), 400, "helpful")
    assert_error(client.post(f"/api/v1/alerts/{alert_id}/feedback", json=[1]), 400, "body")


def test_the_happy_paths_answer_as_documented(client: TestClient) -> None:
    alert_id = post_alert(client)
    r = client.post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "ana"})
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "ana"
    r = client.post(f"/api/v1/alerts/{alert_id}/feedback", json={"helpful": False, "comment": "x"})
    assert r.status_code == 200
    assert r.json()["alert_id"] == alert_id and r.json()["helpful"] is False
    detail = client.get(f"/api/v1/alerts/{alert_id}").json()
    assert [h["kind"] for h in detail["history"]][-3:] == ["ack", "feedback", "sensitivity"]
    matcher = {"name": "service", "value": "checkout", "isRegex": False}
    r = client.post("/api/v2/silences", json={"matchers": [matcher], "endsAt": NOW + 3600})
    silence_id = r.json()["silenceID"]
    assert client.get(f"/api/v2/silence/{silence_id}").json()["status"] == {"state": "active"}
    assert client.delete(f"/api/v2/silence/{silence_id}").json()["status"] == "expired"


def test_a_firing_external_alert_shows_when_it_expires(client: TestClient) -> None:
    """Its ``endsAt``, or ``ingest.alerts.resolve_timeout`` (5 minutes) after it was sent;
    resolved, none (until 2026-12-07 the list did not say)."""
    labels = {"alertname": "DiskFull", "service": "db"}
    client.post("/api/v2/alerts", json=[{"labels": labels, "endsAt": rfc3339(NOW + 600)}])
    post_alert(client, expected=2)
    by_name = {a["labels"]["alertname"]: a for a in client.get("/api/v1/alerts").json()["alerts"]}
    assert by_name["DiskFull"]["expires_at"] == rfc3339(NOW + 600)
    assert by_name["HighLatency"]["expires_at"] == rfc3339(NOW + 300)
    client.post("/api/v2/alerts", json=[{"labels": labels, "endsAt": rfc3339(NOW - 1)}])
    (resolved,) = client.get("/api/v1/alerts?state=resolved").json()["alerts"]
    assert resolved["expires_at"] is None


# -- query validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("state=open", "state"),
        ("severity=P9", "severity"),
        ("before=0", "before"),
    ],
)
def test_query_parameters_are_validated(client: TestClient, query: str, field: str) -> None:
    err = assert_error(client.get(f"/api/v1/alerts?{query}"), 400, field)
    assert err["message"].startswith(f"{field}: ")


def test_outbox_query_is_validated(client: TestClient) -> None:
    assert_error(client.get("/api/v1/outbox?status=lost"), 400, "status")


# -- tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WRITE_POSTS + ADMIN_POSTS)
def test_writes_without_a_token_are_401(guarded: TestClient, path: str) -> None:
    err = assert_error(guarded.post(path, json={}), 401)
    assert "Bearer" in err["message"]


@pytest.mark.parametrize("path", WRITE_POSTS + ADMIN_POSTS)
def test_writes_with_a_wrong_token_are_403(guarded: TestClient, path: str) -> None:
    for wrong in (f"{WRITE}x", WRITE[:-1], "nope"):
        r = guarded.post(path, json={}, headers={"Authorization": f"Bearer {wrong}"})
        assert "is not" in assert_error(r, 403)["message"]
    # Another scheme carries no bearer token at all: that is the 401 case.
    assert_error(guarded.post(path, json={}, headers={"Authorization": f"Basic {WRITE}"}), 401)


@pytest.mark.parametrize("path", ADMIN_POSTS)
def test_a_write_token_is_not_enough_for_admin_actions(guarded: TestClient, path: str) -> None:
    r = guarded.post(path, json={}, headers={"Authorization": f"Bearer {WRITE}"})
    assert "admin token" in assert_error(r, 403)["message"]
    r = guarded.delete("/api/v2/silence/x", headers={"Authorization": f"Bearer {WRITE}"})
    assert_error(r, 403)
    assert_error(guarded.delete("/api/v2/silence/x"), 401)


def test_the_right_tokens_pass(guarded: TestClient) -> None:
    write = {"Authorization": f"Bearer {WRITE}"}
    admin = {"Authorization": f"bearer  {ADMIN} "}  # scheme in any case, spaces trimmed
    r = guarded.post("/api/v1/samples", json={"samples": [sample(1.0)]}, headers=write)
    assert r.json() == {"accepted": 1, "rejected": []}
    r = guarded.post("/api/v1/samples", json={"samples": [sample(2.0, NOW)]}, headers=admin)
    assert r.json()["accepted"] == 1  # an admin token may write too
    alert_id = post_alert(guarded, write)
    r = guarded.post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "ana"}, headers=admin)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", READS)
def test_reads_need_no_token(guarded: TestClient, path: str) -> None:
    assert guarded.get(path).status_code == 200


def test_no_token_or_secret_ever_comes_back(make_client: Factory) -> None:
    """Tokens, a secret webhook URL and its bearer token, through every answer we can make,
    including the error a receiver sent back quoting our credentials to us."""
    calls: list[httpx.Request] = []

    def echo(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        quoted = f"denied {request.url} with {request.headers.get('authorization')}"
        return httpx.Response(401, text=quoted)

    hook = {"name": "hook", "webhook": {"url": HOOK, "bearer_token": HOOK_BEARER}}
    client, app = make_client(
        {"write_tokens": [WRITE], "admin_tokens": [ADMIN]}, [hook], httpx.MockTransport(echo)
    )
    write = {"Authorization": f"Bearer {WRITE}"}
    admin = {"Authorization": f"Bearer {ADMIN}"}
    answers = [
        client.post("/api/v1/samples", json={"samples": []}, headers={"Authorization": WRITE}),
        client.post("/api/v1/samples", json={"samples": []}, headers={"Authorization": ADMIN}),
        client.post("/api/v1/alerts/1/ack", json={"by": 1}, headers={"X-Token": ADMIN}),
        client.post("/api/v2/silences", json={"comment": ADMIN}, headers=write),
    ]
    alert_id = post_alert(client, write)
    assert isinstance(app.clock, EventClock)
    app.clock.advance(NOW + 60)  # past group_wait
    app.tick()
    app.deliver()
    assert calls, "the webhook was not called: nothing was tested"
    assert calls[0].headers["authorization"] == f"Bearer {HOOK_BEARER}"
    (item,) = client.get("/api/v1/outbox").json()["items"]
    assert item["status"] == "failed" and "HTTP 401" in item["last_error"]
    r = client.post(f"/api/v1/alerts/{alert_id}/ack", json={"by": "ana"}, headers=admin)
    answers.append(r)
    answers += [client.get(path) for path in [*READS, f"/api/v1/alerts/{alert_id}"]]
    answers += [client.get("/openapi.json")]
    for r in answers:
        for secret in SECRETS:
            assert secret not in r.text, f"{r.request.method} {r.request.url.path} leaks"
            assert all(secret not in v for v in r.headers.values())


# -- the reference stays complete ----------------------------------------------------------


def test_every_route_is_in_the_api_reference(make_client: Factory) -> None:
    client, _ = make_client()
    api = client.app
    assert isinstance(api, FastAPI)
    paths = api.openapi()["paths"]  # every route the routers declare, whatever their nesting
    assert len(paths) >= 15
    doc = re.sub(r"\{[^}]*\}", "{}", API_DOC.read_text())
    missing = [
        f"{method.upper()} {path}"
        for path, methods in paths.items()
        for method in methods
        if f"`{method.upper()} {re.sub(r'{[^}]*}', '{}', path)}`" not in doc
    ]
    assert not missing, f"undocumented in docs/api.md: {missing}"
