"""The outbox: per-integration items, backoff, Retry-After, giving up, restarts.

The store here is a small in-memory ``OutboxStore`` (the SQL store has its own suite); it
copies payloads through JSON like a database would, so what the outbox reads back after a
"restart" is what it wrote, not the object it still holds.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from anomalert.errors import PermanentDeliveryError, RetryableDeliveryError
from anomalert.model import Alert, Notification, fingerprint
from anomalert.notify.outbox import Outbox, OutboxStore, RetryPolicy
from anomalert.notify.receivers.base import Receiver
from anomalert.notify.receivers.pagerduty import PagerDutyConfig, PagerDutyReceiver

T0 = 1_704_099_600.0


@dataclass
class Item:
    id: int
    key: str
    receiver: str
    payload: dict[str, Any]
    attempts: int
    created_at: float
    next_attempt_at: float
    state: str = "pending"
    error: str | None = None


@dataclass
class MemoryStore:
    """An OutboxStore in a dict."""

    items: dict[int, Item] = field(default_factory=dict)

    def enqueue(self, key: str, receiver: str, payload: dict[str, Any], now: float) -> bool:
        if any(i.key == key for i in self.items.values()):
            return False
        item_id = len(self.items) + 1
        stored = json.loads(json.dumps(payload))
        self.items[item_id] = Item(item_id, key, receiver, stored, 0, now, now)
        return True

    def due(self, now: float, limit: int = 100) -> list[Item]:
        pending = [
            i for i in self.items.values() if i.state == "pending" and i.next_attempt_at <= now
        ]
        pending.sort(key=lambda i: (i.created_at, i.id))
        return [dataclasses.replace(i, payload=json.loads(json.dumps(i.payload))) for i in pending][
            :limit
        ]

    def mark_sent(self, item_id: int, now: float) -> None:
        self.items[item_id].state = "sent"

    def mark_failed(self, item_id: int, now: float, error: str) -> None:
        self.items[item_id].state = "failed"
        self.items[item_id].error = error

    def retry_later(self, item_id: int, now: float, next_at: float, error: str) -> None:
        item = self.items[item_id]
        item.attempts += 1
        item.next_attempt_at = next_at
        item.error = error

    def by_receiver(self, name: str) -> list[Item]:
        return [i for i in self.items.values() if i.receiver == name]


class Scripted:
    """A receiver that answers from a script (None: accepted), then accepts."""

    def __init__(self, name: str, *script: Exception | None) -> None:
        self.name = name
        self.script = list(script)
        self.sent: list[Notification] = []
        self.calls = 0

    def send(self, n: Notification) -> None:
        self.calls += 1
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append(n)


class Always:
    """A receiver that always fails with the same error."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.error, self.calls = name, error, 0

    def send(self, n: Notification) -> None:
        self.calls += 1
        raise self.error


def notification(key: str = "n1", status: str = "firing") -> Notification:
    labels = {"alertname": "HighLatency", "service": "checkout", "severity": "P1"}
    alert = Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={"summary": "p99 latency 840 ms", "runbook_url": "https://rb.example.com/x"},
        starts_at=T0,
        ends_at=None if status == "firing" else T0 + 600,
        status="firing" if status == "firing" else "resolved",
        score=0.97,
        severity="P1",
        mode="alerting",
        source="anomaly",
        updated_at=T0,
    )
    return Notification(
        key=key,
        receiver="oncall",
        group_key='{}:{service="checkout"}',
        group_labels={"service": "checkout"},
        status=alert.status,
        alerts=(alert,),
        time=T0,
        severity="P1",
    )


def outbox(store: OutboxStore, *integrations: Receiver, **policy: Any) -> Outbox:
    return Outbox(store, {"oncall": list(integrations)}, RetryPolicy(**policy))


def test_store_protocol_is_met_by_the_test_store() -> None:
    store: OutboxStore = MemoryStore()  # mypy checks the structural match
    assert store.due(T0) == []


def test_enqueue_makes_one_item_per_integration_and_is_idempotent() -> None:
    store = MemoryStore()
    box = outbox(store, Scripted("oncall/pagerduty[0]"), Scripted("oncall/slack[0]"))
    n = notification()
    assert box.enqueue(n, T0) == 2
    assert box.enqueue(n, T0 + 1) == 0  # the pipeline re-ran after a crash
    assert sorted(i.key for i in store.items.values()) == [
        "n1/oncall/pagerduty[0]",
        "n1/oncall/slack[0]",
    ]


def test_delivers_due_items_and_marks_them_sent() -> None:
    store = MemoryStore()
    pd, slack = Scripted("oncall/pagerduty[0]"), Scripted("oncall/slack[0]")
    box = outbox(store, pd, slack)
    n = notification()
    box.enqueue(n, T0)
    report = box.deliver_due(T0)
    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    assert [o.result for o in report.outcomes] == ["sent", "sent"]
    assert pd.sent == [n] and slack.sent == [n]  # rebuilt exactly from the stored payload
    assert {i.state for i in store.items.values()} == {"sent"}
    assert box.deliver_due(T0 + 3600).outcomes == ()


def test_backoff_schedule_then_gives_up_after_max_attempts() -> None:
    store = MemoryStore()
    flaky = Always("oncall/slack[0]", RetryableDeliveryError("HTTP 503"))
    box = outbox(store, flaky)
    box.enqueue(notification(), T0)
    now, delays = T0, []
    while True:
        (outcome,) = box.deliver_due(now).outcomes
        if outcome.result == "failed":
            break
        assert outcome.next_attempt_at is not None
        delays.append(outcome.next_attempt_at - now)
        assert box.deliver_due(outcome.next_attempt_at - 0.001).outcomes == ()  # not early
        now = outcome.next_attempt_at
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600, 600]
    assert flaky.calls == 12
    (item,) = store.items.values()
    assert item.state == "failed"
    assert item.error is not None and "gave up after 12 attempts" in item.error
    assert "HTTP 503" in item.error


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    store = MemoryStore()
    box = outbox(
        store,
        Scripted(
            "oncall/slack[0]",
            RetryableDeliveryError("HTTP 429", retry_after=120.0),
            RetryableDeliveryError("HTTP 429", retry_after=1.0),
        ),
    )
    box.enqueue(notification(), T0)
    (first,) = box.deliver_due(T0).outcomes
    assert first.next_attempt_at == T0 + 120.0
    (second,) = box.deliver_due(T0 + 120.0).outcomes
    assert second.next_attempt_at == T0 + 120.0 + 10.0  # backoff (2nd attempt) beats 1 s
    (third,) = box.deliver_due(T0 + 130.0).outcomes
    assert third.result == "sent"


def test_permanent_error_fails_at_once() -> None:
    store = MemoryStore()
    bad = Always("oncall/slack[0]", PermanentDeliveryError("oncall/slack[0]: HTTP 404: no_service"))
    box = outbox(store, bad)
    box.enqueue(notification(), T0)
    report = box.deliver_due(T0)
    assert (report.sent, report.retried, report.failed) == (0, 0, 1)
    (item,) = store.items.values()
    assert (item.state, item.attempts) == ("failed", 0)
    assert item.error == "oncall/slack[0]: HTTP 404: no_service"
    box.deliver_due(T0 + 86400)
    assert bad.calls == 1


def test_gives_up_after_max_age() -> None:
    store = MemoryStore()
    box = outbox(store, Always("oncall/slack[0]", RetryableDeliveryError("down")), max_age=60)
    box.enqueue(notification(), T0)
    results = [box.deliver_due(T0 + dt).outcomes[0].result for dt in (0, 5, 15, 35, 75)]
    assert results == ["retry", "retry", "retry", "retry", "failed"]
    (item,) = store.items.values()
    assert item.error is not None and item.error.startswith("gave up after 75 s")


def test_one_failing_integration_does_not_resend_the_others() -> None:
    store = MemoryStore()
    pd = Scripted("oncall/pagerduty[0]")
    slack = Scripted("oncall/slack[0]", RetryableDeliveryError("HTTP 500"))
    box = outbox(store, pd, slack)
    box.enqueue(notification(), T0)
    first = box.deliver_due(T0)
    assert {o.receiver: o.result for o in first.outcomes} == {
        "oncall/pagerduty[0]": "sent",
        "oncall/slack[0]": "retry",
    }
    second = box.deliver_due(T0 + 5)
    assert [(o.receiver, o.result) for o in second.outcomes] == [("oncall/slack[0]", "sent")]
    assert (pd.calls, slack.calls) == (1, 2)


class Crash(BaseException):
    """The process dying: not an Exception, so nothing in the outbox catches it."""


class CrashOnMarkSent(MemoryStore):
    def mark_sent(self, item_id: int, now: float) -> None:
        raise Crash


def test_restart_delivers_what_is_pending_exactly_once() -> None:
    crashing = CrashOnMarkSent()
    requests: list[httpx.Request] = []

    def pagerduty_api(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(202, json={"status": "success"})

    client = httpx.Client(transport=httpx.MockTransport(pagerduty_api))
    config = PagerDutyConfig(routing_key=SecretStr("R0UTING"))
    page = PagerDutyReceiver("oncall/pagerduty[0]", config, client)
    first = Outbox(crashing, {"oncall": [page]}, RetryPolicy())
    n1, n2 = notification("n1"), notification("n2", status="resolved")
    assert first.enqueue(n1, T0) == 1
    assert first.enqueue(n2, T0) == 1
    with pytest.raises(Crash):  # PagerDuty accepted n1, then the process died
        first.deliver_due(T0)
    assert len(requests) == 1

    store = MemoryStore(items=crashing.items)  # same rows, after the restart
    fresh = PagerDutyReceiver("oncall/pagerduty[0]", config, client)
    second = Outbox(store, {"oncall": [fresh]}, RetryPolicy())
    assert second.enqueue(n1, T0 + 1) == 0 and second.enqueue(n2, T0 + 1) == 0
    report = second.deliver_due(T0 + 1)
    assert [(o.key, o.result) for o in report.outcomes] == [
        ("n1/oncall/pagerduty[0]", "sent"),
        ("n2/oncall/pagerduty[0]", "sent"),
    ]
    assert second.deliver_due(T0 + 3600).outcomes == ()
    bodies = [json.loads(r.content) for r in requests]
    assert [b["event_action"] for b in bodies] == ["trigger", "trigger", "resolve"]
    # the resend of n1 lands on the incident the first send opened: no second page
    assert bodies[0] == bodies[1]
    assert len({b["dedup_key"] for b in bodies}) == 1


def test_unknown_integration_is_failed_with_a_clear_error() -> None:
    store = MemoryStore()
    old = outbox(store, Scripted("oncall/slack[0]"))
    old.enqueue(notification(), T0)
    renamed = Outbox(store, {"oncall": [Scripted("oncall/slack[1]")]}, RetryPolicy())
    (outcome,) = renamed.deliver_due(T0).outcomes
    assert outcome.result == "failed"
    assert outcome.error == "no integration named 'oncall/slack[0]' in the current config"


def test_notification_for_an_unconfigured_receiver_is_recorded_as_failed() -> None:
    store = MemoryStore()
    box = Outbox(store, {}, RetryPolicy())
    assert box.enqueue(notification(), T0) == 1
    (outcome,) = box.deliver_due(T0).outcomes
    assert (outcome.receiver, outcome.result) == ("oncall", "failed")


def test_unreadable_payload_is_failed_not_retried() -> None:
    store = MemoryStore()
    box = outbox(store, Scripted("oncall/slack[0]"))
    store.enqueue("x/oncall/slack[0]", "oncall/slack[0]", {"version": 99}, T0)
    (outcome,) = box.deliver_due(T0).outcomes
    assert outcome.result == "failed"
    assert outcome.error is not None and "unreadable payload" in outcome.error


def test_a_bug_in_an_integration_is_retried_and_does_not_stop_the_others() -> None:
    store = MemoryStore()
    buggy = Scripted("oncall/teams[0]", ZeroDivisionError("division by zero"))
    fine = Scripted("oncall/slack[0]")
    box = outbox(store, buggy, fine)
    box.enqueue(notification(), T0)
    report = box.deliver_due(T0)
    assert (report.sent, report.retried) == (1, 1)
    retry = next(o for o in report.outcomes if o.result == "retry")
    assert retry.error == "unexpected ZeroDivisionError: division by zero"


def test_deliver_due_takes_oldest_first_up_to_the_limit() -> None:
    store = MemoryStore()
    slack = Scripted("oncall/slack[0]")
    box = outbox(store, slack)
    for k in range(5):
        box.enqueue(notification(f"n{k}"), T0 + k)
    report = box.deliver_due(T0 + 10, limit=3)
    assert [o.key for o in report.outcomes] == [f"n{k}/oncall/slack[0]" for k in range(3)]
    assert [n.key for n in slack.sent] == ["n0", "n1", "n2"]


def test_retry_policy_reads_durations_and_rejects_unknown_keys() -> None:
    policy = RetryPolicy.model_validate({"base": "10s", "cap": "5m", "max_age": "2h"})
    assert (policy.base, policy.cap, policy.max_age, policy.max_attempts) == (10, 300, 7200, 12)
    assert [policy.backoff(k) for k in range(1, 7)] == [10, 20, 40, 80, 160, 300]
    with pytest.raises(ValidationError, match="max_attempt"):
        RetryPolicy.model_validate({"max_attempt": 3})
