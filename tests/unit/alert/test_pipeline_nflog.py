"""The notification log's decisions (Alertmanager's DedupStage), one case at a time."""

from __future__ import annotations

from dataclasses import replace

from anomalert.alert.dedup import NotificationLog
from anomalert.alert.group import GroupFlush
from anomalert.alert.route import Route, RouteConfig
from anomalert.model import Alert, fingerprint

ROUTE = Route.build(RouteConfig.model_validate({"receiver": "ops", "repeat_interval": "1h"}))


def alert(name: str, status: str = "firing") -> Alert:
    lab = {"alertname": name, "severity": "P2"}
    return Alert(
        fingerprint(lab),
        lab,
        {},
        0.0,
        None,
        status,
        0.9,
        "P2",
        "alerting",
        "rule",
        0.0,  # type: ignore[arg-type]
    )


A, B = alert("A"), alert("B")
A_DONE, B_DONE = replace(A, status="resolved"), replace(B, status="resolved")


def flush(now: float, *alerts: Alert) -> GroupFlush:
    return GroupFlush("{}:{}", ROUTE, {}, alerts, now, "ops")


def told(*alerts: Alert, at: float = 0.0) -> NotificationLog:
    log = NotificationLog()
    log.log(flush(at, *alerts))
    return log


def test_first_message_needs_something_firing() -> None:
    log = NotificationLog()
    assert log.needs_notify(flush(0, A), 0)
    assert not log.needs_notify(flush(0, A_DONE), 0)


def test_only_new_firing_alerts_are_news() -> None:
    log = told(A, B)
    assert not log.needs_notify(flush(10, A, B), 10)
    assert not log.needs_notify(flush(10, A), 10)  # a subset: nothing new fires
    assert told(A).needs_notify(flush(10, A, B), 10)


def test_resolution_of_what_was_told_is_news() -> None:
    assert told(A, B).needs_notify(flush(10, A_DONE, B), 10)
    assert told(A).needs_notify(flush(10, A_DONE), 10)
    assert not told(A).needs_notify(flush(10, A, B_DONE), 10)  # B never told firing


def test_repeat_after_the_interval() -> None:
    log = told(A, at=100.0)
    assert not log.needs_notify(flush(3_699, A), 3_699)
    assert log.needs_notify(flush(3_700, A), 3_700)


def test_an_all_resolved_message_forgets_the_group() -> None:
    log = told(A)
    log.log(flush(10, A_DONE))
    assert not log.was_firing("{}:{}", "ops", A.fingerprint)
    assert log.snapshot() == []
    assert log.needs_notify(flush(20, A), 20)


def test_ack_once_per_alert_and_kept_while_it_fires() -> None:
    log = told(A, B)
    (ack,) = log.ack(A.fingerprint, 50.0)
    assert ack.acknowledged and ack.alerts == (A, B) and ack.now == 50.0
    assert log.ack(A.fingerprint, 60.0) == []
    log.log(flush(70, A, B, alert("C")))
    assert log.ack(A.fingerprint, 80.0) == []  # still acknowledged
    assert len(log.ack(B.fingerprint, 80.0)) == 1
    assert log.ack("unknown", 80.0) == []


def test_snapshot_round_trip() -> None:
    log = told(A, B_DONE, at=5.0)
    log.ack(A.fingerprint, 6.0)
    again = NotificationLog()
    again.restore(log.snapshot(), ROUTE)
    assert again.snapshot() == log.snapshot()
    assert again.was_firing("{}:{}", "ops", A.fingerprint)
