"""The outbox: idempotent enqueue (also across two stores), due order, retry bookkeeping."""

from __future__ import annotations

import threading

import pytest

from anomalert.store import Store


def test_enqueue_is_idempotent_by_key(store: Store) -> None:
    payload = {"text": "checkout p99 ↑", "alerts": [{"fp": "ab12", "score": 0.97}], "n": 2}
    assert store.enqueue("group-1/pager/firing", "pager", payload, now=100.0)
    assert not store.enqueue("group-1/pager/firing", "pager", {"other": True}, now=200.0)
    assert not store.enqueue("group-1/pager/firing", "slack", payload, now=300.0)
    [item] = store.outbox()
    assert (item.key, item.receiver, item.payload, item.status) == (
        "group-1/pager/firing",
        "pager",
        payload,
        "pending",
    )
    assert (item.attempts, item.next_attempt_at, item.created_at, item.updated_at) == (
        0,
        100.0,
        100.0,
        100.0,
    )
    assert item.last_error is None and item.sent_at is None


def test_enqueue_is_idempotent_across_two_stores(db_url: str) -> None:
    """Two processes (here two stores on one database) racing on the same keys."""
    first, second = Store.open(db_url), Store.open(db_url)
    try:
        keys = [f"k{i}" for i in range(40)]
        results: dict[str, list[bool]] = {"a": [], "b": []}

        def run(store: Store, name: str) -> None:
            results[name] = [store.enqueue(k, "webhook", {"k": k}, now=1.0) for k in keys]

        threads = [
            threading.Thread(target=run, args=(first, "a")),
            threading.Thread(target=run, args=(second, "b")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # each key was accepted exactly once, by one of the two stores
        assert [a + b for a, b in zip(results["a"], results["b"], strict=True)] == [1] * 40
        assert sorted(i.key for i in second.outbox(limit=100)) == sorted(keys)
        assert not first.enqueue("k0", "webhook", {}, now=2.0)
    finally:
        first.close()
        second.close()


def test_due_is_pending_and_oldest_first(store: Store) -> None:
    for i, now in enumerate([10.0, 5.0, 20.0, 7.0]):
        store.enqueue(f"k{i}", "webhook" if i % 2 else "pager", {"i": i}, now=now)
    ids = {i.key: i.id for i in store.outbox()}
    assert [i.key for i in store.due(now=10.0)] == ["k0", "k1", "k3"]
    assert [i.key for i in store.due(now=100.0, limit=2)] == ["k0", "k1"]
    assert store.due(now=4.0) == []
    store.mark_sent(ids["k0"], now=11.0)
    store.retry_later(ids["k1"], now=11.0, next_at=50.0, error="503 Service Unavailable")
    store.mark_failed(ids["k3"], now=12.0, error="400 bad request")
    assert [i.key for i in store.due(now=30.0)] == ["k2"]
    assert [i.key for i in store.due(now=50.0)] == ["k1", "k2"]  # still oldest first


def test_retry_and_final_bookkeeping(store: Store) -> None:
    store.enqueue("k", "pager", {}, now=0.0)
    [item] = store.due(now=0.0)
    store.retry_later(item.id, now=1.0, next_at=31.0, error="timeout")
    store.retry_later(item.id, now=31.0, next_at=91.0, error="429 too many")
    [after] = store.outbox()
    assert (after.status, after.attempts, after.next_attempt_at) == ("pending", 2, 91.0)
    assert (after.last_error, after.updated_at, after.sent_at) == ("429 too many", 31.0, None)
    assert store.due(now=90.0) == []
    store.mark_sent(item.id, now=92.0)
    [sent] = store.outbox()
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == ("sent", 3, 92.0, None)
    assert store.due(now=1000.0) == []

    store.enqueue("bad", "slack", {}, now=100.0)
    bad = store.due(now=100.0)[0]
    store.mark_failed(bad.id, now=101.0, error="invalid_token")
    [failed] = store.outbox(status="failed")
    assert (failed.key, failed.attempts, failed.last_error, failed.sent_at) == (
        "bad",
        1,
        "invalid_token",
        None,
    )
    assert store.due(now=1000.0) == []


def test_outbox_listing_filters(store: Store) -> None:
    for i in range(6):
        store.enqueue(f"k{i}", ("pager", "slack")[i % 2], {"i": i}, now=float(i))
    first = store.outbox(status="pending", receiver="pager")
    assert [i.key for i in first] == ["k4", "k2", "k0"]  # newest first
    store.mark_sent(first[0].id, now=10.0)
    assert [i.key for i in store.outbox(status="sent")] == ["k4"]
    assert [i.key for i in store.outbox(receiver="slack", limit=2)] == ["k5", "k3"]
    assert len(store.outbox(status="pending")) == 5
    with pytest.raises(ValueError, match="unknown status"):
        store.outbox(status="queued")


def test_enqueued_since_reads_each_notification_once_in_order(store: Store) -> None:
    """A restart reads back what was told after its checkpoint: every integration's item
    carries the notification's payload, which counts once, whatever became of the item."""
    for key, t in (("n1", 100.0), ("n2", 200.0), ("n3", 300.0)):
        for integration in ("pager", "slack"):
            store.enqueue(f"{key}/{integration}", integration, {"key": key, "t": t}, now=t)
    sent = store.due(now=250.0)[0]
    store.mark_sent(sent.id, 251.0)
    failed = store.due(now=250.0)[0]
    store.mark_failed(failed.id, 252.0, "gone")
    assert store.enqueued_since(150.0) == [{"key": "n2", "t": 200.0}, {"key": "n3", "t": 300.0}]
    assert [p["key"] for p in store.enqueued_since(-float("inf"))] == ["n1", "n2", "n3"]
    assert store.enqueued_since(301.0) == []
