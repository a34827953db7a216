"""Alerts, history, acks and feedback round-trip and filter the same on both backends."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from anomalert.model import Alert
from anomalert.store import AlertRow, Store

MakeAlert = Callable[..., Alert]


def test_upsert_round_trips_every_field(store: Store, make_alert: MakeAlert) -> None:
    alert = make_alert(
        service="paiement-été",
        extra_labels={"cluster": "eu-1", "team": "支付"},
        annotations={"summary": "p99 840 ms, 4.2σ above 210 ms", "runbook_url": "https://r/x"},
        score=0.987654321,
        severity="P1",
        mode="shadow",
        source="rule",
    )
    context = {"window": [[1.0, 2.5], [2.0, 3.5]], "band": [1.0, 4.0], "reason": "spike ↑"}
    alert_id = store.upsert_alert(alert, context)
    row = store.get_alert(alert_id)
    assert row is not None
    assert row.to_alert() == alert
    assert row.labels == alert.labels and row.annotations == alert.annotations
    assert (row.id, row.context, row.acked_at, row.acked_by) == (alert_id, context, None, None)
    assert store.find_alert(alert.fingerprint, alert.starts_at) == row
    assert store.find_alert(alert.fingerprint, alert.starts_at + 1) is None
    assert store.get_alert(alert_id + 1000) is None


def test_find_alert_without_a_start_is_the_newest_episode(
    store: Store, make_alert: MakeAlert
) -> None:
    first = make_alert()
    later = dataclasses.replace(first, starts_at=first.starts_at + 3600)
    earlier = dataclasses.replace(first, starts_at=first.starts_at - 3600)
    ids = [store.upsert_alert(a) for a in (first, later, earlier)]  # not stored in time order
    newest = store.find_alert(first.fingerprint)
    assert newest is not None and newest.id == ids[1]
    assert store.find_alert("0" * 16) is None


def test_latest_episodes_are_the_newest_of_each_fingerprint(
    store: Store, make_alert: MakeAlert
) -> None:
    first = make_alert()
    resolved = dataclasses.replace(first, status="resolved", ends_at=1600.0)
    reopened = dataclasses.replace(first, starts_at=5000.0)
    other = make_alert(service="search")
    for a in (resolved, reopened, other):
        store.upsert_alert(a)
    closed = make_alert(service="db", status="resolved", ends_at=2000.0)
    store.upsert_alert(closed)
    asked = [first.fingerprint, other.fingerprint, closed.fingerprint, "0" * 16]
    assert store.latest_episodes(asked * 300) == {  # repeated: asked by chunks, once each
        first.fingerprint: (5000.0, None),
        other.fingerprint: (1000.0, None),
        closed.fingerprint: (1000.0, 2000.0),
    }
    assert store.latest_episodes([]) == {}


def test_firing_alerts_of_a_source_keep_their_expiry(store: Store, make_alert: MakeAlert) -> None:
    external = make_alert(source="external", expires_at=1240.0)
    later = dataclasses.replace(external, expires_at=1480.0, updated_at=1200.0)
    store.upsert_alert(external)
    store.upsert_alert(later)  # sent again: the new expiry
    ended = make_alert(service="db", source="external", status="resolved", ends_at=1100.0)
    store.upsert_alert(ended)
    store.upsert_alert(make_alert(service="search"))  # an anomaly alert
    assert [r.to_alert() for r in store.firing_alerts("external")] == [later]
    assert [r.service for r in store.firing_alerts("anomaly")] == ["search"]


def test_upsert_updates_the_episode_and_keeps_context(store: Store, make_alert: MakeAlert) -> None:
    firing = make_alert()
    first = store.upsert_alert(firing, {"band": [1, 2]})
    resolved = dataclasses.replace(
        firing,
        status="resolved",
        ends_at=1600.0,
        updated_at=1600.0,
        score=0.5,
        severity="P3",
        mode="assistive",
        annotations={"summary": "back to normal"},
    )
    assert store.upsert_alert(resolved) == first
    row = store.get_alert(first)
    assert row is not None and row.to_alert() == resolved
    assert row.context == {"band": [1, 2]}
    assert store.upsert_alert(resolved, {"band": [3, 4]}) == first
    assert store.get_alert(first).context == {"band": [3, 4]}  # type: ignore[union-attr]
    # a new episode of the same series is a new row
    again = make_alert(starts_at=5000.0)
    assert store.upsert_alert(again) != first
    assert store.count_alerts() == 2


def _ids(rows: list[AlertRow]) -> list[int]:
    return [r.id for r in rows]


def test_filters_search_and_counts(store: Store, make_alert: MakeAlert) -> None:
    ids = {}
    ids["a"] = store.upsert_alert(make_alert("checkout", "latency_p99_ms", 1.0, severity="P1"))
    ids["b"] = store.upsert_alert(
        make_alert("checkout", "error_rate", 2.0, status="resolved", ends_at=9.0, mode="shadow")
    )
    ids["c"] = store.upsert_alert(
        make_alert("search", "cpu", 3.0, annotations={"summary": "CPU 100%_hot"})
    )
    ids["d"] = store.upsert_alert(make_alert("auth", "auth_failures", 4.0, severity="P1"))
    assert store.ack(ids["d"], 5.0, "alice")

    assert _ids(store.list_alerts()) == [ids["d"], ids["c"], ids["b"], ids["a"]]
    assert _ids(store.list_alerts(state="firing")) == [ids["d"], ids["c"], ids["a"]]
    assert _ids(store.list_alerts(state="resolved")) == [ids["b"]]
    assert _ids(store.list_alerts(state="acknowledged")) == [ids["d"]]
    assert _ids(store.list_alerts(state="unacknowledged")) == [ids["c"], ids["a"]]
    assert _ids(store.list_alerts(service="checkout")) == [ids["b"], ids["a"]]
    assert _ids(store.list_alerts(severity="P1")) == [ids["d"], ids["a"]]
    assert _ids(store.list_alerts(mode="shadow")) == [ids["b"]]
    assert _ids(store.list_alerts(service="checkout", state="firing")) == [ids["a"]]
    # search: case-insensitive substring of service, metric, alertname or summary
    assert _ids(store.list_alerts(search="ERROR_RATE")) == [ids["b"]]
    assert _ids(store.list_alerts(search="sear")) == [ids["c"]]
    assert len(store.list_alerts(search="anomalouslat")) == 4
    assert _ids(store.list_alerts(search="100%_")) == [ids["c"]]  # wildcards match themselves
    assert store.list_alerts(search="%z") == [] and store.list_alerts(search="a_t") == []
    assert store.list_alerts(search="nothing-like-this") == []

    assert store.count_alerts() == 4
    assert store.count_alerts(state="firing") == 3
    assert store.count_alerts(service="checkout", mode="shadow") == 1
    assert store.count_alerts(severity="P1", state="acknowledged") == 1
    with pytest.raises(ValueError, match="unknown state"):
        store.list_alerts(state="open")


def test_keyset_pagination_returns_every_alert_once(store: Store, make_alert: MakeAlert) -> None:
    services = ["checkout", "search", "auth", "billing", "web"]
    alerts = [
        make_alert(
            services[i % 5],
            f"m{i % 7}",
            float(i),
            status="resolved" if i % 3 == 0 else "firing",
            severity=("P1", "P2", "P3")[i % 3],
        )
        for i in range(5000)
    ]
    store.upsert_alerts(alerts)
    assert store.count_alerts() == 5000

    def walk(**filters: str) -> list[int]:
        seen: list[int] = []
        before = None
        while page := store.list_alerts(limit=337, before_id=before, **filters):
            seen += _ids(page)
            before = page[-1].id
        return seen

    everything = walk()
    assert len(everything) == len(set(everything)) == 5000
    assert everything == sorted(everything, reverse=True)
    firing_search = walk(state="firing", service="search")
    expected = sum(1 for i in range(5000) if i % 5 == 1 and i % 3 != 0)
    assert len(set(firing_search)) == len(firing_search) == expected
    assert store.count_alerts(state="firing", service="search") == expected
    rows = {r.id: r for r in store.list_alerts(limit=50, before_id=everything[100])}
    assert list(rows) == everything[101:151]
    # upserting the same batch again changes nothing in the count (one row per episode)
    store.upsert_alerts(alerts[:10])
    assert store.count_alerts() == 5000


@pytest.mark.parametrize(
    "filters",
    [{}, {"state": "firing"}, {"service": "checkout"}, {"severity": "P1"}, {"mode": "shadow"}],
)
def test_alert_pages_read_an_index_on_sqlite(
    tmp_path: Path, filters: dict[str, str], make_alert: MakeAlert
) -> None:
    """A page must not sort the whole table: with 100,000 alerts that would take seconds."""
    store = Store.open(f"sqlite:///{tmp_path}/plan.db")
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    try:
        store.upsert_alerts([make_alert(starts_at=float(i)) for i in range(200)])
        sa.event.listen(store.engine, "before_cursor_execute", capture)
        assert len(store.list_alerts(before_id=150, limit=20, **filters)) <= 20
        sa.event.remove(store.engine, "before_cursor_execute", capture)
        statement, params = next((s, p) for s, p in seen if "FROM alerts" in s)
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
        plan = " | ".join(str(r[-1]) for r in rows)
        assert "TEMP B-TREE" not in plan, plan
        assert "INDEX" in plan or "PRIMARY KEY" in plan, plan
    finally:
        store.close()


def test_history_is_oldest_first(store: Store, make_alert: MakeAlert) -> None:
    alert_id = store.upsert_alert(make_alert())
    store.add_history(alert_id, 20.0, "notification", {"receiver": "pager", "tier": 0})
    store.add_history(alert_id, 10.0, "state", {"from": "pending", "to": "firing"})
    store.add_history(alert_id, 20.0, "ack", {"by": "bob"})
    rows = store.history(alert_id)
    assert [(r.time, r.kind) for r in rows] == [
        (10.0, "state"),
        (20.0, "notification"),
        (20.0, "ack"),
    ]
    assert rows[1].detail == {"receiver": "pager", "tier": 0}
    assert all(r.alert_id == alert_id for r in rows)
    assert store.history(alert_id + 1) == []


def test_ack_keeps_the_first_and_rejects_unknown_ids(store: Store, make_alert: MakeAlert) -> None:
    alert_id = store.upsert_alert(make_alert())
    assert store.ack(alert_id, 100.0, "alice")
    assert store.ack(alert_id, 200.0, "bob")
    row = store.get_alert(alert_id)
    assert row is not None and (row.acked_at, row.acked_by) == (100.0, "alice")
    assert not store.ack(alert_id + 99, 100.0, "alice")
    # a later snapshot of the same episode does not erase the acknowledgement
    store.upsert_alert(make_alert(score=0.99, updated_at=300.0))
    assert store.get_alert(alert_id).acked_by == "alice"  # type: ignore[union-attr]


def test_feedback_copies_service_and_metric(store: Store, make_alert: MakeAlert) -> None:
    a = store.upsert_alert(make_alert("checkout", "latency_p99_ms", 1.0))
    b = store.upsert_alert(make_alert("search", "cpu", 2.0))
    f1 = store.add_feedback(a, 10.0, True, "real incident, thanks")
    f2 = store.add_feedback(b, 20.0, False, "nightly batch job — noise")
    f3 = store.add_feedback(a, 30.0, False, "")
    assert len({f1, f2, f3}) == 3
    rows = store.feedback()
    assert [(r.id, r.alert_id, r.time, r.helpful) for r in rows] == [
        (f1, a, 10.0, True),
        (f2, b, 20.0, False),
        (f3, a, 30.0, False),
    ]
    assert rows[1].comment == "nightly batch job — noise"
    assert (rows[1].service, rows[1].metric) == ("search", "cpu")
    assert [r.id for r in store.feedback(service="checkout")] == [f1, f3]
    assert [r.id for r in store.feedback(metric="cpu")] == [f2]
    assert [r.id for r in store.feedback(service="checkout", since=11.0)] == [f3]
    assert store.feedback(service="checkout", metric="cpu") == []
    with pytest.raises(KeyError):
        store.add_feedback(a + b + 100, 1.0, True, "")
