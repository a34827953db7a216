"""Cleanup deletes exactly what the policy says, keeps recent rows and every pending page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from anomalert.model import Alert, ChangeEvent, Kind, Scored
from anomalert.store import RetentionConfig, SilenceRow, Store

DAY = 86400.0
NOW = 1_000 * DAY


def _scored(t: float) -> Scored:
    return Scored("s", "cpu", {"service": "x"}, t, 1.0, 0.95, Kind.SPIKE, 0.5, 0.0, 0.8, "high")


def _silence(sid: str, ends_at: float | None) -> SilenceRow:
    return SilenceRow(sid, [], 0.0, ends_at, "bob", "", ends_at is None, 0.0)


def test_defaults_are_documented_values() -> None:
    policy = RetentionConfig()
    assert (policy.resolved_alerts, policy.anomalies, policy.events) == (
        90 * DAY,
        30 * DAY,
        90 * DAY,
    )
    assert (policy.sent_outbox, policy.expired_silences, policy.interval) == (
        7 * DAY,
        7 * DAY,
        3600.0,
    )
    assert RetentionConfig.model_validate({"sent_outbox": "36h"}).sent_outbox == 36 * 3600.0
    with pytest.raises(ValidationError):
        RetentionConfig.model_validate({"resolved_alert": "1d"})


def test_cleanup_deletes_exactly_what_the_policy_says(
    store: Store, make_alert: Callable[..., Alert]
) -> None:
    policy = RetentionConfig()
    old = NOW - 91 * DAY
    recent = NOW - 10 * DAY
    # alerts: old resolved (goes, with its rows), old but firing (stays), recent resolved (stays)
    gone = store.upsert_alert(
        make_alert(starts_at=old - DAY, status="resolved", ends_at=old, updated_at=old)
    )
    firing = store.upsert_alert(make_alert("search", starts_at=old - DAY))
    kept = store.upsert_alert(
        make_alert("auth", starts_at=recent - DAY, status="resolved", ends_at=recent)
    )
    for alert_id in (gone, firing, kept):
        store.add_history(alert_id, old, "state", {"to": "firing"})
        store.add_feedback(alert_id, old, False, "noise")
        store.add_anomaly(_scored(old - DAY), [(old - DAY, 1.0)], alert_id=alert_id)
    # anomalies not attached to an alert: old ones go, recent ones stay
    store.add_anomaly(_scored(NOW - 31 * DAY), [])
    store.add_anomaly(_scored(NOW - 29 * DAY), [])
    # events: by their end when they are windows
    store.add_event(ChangeEvent("deployment", "x", NOW - 91 * DAY))
    store.add_event(ChangeEvent("maintenance", "x", NOW - 100 * DAY, end=NOW - 80 * DAY))
    store.add_event(ChangeEvent("deployment", "x", NOW - 89 * DAY))
    # outbox: old sent and failed go; old pending stays; recent sent stays
    for key in ("sent-old", "failed-old", "pending-old", "sent-recent"):
        store.enqueue(key, "pager", {}, now=NOW - 30 * DAY)
    ids = {i.key: i.id for i in store.outbox()}
    store.mark_sent(ids["sent-old"], now=NOW - 8 * DAY)
    store.mark_failed(ids["failed-old"], now=NOW - 8 * DAY, error="400")
    store.retry_later(ids["pending-old"], now=NOW - 8 * DAY, next_at=NOW + 60, error="503")
    store.mark_sent(ids["sent-recent"], now=NOW - 6 * DAY)
    # silences: expired a week ago go; recently expired and open-ended stay
    store.save_silence(_silence("expired", NOW - 8 * DAY))
    store.save_silence(_silence("recent", NOW - 6 * DAY))
    store.save_silence(_silence("open", None))

    deleted = store.cleanup(NOW, policy)

    assert deleted == {
        "alert_history": 1,
        "feedback": 1,
        "anomalies": 2,
        "alerts": 1,
        "events": 1,
        "outbox": 2,
        "silences": 1,
    }
    assert store.get_alert(gone) is None and store.history(gone) == []
    assert {r.id for r in store.list_alerts()} == {firing, kept}
    assert {f.alert_id for f in store.feedback()} == {firing, kept}
    assert {a.alert_id for a in store.anomalies()} == {firing, kept, None}
    assert [a.timestamp for a in store.anomalies() if a.alert_id is None] == [NOW - 29 * DAY]
    assert [e.timestamp for e in store.events()] == [NOW - 100 * DAY, NOW - 89 * DAY]
    assert sorted(i.key for i in store.outbox()) == ["pending-old", "sent-recent"]
    assert sorted(s.id for s in store.list_silences()) == ["open", "recent"]
    # a second run at the same time finds nothing more
    assert sum(store.cleanup(NOW, policy).values()) == 0


def test_pending_outbox_items_are_never_deleted(store: Store) -> None:
    store.enqueue("stuck", "pager", {}, now=0.0)
    deleted = store.cleanup(10_000 * DAY, RetentionConfig(sent_outbox=0))
    assert deleted["outbox"] == 0
    assert [i.key for i in store.due(now=10_000 * DAY)] == ["stuck"]
