"""Durable delivery: notifications are written down first, then sent, retried and recorded.

``enqueue`` stores one item per integration of the notification's receiver, keyed
``<notification key>/<integration name>``. The store refuses a key it already holds, so
re-running the pipeline after a crash enqueues nothing new, and a Slack failure never
resends the PagerDuty page (each integration's item lives and retries on its own).

``deliver_due`` sends what is due and records the outcome, using only the two exception
types of ``errors.py`` (the outbox never looks at a status code):

- accepted: ``mark_sent``;
- ``RetryableDeliveryError``: ``retry_later`` with a deterministic exponential backoff
  (5 s, 10 s, 20 s ... capped at 10 min; the receiver's ``Retry-After`` when longer),
  until ``max_attempts`` attempts or ``max_age`` since enqueueing, then ``mark_failed``;
- ``PermanentDeliveryError``, an unreadable payload, or an integration that no longer
  exists (the config changed): ``mark_failed`` at once, with the reason.

Crash safety, and why every integration carries a dedup key: an item is marked sent only
after the receiver accepted it. If the process dies between the receiver's "accepted" and
``mark_sent``, the item is still pending and the next process sends it again: delivery is
at least once. What keeps that from becoming a duplicate page is the key each integration
passes along: PagerDuty's ``dedup_key`` and Opsgenie's ``alias`` (both from the group key)
fold the resend into the same incident; Alertmanager identifies alerts by labels; the
webhook sends ``Idempotency-Key``; e-mail a stable ``Message-ID``; the JSONL line its
``key``. Chat webhooks (Slack, Teams, Discord) have no such mechanism and may, in that
narrow window, show a message twice.

One worker should call ``deliver_due`` at a time (items are not locked against a second
worker). Times are passed in (``now``), never read from a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field

from anomalert.configbase import Duration, StrictModel
from anomalert.errors import PermanentDeliveryError, RetryableDeliveryError
from anomalert.model import Notification
from anomalert.notify.receivers.base import Receiver
from anomalert.notify.render import UNREADABLE, notification_from_dict, notification_to_dict

log = logging.getLogger(__name__)


class OutboxItem(Protocol):
    """One pending delivery as the store returns it."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def receiver(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def created_at(self) -> float: ...


class OutboxStore(Protocol):
    """Where pending deliveries live (SQLite or PostgreSQL in the service)."""

    def enqueue(self, key: str, receiver: str, payload: dict[str, Any], now: float) -> bool:
        """Store a pending item; False when ``key`` is already stored."""
        ...

    def due(self, now: float, limit: int = 100) -> Sequence[OutboxItem]:
        """Pending items with ``next_attempt_at <= now``, oldest first."""
        ...

    def mark_sent(self, item_id: int, now: float) -> None:
        """The receiver accepted the item."""
        ...

    def mark_failed(self, item_id: int, now: float, error: str) -> None:
        """Give up on the item, recording why."""
        ...

    def retry_later(self, item_id: int, now: float, next_at: float, error: str) -> None:
        """Count a failed attempt and schedule the next one at ``next_at``."""
        ...


class RetryPolicy(StrictModel):
    """How long and how often to retry a retryable failure."""

    base: Duration = Field(default=5.0, gt=0)
    factor: float = Field(default=2.0, ge=1.0)
    cap: Duration = Field(default=600.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    max_age: Duration = Field(default=86400.0, gt=0)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th failed attempt (1-based).

        >>> [RetryPolicy().backoff(k) for k in (1, 2, 3, 8, 9)]
        [5.0, 10.0, 20.0, 600.0, 600.0]
        """
        delay = float(self.base)
        for _ in range(attempt - 1):
            if delay >= self.cap:
                break
            delay *= self.factor
        return float(min(self.cap, delay))


Result = Literal["sent", "retry", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one item in one ``deliver_due`` call."""

    item_id: int
    key: str
    receiver: str
    result: Result
    error: str | None = None
    next_attempt_at: float | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """The counts of one ``deliver_due`` call and each item's outcome."""

    sent: int
    retried: int
    failed: int
    outcomes: tuple[Outcome, ...]


class Outbox:
    """Enqueues notifications per integration and delivers what is due."""

    def __init__(
        self,
        store: OutboxStore,
        receivers: Mapping[str, Sequence[Receiver]],
        policy: RetryPolicy | None = None,
    ) -> None:
        self.store = store
        self.receivers = {name: list(integrations) for name, integrations in receivers.items()}
        self.policy = policy or RetryPolicy()
        self._by_name: dict[str, Receiver] = {
            r.name: r for integrations in self.receivers.values() for r in integrations
        }

    def enqueue(self, n: Notification, now: float) -> int:
        """Store one item per integration of ``n.receiver``; returns how many were new.

        A receiver with no integrations (not in the config) still gets one item, named
        after the receiver, which delivery records as failed: the notification is visible
        as undeliverable instead of silently dropped.
        """
        payload = notification_to_dict(n)
        names = [r.name for r in self.receivers.get(n.receiver, [])] or [n.receiver]
        return sum(self.store.enqueue(f"{n.key}/{name}", name, payload, now) for name in names)

    def deliver_due(self, now: float, limit: int = 100) -> DeliveryReport:
        """Send up to ``limit`` due items and record each outcome."""
        outcomes = [self._deliver(item, now) for item in self.store.due(now, limit)]
        return DeliveryReport(
            sent=sum(o.result == "sent" for o in outcomes),
            retried=sum(o.result == "retry" for o in outcomes),
            failed=sum(o.result == "failed" for o in outcomes),
            outcomes=tuple(outcomes),
        )

    def _deliver(self, item: OutboxItem, now: float) -> Outcome:
        receiver = self._by_name.get(item.receiver)
        if receiver is None:
            return self._fail(
                item, now, f"no integration named {item.receiver!r} in the current config"
            )
        try:
            n = notification_from_dict(item.payload)
        except UNREADABLE as exc:
            return self._fail(item, now, f"unreadable payload: {type(exc).__name__}: {exc}")
        try:
            receiver.send(n)
        except PermanentDeliveryError as exc:
            return self._fail(item, now, str(exc))
        except RetryableDeliveryError as exc:
            return self._retry(item, now, str(exc), exc.retry_after)
        except Exception as exc:  # a bug in an integration must not stop the others
            log.exception("integration %s raised unexpectedly", item.receiver)
            return self._retry(item, now, f"unexpected {type(exc).__name__}: {exc}", None)
        self.store.mark_sent(item.id, now)
        return Outcome(item.id, item.key, item.receiver, "sent")

    def _fail(self, item: OutboxItem, now: float, error: str) -> Outcome:
        self.store.mark_failed(item.id, now, error)
        log.warning("delivery of %s failed: %s", item.key, error)
        return Outcome(item.id, item.key, item.receiver, "failed", error)

    def _retry(
        self, item: OutboxItem, now: float, error: str, retry_after: float | None
    ) -> Outcome:
        attempt = item.attempts + 1
        p = self.policy
        if attempt >= p.max_attempts:
            return self._fail(item, now, f"gave up after {attempt} attempts: {error}")
        if now - item.created_at >= p.max_age:
            return self._fail(item, now, f"gave up after {now - item.created_at:.0f} s: {error}")
        next_at = now + max(p.backoff(attempt), retry_after or 0.0)
        self.store.retry_later(item.id, now, next_at, error)
        return Outcome(item.id, item.key, item.receiver, "retry", error, next_at)
