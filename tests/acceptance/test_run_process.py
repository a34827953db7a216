"""The real ``anomalert run`` process, end to end: HTTP in, alert out, across restarts and crashes.

Each test starts the installed script on 127.0.0.1 and a free port with its own database
(a temporary SQLite file, or a fresh database on a real PostgreSQL server), talks to it over
real HTTP, and receives its notifications on a real webhook endpoint. The timeline is the
wall clock: samples are stamped "now minus k minutes", which the config's one-day live
window accepts, and the group timers are a second or two so the test waits seconds, not
minutes.
"""

from __future__ import annotations

import math
import random
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.alertmanager import Sink, webhook_sink
from tests.support.postgres import create_database, postgres_server
from tests.support.procs import free_port, wait_until
from tests.support.service import (
    Service,
    anomalert_run,
    run_cli,
    service_config,
    sqlite_url,
    write_config,
)

SERVICE = "checkout"
METRIC = "latency_p99_ms"
CALM_MINUTES = 295
CALM_LEVEL = 200.0
#: The incident: five minutes at ten times the usual level. A lone point would stay P3 on the
#: dashboard (``notify_after``, 3 minutes by default); an anomaly that lasts pages.
SPIKE = 2000.0
SPIKE_MINUTES = 5
#: group_wait is 1 s and the loops pass every second: a notification is due within ~2 s. The
#: bound is generous (a CI machine running the evaluation beside the suite once took over
#: 8 s to post a resolve); it only tells "sent by the loops" from "stuck", not a speed.
NOTIFY_WITHIN = 20.0
ZERO_TIME = "0001-01-01T00:00:00Z"
#: A graceful stop: uvicorn shuts down, then re-raises the SIGTERM it caught.
STOPPED = (0, -signal.SIGTERM)


@pytest.fixture(scope="module")
def postgres_admin_url() -> Iterator[str]:
    """A real PostgreSQL server for this module (its maintenance database's URL)."""
    with postgres_server(database="anomalert_run") as url:
        yield url


@pytest.fixture
def sink() -> Iterator[Sink]:
    """The webhook endpoint the service notifies (records every POST)."""
    with webhook_sink() as s:
        yield s


# -- the timeline ----------------------------------------------------------------------------


def sample(t: float, value: float, service: str = SERVICE) -> dict[str, Any]:
    return {"metric": METRIC, "labels": {"service": service}, "timestamp": t, "value": value}


def calm_history(start: float, service: str = SERVICE) -> list[dict[str, Any]]:
    """Quiet hours from ``start``, one sample a minute (seeded noise)."""
    rng = random.Random(7)
    return [
        sample(start + 60.0 * i, CALM_LEVEL + rng.gauss(0.0, 5.0), service)
        for i in range(CALM_MINUTES)
    ]


def push(svc: Service, samples: list[dict[str, Any]], token: str | None = None) -> None:
    r = svc.post("/api/v1/samples", {"samples": samples}, token=token)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": len(samples), "rejected": []}


def push_incident(svc: Service) -> float:
    """Calm history, then a tenfold spike for the last minutes up to now; returns now."""
    now = time.time()
    start = now - (CALM_MINUTES + SPIKE_MINUTES - 1) * 60.0
    push(svc, calm_history(start))
    push(svc, [sample(start + 60.0 * (CALM_MINUTES + i), SPIKE) for i in range(SPIKE_MINUTES)])
    return now


def alerts_of(svc: Service) -> list[dict[str, Any]]:
    r = svc.get("/api/v1/alerts", params={"service": SERVICE})
    assert r.status_code == 200, r.text
    return [a for a in r.json()["alerts"] if a["metric"] == METRIC]


def firing_posts(sink: Sink, fingerprint: str) -> list[dict[str, Any]]:
    """Webhook bodies that announce ``fingerprint`` as firing."""
    return [
        body
        for body in sink.bodies()
        if body["status"] == "firing"
        and any(a["fingerprint"] == fingerprint and a["status"] == "firing" for a in body["alerts"])
    ]


def wait_for_firing(sink: Sink, fingerprint: str, since: float) -> dict[str, Any]:
    wait_until(lambda: bool(firing_posts(sink, fingerprint)), NOTIFY_WITHIN, "notification")
    assert time.time() - since < NOTIFY_WITHIN
    return firing_posts(sink, fingerprint)[0]


def metric_samples(svc: Service) -> dict[str, list[tuple[dict[str, str], float]]]:
    """/metrics parsed: sample name -> [(labels, value)]."""
    r = svc.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def ready_series(svc: Service) -> int:
    r = svc.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    return int(body["series"])


# -- the first scenario, on any database -----------------------------------------------------


def check_spike_raises_explained_alert(svc: Service, sink: Sink) -> dict[str, Any]:
    """Health, ingest, a firing alert with its context, the webhook, the self-metrics."""
    assert svc.get("/healthz").json() == {"status": "ok"}
    assert ready_series(svc) == 0
    assert "anomalert_samples_ingested_total" in svc.get("/metrics").text

    spiked_at = push_incident(svc)

    alerts = alerts_of(svc)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert["state"] == "firing"
    assert alert["service"] == SERVICE and alert["labels"]["service"] == SERVICE
    assert alert["source"] == "anomaly" and alert["mode"] == "alerting"
    assert alert["score"] >= 0.9
    assert METRIC in alert["reason"] and "above" in alert["reason"], alert["reason"]

    detail = svc.get(f"/api/v1/alerts/{alert['id']}").json()
    context = detail["context"]
    times, values = context["window"]["times"], context["window"]["values"]
    assert len(times) == len(values) >= 8
    assert times == sorted(times) and times[-1] == pytest.approx(spiked_at)
    assert values[-1] == pytest.approx(SPIKE)
    calm = [v for v in values if not math.isnan(v) and v != SPIKE]
    assert calm and all(abs(v - CALM_LEVEL) < 40 for v in calm)
    lower, upper = context["band"]
    assert lower < CALM_LEVEL < upper < SPIKE
    assert context["value"] == pytest.approx(SPIKE)
    assert [h["kind"] for h in detail["history"]][:1] == ["state"]

    body = wait_for_firing(sink, alert["fingerprint"], spiked_at)
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["groupLabels"] == {"service": SERVICE}
    assert body["commonLabels"]["service"] == SERVICE
    assert {"groupKey", "receiver", "externalURL", "truncatedAlerts"} <= body.keys()
    (sent,) = body["alerts"]
    assert sent["labels"]["metric"] == METRIC
    assert sent["annotations"]["summary"] == alert["reason"]
    assert sent["endsAt"] == ZERO_TIME and sent["startsAt"].endswith("Z")

    metrics = metric_samples(svc)
    assert metrics["anomalert_samples_ingested_total"] == [
        ({"source": "json"}, float(CALM_MINUTES + SPIKE_MINUTES))
    ]
    scores = dict(
        (tuple(sorted(labels.items())), v) for labels, v in metrics["anomalert_anomaly_score"]
    )
    assert scores[(("anomalert_metric", METRIC), ("service", SERVICE))] >= 0.9
    return alert


def test_spike_alert_end_to_end_on_sqlite(tmp_path: Path, sink: Sink) -> None:
    config = write_config(tmp_path / "anomalert.yaml", service_config(sink.url))
    with anomalert_run(config, tmp_path / "run.log", db=sqlite_url(tmp_path)) as svc:
        check_spike_raises_explained_alert(svc, sink)
        assert svc.stop() in STOPPED


def test_spike_alert_end_to_end_on_postgresql(
    tmp_path: Path, sink: Sink, postgres_admin_url: str
) -> None:
    db = create_database(postgres_admin_url, f"run_{uuid.uuid4().hex[:12]}")
    config = write_config(tmp_path / "anomalert.yaml", service_config(sink.url))
    with anomalert_run(config, tmp_path / "run.log", db=db) as svc:
        alert = check_spike_raises_explained_alert(svc, sink)
        assert svc.stop() in STOPPED
    # the state is in PostgreSQL, not in a local file: a second start reads it back
    with anomalert_run(config, tmp_path / "run2.log", db=db) as svc:
        assert [a["id"] for a in alerts_of(svc)] == [alert["id"]]
        assert ready_series(svc) == 1
    assert not list(tmp_path.rglob("*.db"))


# -- restarts and crashes --------------------------------------------------------------------


def test_sigterm_restart_resumes_without_duplicate_page(tmp_path: Path, sink: Sink) -> None:
    config = write_config(tmp_path / "anomalert.yaml", service_config(sink.url))
    db = sqlite_url(tmp_path)
    with anomalert_run(config, tmp_path / "run1.log", db=db) as svc:
        spiked_at = push_incident(svc)
        (alert,) = alerts_of(svc)
        wait_for_firing(sink, alert["fingerprint"], spiked_at)
        series = ready_series(svc)
        assert series == 1
        assert svc.stop() in STOPPED

    with anomalert_run(config, tmp_path / "run2.log", db=db) as svc:
        # detector state came back: the checkpoint interval is a minute, so only the
        # checkpoint taken on SIGTERM can have saved it
        assert ready_series(svc) == series
        (again,) = alerts_of(svc)
        assert again["id"] == alert["id"] and again["state"] == "firing"
        assert again["starts_at"] == alert["starts_at"]
        # The spike goes on: with the policy and pipeline state restored this is the same
        # episode of the same alert, already notified; a lost state would page again.
        push(svc, [sample(time.time(), SPIKE)])
        time.sleep(5.0)  # group_interval (2 s) twice, plus a loop pass
        assert len(firing_posts(sink, alert["fingerprint"])) == 1, sink.bodies()
        assert [a["id"] for a in alerts_of(svc)] == [alert["id"]]
        notes = [
            h
            for h in svc.get(f"/api/v1/alerts/{alert['id']}").json()["history"]
            if h["kind"] == "notification" and h["detail"]["status"] == "firing"
        ]
        assert len(notes) == 1, notes


def resolved_posts(sink: Sink, fingerprint: str) -> list[dict[str, Any]]:
    """Webhook bodies that announce ``fingerprint`` as resolved."""
    return [
        body
        for body in sink.bodies()
        if any(
            a["fingerprint"] == fingerprint and a["status"] == "resolved" for a in body["alerts"]
        )
    ]


def test_sigkill_restart_keeps_history_and_resolves_the_alert(tmp_path: Path, sink: Sink) -> None:
    # The series goes silent after the spike: ``stale`` seconds later its alert must resolve,
    # whether or not the process crashed in between (the default checkpoint interval, a
    # minute, means no checkpoint was written before the crash).
    stale = 10.0
    defaults = {"stale_after": f"{stale:.0f}s"}
    config = write_config(tmp_path / "anomalert.yaml", service_config(sink.url, defaults=defaults))
    db = sqlite_url(tmp_path)
    with anomalert_run(config, tmp_path / "run1.log", db=db) as svc:
        spiked_at = push_incident(svc)
        (alert,) = alerts_of(svc)
        wait_for_firing(sink, alert["fingerprint"], spiked_at)
        wait_until(
            lambda: svc.get("/api/v1/outbox", params={"status": "sent"}).json()["items"],
            NOTIFY_WITHIN,
            "outbox record of the delivery",
        )
        before = svc.get(f"/api/v1/alerts/{alert['id']}").json()
        assert before["state"] == "firing"
        assert svc.kill() == -signal.SIGKILL

    with anomalert_run(config, tmp_path / "run2.log", db=db) as svc:
        assert svc.get("/healthz").status_code == 200
        ready_series(svc)
        after = svc.get(f"/api/v1/alerts/{alert['id']}").json()
        for key in ("fingerprint", "labels", "annotations", "starts_at", "reason", "context"):
            got = after[key]
            if key == "annotations":  # on a slow start it may have resolved as stale already
                got = {k: v for k, v in got.items() if k != "stale"}
            assert got == before[key], key
        assert after["history"][: len(before["history"])] == before["history"]
        assert {h["kind"] for h in before["history"]} >= {"state", "notification"}
        (sent,) = svc.get("/api/v1/outbox", params={"status": "sent"}).json()["items"]
        assert sent["receiver"].startswith("hook")

        def resolved() -> bool:
            return bool(svc.get(f"/api/v1/alerts/{alert['id']}").json()["state"] == "resolved")

        wait_until(
            resolved,
            spiked_at + stale + NOTIFY_WITHIN - time.time(),
            "stale resolve of the alert the crash orphaned",
        )
        wait_until(
            lambda: bool(resolved_posts(sink, alert["fingerprint"])),
            NOTIFY_WITHIN,
            "resolved notification",
        )
        assert len(firing_posts(sink, alert["fingerprint"])) == 1  # nothing sent twice


# -- security --------------------------------------------------------------------------------


def test_refuses_public_address_without_tokens(tmp_path: Path) -> None:
    config = write_config(tmp_path / "anomalert.yaml", service_config())
    port = free_port()
    done = run_cli("run", "--config", config, "--port", str(port), "--host", "0.0.0.0")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "0.0.0.0" in lines[0] and "token" in lines[0], done.stderr

    public = service_config(server={"host": "0.0.0.0", "port": port})
    done = run_cli("run", "--config", write_config(tmp_path / "public.yaml", public))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "server.host" in lines[0] and "token" in lines[0], done.stderr


def test_tokens_guard_writes_and_stay_secret(tmp_path: Path) -> None:
    server = {
        "host": "127.0.0.1",
        "max_sample_age": "1d",
        "write_tokens": ["w-8f3e1c2d"],
        "admin_tokens": ["a-5b7d9e0f"],
    }
    config = write_config(tmp_path / "anomalert.yaml", service_config(server=server))
    with anomalert_run(config, tmp_path / "run.log", db=sqlite_url(tmp_path)) as svc:
        body = {"samples": [sample(time.time(), 1.0)]}
        r = svc.post("/api/v1/samples", body)
        assert r.status_code == 401
        assert r.json()["error"]["status"] == 401 and r.json()["error"]["code"] == "unauthorized"
        assert svc.post("/api/v1/samples", body, token="not-a-token").status_code == 403
        r = svc.post("/api/v1/samples", body, token="w-8f3e1c2d")
        assert r.status_code == 200 and r.json()["accepted"] == 1
        silence = {
            "matchers": [{"name": "service", "value": SERVICE, "isRegex": False}],
            "endsAt": time.time() + 600,
        }
        assert svc.post("/api/v2/silences", silence, token="w-8f3e1c2d").status_code == 403
        r = svc.post("/api/v2/silences", silence, token="a-5b7d9e0f")
        assert r.status_code == 200 and r.json()["silenceID"]
        assert svc.get("/api/v1/alerts").status_code == 200  # reading stays open
        assert svc.stop() in STOPPED
    log = svc.output()
    assert "w-8f3e1c2d" not in log and "a-5b7d9e0f" not in log
