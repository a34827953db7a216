"""The report query: alerts of a period with notification, ack and feedback facts."""

from __future__ import annotations

from collections.abc import Callable

from anomalert.model import Alert
from anomalert.store import Store
from anomalert.store.reports import AlertFacts

MakeAlert = Callable[..., Alert]


def test_report_alerts_carry_what_people_did(store: Store, make_alert: MakeAlert) -> None:
    told = store.upsert_alert(make_alert(starts_at=1000.0, severity="P1"))
    quiet = store.upsert_alert(
        make_alert(metric="cpu", starts_at=2000.0, ends_at=2300.0, status="resolved", mode="shadow")
    )
    other = store.upsert_alert(make_alert(service="db", starts_at=3000.0))
    store.upsert_alert(make_alert(service="db", starts_at=9000.0))  # after the period
    store.add_history(told, 1100.0, "state", {"status": "firing"})
    for t in (1100.0, 1200.0):  # notified twice (firing, repeat): one fact
        store.add_history(told, t, "notification", {"receiver": "pager", "status": "firing"})
    store.add_history(quiet, 2100.0, "state", {"status": "firing"})
    store.add_history(other, 3100.0, "notification", {"receiver": "chat", "status": "firing"})
    store.ack(told, 1300.0, "ana")
    store.add_feedback(told, 1400.0, helpful=False, comment="")
    store.add_feedback(told, 1500.0, helpful=True, comment="changed my mind")
    store.add_feedback(other, 3200.0, helpful=False, comment="noise")

    rows = store.report_alerts(since=500.0, until=5000.0)
    assert [r.id for r in rows] == [told, quiet, other]
    first, second, third = rows
    assert first == AlertFacts(
        id=told,
        service="checkout",
        metric="latency_p99_ms",
        alertname="AnomalousLatency",
        summary="latency_p99_ms of checkout 4.2σ above the usual",
        severity="P1",
        score=0.93,
        mode="alerting",
        source="anomaly",
        starts_at=1000.0,
        ends_at=None,
        acked_at=1300.0,
        notified=True,
        helpful=True,  # the latest feedback counts
    )
    assert (second.notified, second.helpful, second.acked_at) == (False, None, None)
    assert (second.mode, second.ends_at) == ("shadow", 2300.0)
    assert (third.notified, third.helpful) == (True, False)

    assert [r.id for r in store.report_alerts(services=["db"])] == [other, other + 1]
    assert store.report_alerts(since=1500.0, until=2500.0, services=["checkout"]) == [second]
    assert store.report_alerts(services=[]) == []
    assert store.first_alert_time() == 1000.0


def test_first_alert_time_of_an_empty_store(store: Store) -> None:
    assert store.first_alert_time() is None
    assert store.report_alerts() == []


def test_labelled_incidents_upsert_on_their_external_id(store: Store) -> None:
    first = store.add_labelled_incidents(
        [
            {
                "external_id": "INC-1",
                "service": "db",
                "title": "disk",
                "start": 100.0,
                "end": 200.0,
                "source": "json",
            },
            {"service": None, "title": "", "start": 300.0, "end": 400.0},
        ],
        now=1.0,
    )
    again = store.add_labelled_incidents(
        [
            {
                "external_id": "INC-1",
                "service": "db",
                "title": "disk full",
                "start": 110.0,
                "end": 200.0,
                "source": "csv",
            }
        ],
        now=2.0,
    )
    assert again == first[:1]
    rows = store.labelled_incidents()
    assert [(r.external_id, r.title, r.start, r.source) for r in rows] == [
        ("INC-1", "disk full", 110.0, "csv"),
        (None, "", 300.0, "page"),
    ]
    assert [r.id for r in store.labelled_incidents(service="api")] == [first[1]]  # no service
    assert [r.id for r in store.labelled_incidents(service="db")] == first
    assert [r.id for r in store.labelled_incidents(since=250.0)] == [first[1]]
    assert [r.id for r in store.labelled_incidents(until=250.0)] == [first[0]]
    assert store.delete_labelled_incident(first[0])
    assert not store.delete_labelled_incident(first[0])
    assert [r.id for r in store.labelled_incidents()] == [first[1]]
