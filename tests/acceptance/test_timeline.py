"""Timeline acceptance tests: the real app and API on a clock the test moves (STYLE.md §7).

Samples go in through ``POST /api/v1/samples`` at event time t; after each step the app
ticks and delivers, so a notification is received (by a real HTTP webhook endpoint) at the
step where the pipeline decides to send it. Every test asserts *when* things happen: not
before their window, within it, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.store import Store
from tests.support.alertmanager import Sink, webhook_sink

T0 = 1_767_600_000.0  # a Monday, 2026-01-05 08:00 UTC
MIN = 60.0
SPIKE_AT = 300  # minutes of calm history before the first anomaly


class Timeline:
    """The app, its API, its clock and what each receiver got, minute by minute."""

    def __init__(self, tmp: Path, config: dict[str, Any], sinks: dict[str, Sink]) -> None:
        self.tmp = tmp
        self.config = parse_config(config)
        self.sinks = sinks
        self.clock = EventClock(T0)
        self.rng = np.random.default_rng(1)
        self.received: dict[str, list[tuple[float, dict[str, Any]]]] = {n: [] for n in sinks}
        self._open()

    def _open(self) -> None:
        self.store = Store.open(f"sqlite:///{self.tmp}/anomalert.db")
        self.app = App(self.config, self.store, clock=self.clock)
        self.api = TestClient(create_api(self.app))

    def restart(self) -> None:
        """Stop (checkpoint) and start a new app on the same database."""
        self.app.checkpoint()
        self.store.close()
        self._open()

    def crash_restart(self) -> None:
        """Lose the process without a final checkpoint; start again on the same database."""
        self.store.close()
        self._open()

    def minute(self, m: float, values: dict[tuple[str, str], float] | None = None) -> None:
        """Move to minute m, post the values of that minute, tick and deliver."""
        t = T0 + m * MIN
        self.clock.advance(t)
        if values:
            body = {
                "samples": [
                    {"metric": metric, "labels": {"service": svc}, "timestamp": t, "value": v}
                    for (svc, metric), v in values.items()
                ]
            }
            answer = self.api.post("/api/v1/samples", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["rejected"] == []
        self.app.tick()
        self.app.deliver()
        for name, sink in self.sinks.items():
            got = sink.bodies()
            for body in got[len(self.received[name]) :]:
                self.received[name].append((m, body))

    def calm(self, series: list[tuple[str, str]], start: float, end: float) -> None:
        """Normal minutes: noise around 100."""
        for m in range(int(start), int(end)):
            self.minute(m, {s: 100.0 + self.rng.normal(0, 3) for s in series})

    def notes(self, receiver: str) -> list[tuple[float, str, int]]:
        """(minute, status, number of alerts) of each webhook message a receiver got."""
        return [(m, b["status"], len(b["alerts"])) for m, b in self.received[receiver]]


def base_config(urls: dict[str, str], **extra: Any) -> dict[str, Any]:
    """Five hours of calm history come before the first anomaly: a series may alert after
    an hour (``detection.min_age``, a day by default)."""
    config: dict[str, Any] = {
        "detection": {"min_age": "1h"},
        "services": {"checkout": {"criticality": "high"}, "search": {"criticality": "high"}},
        "route": {
            "receiver": "team",
            "group_by": ["incident"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
        },
        "receivers": [{"name": name, "webhook": {"url": url}} for name, url in urls.items()],
    }
    config.update(extra)
    return config


@contextlib.contextmanager
def timeline(tmp: Path, names: tuple[str, ...] = ("team",), **extra: Any) -> Iterator[Timeline]:
    with contextlib.ExitStack() as stack:
        sinks = {n: stack.enter_context(webhook_sink()) for n in names}
        yield Timeline(tmp, base_config({n: s.url for n, s in sinks.items()}, **extra), sinks)


LATENCY = ("checkout", "latency_p99_ms")
ERRORS = ("checkout", "error_rate")
SEARCH = ("search", "latency_p99_ms")


def incident(tl: Timeline, series: list[tuple[str, str]], start: int, minutes: int) -> None:
    """Every listed series five times its normal for ``minutes``; the others calm."""
    for m in range(start, start + minutes):
        tl.minute(m, {s: 500.0 + tl.rng.normal(0, 5) for s in series})


def test_an_anomaly_notifies_once_grouped_then_resolves(tmp_path: Path) -> None:
    with timeline(tmp_path) as tl:
        both = [LATENCY, ERRORS]
        tl.calm(both, 0, SPIKE_AT)
        assert tl.notes("team") == []  # a calm week of learning pages nobody
        incident(tl, both, SPIKE_AT, 8)
        tl.calm(both, SPIKE_AT + 8, SPIKE_AT + 40)
        notes = tl.notes("team")
        # notify_after (3 min) + group_wait (30 s): the first message at +3..+4 minutes,
        # both series of the service in ONE message; the resolve after 10 calm minutes,
        # at the next group_interval.
        assert notes[0][1:] == ("firing", 2)
        assert SPIKE_AT + 3 <= notes[0][0] <= SPIKE_AT + 4
        assert [n[1] for n in notes] == ["firing", "resolved"]
        assert SPIKE_AT + 8 + 10 <= notes[1][0] <= SPIKE_AT + 8 + 10 + 5
        alerts = tl.api.get("/api/v1/alerts", params={"service": "checkout"}).json()["alerts"]
        assert {a["metric"] for a in alerts} == {"latency_p99_ms", "error_rate"}
        assert all(a["state"] == "resolved" and a["severity"] == "P1" for a in alerts)
        detail = tl.api.get(f"/api/v1/alerts/{alerts[0]['id']}").json()
        assert detail["context"]["window"]["values"]  # explained without a metrics database
        assert [h["detail"]["status"] for h in detail["notifications"]] == ["firing", "resolved"]
        # each alert of the message links to its own "Explain this alert" page
        links = {
            a["labels"]["metric"]: a["generatorURL"] for a in tl.received["team"][0][1]["alerts"]
        }
        for a in alerts:
            path = links[a["metric"]].removeprefix(tl.config.server.link_base)
            r = tl.api.get(path, follow_redirects=False)
            assert (r.status_code, r.headers["location"]) == (303, f"../{a['id']}")


def test_a_one_point_blip_never_notifies(tmp_path: Path) -> None:
    with timeline(tmp_path) as tl:
        tl.calm([LATENCY], 0, SPIKE_AT)
        incident(tl, [LATENCY], SPIKE_AT, 1)
        tl.calm([LATENCY], SPIKE_AT + 1, SPIKE_AT + 30)
        assert tl.notes("team") == []
        [alert] = tl.api.get("/api/v1/alerts").json()["alerts"]
        assert alert["severity"] == "P3" and alert["state"] == "resolved"  # on the dashboard


def test_related_services_page_as_one_incident(tmp_path: Path) -> None:
    services = {
        "checkout": {"criticality": "high", "depends_on": ["search"]},
        "search": {"criticality": "high"},
    }
    with timeline(tmp_path, services=services) as tl:
        tl.calm([LATENCY, SEARCH], 0, SPIKE_AT)
        incident(tl, [SEARCH], SPIKE_AT, 2)
        incident(tl, [SEARCH, LATENCY], SPIKE_AT + 2, 8)
        tl.calm([LATENCY, SEARCH], SPIKE_AT + 10, SPIKE_AT + 40)
        firing = [b for _, b in tl.received["team"] if b["status"] == "firing"]
        assert len({b["groupKey"] for b in firing}) == 1
        assert {a["labels"]["service"] for b in firing for a in b["alerts"]} == {
            "checkout",
            "search",
        }
        assert firing[0]["commonLabels"]["origin"] == "search"


def test_a_silence_mutes_then_expiring_it_lets_the_alert_through(tmp_path: Path) -> None:
    with timeline(tmp_path) as tl:
        tl.calm([LATENCY], 0, SPIKE_AT)
        created = tl.api.post(
            "/api/v2/silences",
            json={
                "matchers": [{"name": "service", "value": "checkout", "isRegex": False}],
                "startsAt": T0 + SPIKE_AT * MIN,
                "endsAt": T0 + (SPIKE_AT + 60) * MIN,
                "createdBy": "ana",
                "comment": "planned failover",
            },
        )
        assert created.status_code == 200, created.text
        silence_id = created.json()["silenceID"]
        incident(tl, [LATENCY], SPIKE_AT, 20)
        assert tl.notes("team") == []
        [alert] = tl.api.get("/api/v1/alerts").json()["alerts"]
        assert tl.api.get(f"/api/v1/alerts/{alert['id']}").json()["muted_by"] == [silence_id]
        assert tl.api.delete(f"/api/v2/silence/{silence_id}").status_code == 200
        incident(tl, [LATENCY], SPIKE_AT + 20, 6)
        notes = tl.notes("team")
        assert [n[1] for n in notes] == ["firing"]
        assert SPIKE_AT + 20 <= notes[0][0] <= SPIKE_AT + 26


def test_inhibition_external_alerts_and_their_resolve(tmp_path: Path) -> None:
    inhibit = [
        {
            "source_matchers": ['alertname="ClusterDown"'],
            "target_matchers": ['alertname="ServiceDown"'],
            "equal": ["cluster"],
        }
    ]
    with timeline(tmp_path, inhibit_rules=inhibit) as tl:
        tl.minute(0)

        def post(name: str, cluster: str, ends: float | None = None) -> None:
            alert: dict[str, Any] = {
                "labels": {"alertname": name, "cluster": cluster, "service": "checkout"},
                "annotations": {"summary": f"{name} in {cluster}"},
                "startsAt": T0,
            }
            if ends is not None:
                alert["endsAt"] = ends
            answer = tl.api.post("/api/v2/alerts", json=[alert])
            assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.text

        post("ClusterDown", "eu")
        post("ServiceDown", "eu")  # inhibited: same cluster
        post("ServiceDown", "us")  # not inhibited
        for m in range(1, 4):
            tl.minute(m)
        sent = [a["labels"] for _, b in tl.received["team"] for a in b["alerts"]]
        assert {(x["alertname"], x["cluster"]) for x in sent} == {
            ("ClusterDown", "eu"),
            ("ServiceDown", "us"),
        }


def test_p1_escalates_to_the_next_tier_until_acknowledged(tmp_path: Path) -> None:
    extra = {
        "escalations": [
            {
                "name": "pager",
                "tiers": [
                    {"after": "0m", "receiver": "primary"},
                    {"after": "15m", "receiver": "secondary"},
                    {"after": "30m", "receiver": "lead"},
                ],
            }
        ],
    }
    with timeline(tmp_path, ("team", "primary", "secondary", "lead"), **extra) as tl:
        tl.config = parse_config(
            {
                **base_config({n: s.url for n, s in tl.sinks.items()}, **extra),
                "route": {
                    "receiver": "team",
                    "group_by": ["incident"],
                    "group_wait": "30s",
                    "routes": [
                        {
                            "matchers": ['severity="P1"'],
                            "receiver": "primary",
                            "escalation": "pager",
                        }
                    ],
                },
            }
        )
        tl.restart()
        tl.calm([LATENCY, SEARCH], 0, SPIKE_AT)
        # checkout: nobody acknowledges -> secondary at +15 min, lead at +30. The engine takes
        # the lasting level as its new normal after 30 points, but the page stays open while
        # latency is still beyond the band it broke; it resolves once latency comes back.
        incident(tl, [LATENCY], SPIKE_AT, 45)
        assert all(tl.notes(r)[-1][1] == "firing" for r in ("primary", "secondary", "lead"))
        tl.calm([LATENCY, SEARCH], SPIKE_AT + 45, SPIKE_AT + 70)
        first = tl.notes("primary")[0][0]

        def paged(receiver: str) -> list[float]:
            return [m for m, status, _ in tl.notes(receiver) if status == "firing"]

        assert paged("secondary") == [pytest.approx(first + 15, abs=1)]
        assert paged("lead") == [pytest.approx(first + 30, abs=1)]
        # Whoever was paged hears the resolve.
        assert all(tl.notes(r)[-1][1] == "resolved" for r in ("primary", "secondary", "lead"))


def test_acknowledging_stops_escalation(tmp_path: Path) -> None:
    extra = {
        "escalations": [
            {
                "name": "pager",
                "tiers": [
                    {"after": "0m", "receiver": "primary"},
                    {"after": "15m", "receiver": "secondary"},
                ],
            }
        ],
        "route": {
            "receiver": "primary",
            "group_by": ["incident"],
            "group_wait": "30s",
            "escalation": "pager",
        },
    }
    with timeline(tmp_path, ("primary", "secondary"), **extra) as tl:
        tl.calm([LATENCY], 0, SPIKE_AT)
        incident(tl, [LATENCY], SPIKE_AT, 10)
        [alert] = tl.api.get("/api/v1/alerts").json()["alerts"]
        acked = tl.api.post(f"/api/v1/alerts/{alert['id']}/ack", json={"by": "ana"})
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "ana"
        incident(tl, [LATENCY], SPIKE_AT + 10, 30)
        assert tl.notes("secondary") == []
        assert [n[1] for n in tl.notes("primary")][:1] == ["firing"]


@pytest.mark.parametrize("crash", [False, True])
def test_a_restart_in_the_middle_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, crash: bool
) -> None:
    with timeline(tmp_path, storage={"checkpoint_interval": "1h"}) as tl:
        tl.calm([LATENCY], 0, SPIKE_AT)
        tl.app.checkpoint()  # the learned history survives
        incident(tl, [LATENCY], SPIKE_AT, 6)
        assert [n[1] for n in tl.notes("team")] == ["firing"]
        if crash:
            tl.crash_restart()  # back to the checkpoint before the incident
        else:
            tl.restart()
        incident(tl, [LATENCY], SPIKE_AT + 6, 4)
        tl.calm([LATENCY], SPIKE_AT + 10, SPIKE_AT + 40)
        # The same alert, one firing page, one resolve: the replayed minutes after a crash
        # produce the same notification keys, which the outbox already holds.
        assert [n[1] for n in tl.notes("team")] == ["firing", "resolved"]
        alerts = tl.api.get("/api/v1/alerts").json()["alerts"]
        assert len(alerts) == 1 and alerts[0]["state"] == "resolved"


@pytest.mark.parametrize("crash", [False, True])
def test_a_crash_after_messages_the_checkpoint_missed_still_tells_what_changes_next(
    tmp_path: Path, crash: bool
) -> None:
    """The checkpoint is older than two messages about one group; after the crash, the
    group's next change (one alert resolving while the other fires) is news: told once,
    and what was told before the crash is not told again."""
    with timeline(tmp_path, storage={"checkpoint_interval": "1h"}) as tl:
        both = [LATENCY, ERRORS]
        tl.calm(both, 0, SPIKE_AT)
        tl.app.checkpoint()
        for m in range(SPIKE_AT, SPIKE_AT + 12):
            high = [LATENCY] if m < SPIKE_AT + 5 else both
            values = {s: (500.0 if s in high else 100.0) + tl.rng.normal(0, 3) for s in both}
            tl.minute(m, values)
        before = [(n[1], n[2]) for n in tl.notes("team")]
        assert before == [("firing", 1), ("firing", 2)]
        if crash:
            tl.crash_restart()
        for m in range(SPIKE_AT + 12, SPIKE_AT + 40):
            tl.minute(m, {LATENCY: 100.0 + tl.rng.normal(0, 3), ERRORS: 500.0})
        tl.calm(both, SPIKE_AT + 40, SPIKE_AT + 70)
        got = [
            (b["status"], sorted(a["status"] for a in b["alerts"])) for _, b in tl.received["team"]
        ]
        assert got == [
            ("firing", ["firing"]),
            ("firing", ["firing", "firing"]),
            ("firing", ["firing", "resolved"]),  # latency resolved, errors still firing
            ("resolved", ["resolved"]),
        ]


QUEUE = ("checkout", "queue_depth")
QUEUE_RULE = {"static": [{"name": "QueueHigh", "metric": "queue_depth", "value": 1000}]}


@pytest.mark.parametrize("holds_after", [False, True])
def test_a_rule_alert_that_fired_after_the_checkpoint_ends_once_after_a_crash(
    tmp_path: Path, holds_after: bool
) -> None:
    """The restored rule is from before it fired. Still holding after the crash, it fires
    again: the same alert goes on (one row, no second page) and resolves when the queue
    drains; the queue drained while the service was down: it resolves as stale. Either
    way whoever was told it fires hears the end once."""
    with timeline(tmp_path, rules=QUEUE_RULE, storage={"checkpoint_interval": "1h"}) as tl:
        tl.minute(0)
        tl.app.checkpoint()
        for m in range(1, 4):
            tl.minute(m, {QUEUE: 5_000.0})
        assert [n[1] for n in tl.notes("team")] == ["firing"]
        tl.crash_restart()
        if holds_after:
            for m in range(4, 10):
                tl.minute(m, {QUEUE: 5_000.0})
        for m in range(10, 40):
            tl.minute(m, {QUEUE: 10.0})
        assert [n[1] for n in tl.notes("team")] == ["firing", "resolved"]
        alerts = tl.api.get("/api/v1/alerts").json()["alerts"]
        assert [(a["labels"]["alertname"], a["state"]) for a in alerts] == [
            ("QueueHigh", "resolved")
        ]
