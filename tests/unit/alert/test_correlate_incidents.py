"""Alerts of related services become one incident; unrelated or far apart in time do not."""

from __future__ import annotations

from anomalert.alert.correlate import CorrelationConfig, Correlator
from anomalert.model import Alert, fingerprint

GRAPH = {
    "checkout": ["payments", "search"],
    "payments": ["db"],
    "search": ["db"],
    "db": [],
    "mail": [],
}


def alert(service: str, t: float, status: str = "firing") -> Alert:
    labels = {"alertname": "Anomaly", "service": service, "metric": "latency"}
    return Alert(
        fingerprint(labels),
        labels,
        {},
        t,
        None if status == "firing" else t + 60,
        status,  # type: ignore[arg-type]
        0.99,
        "P1",
        "alerting",
        "anomaly",
        t,
    )


def test_a_cascade_is_one_incident_whose_origin_is_the_shared_dependency() -> None:
    c = Correlator(GRAPH)
    first = c.assign(alert("payments", 0), 0)
    db = c.assign(alert("db", 60), 60)
    search = c.assign(alert("search", 120), 120)
    checkout = c.assign(alert("checkout", 180), 180)
    ids = {a.labels["incident"] for a in (first, db, search, checkout)}
    assert len(ids) == 1
    assert checkout.labels["origin"] == "db"
    assert first.labels["origin"] == "payments"  # at the time, the only service


def test_unrelated_services_and_old_incidents_open_new_ones() -> None:
    c = Correlator(GRAPH, CorrelationConfig(window=600))
    a = c.assign(alert("db", 0), 0)
    mail = c.assign(alert("mail", 30), 30)
    assert mail.labels["incident"] != a.labels["incident"]
    c.assign(alert("db", 0, "resolved"), 100)
    later = c.assign(alert("payments", 5000), 5000)
    assert later.labels["incident"] != a.labels["incident"]


def test_the_label_is_kept_for_the_alert_life_and_on_its_resolve() -> None:
    c = Correlator(GRAPH)
    fire = c.assign(alert("search", 0), 0)
    again = c.assign(alert("search", 0), 300)
    done = c.assign(alert("search", 0, "resolved"), 900)
    assert fire.labels["incident"] == again.labels["incident"] == done.labels["incident"]


def test_snapshot_and_restore_keep_incidents() -> None:
    c = Correlator(GRAPH)
    a = c.assign(alert("db", 0), 0)
    d = Correlator(GRAPH)
    d.restore(c.snapshot())
    assert d.assign(alert("payments", 60), 60).labels["incident"] == a.labels["incident"]
