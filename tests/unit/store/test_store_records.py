"""Anomalies, change events, silences and checkpoints round-trip on both backends."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from anomalert.model import Alert, ChangeEvent, Kind, Scored
from anomalert.store import SilenceRow, Store, schema


def _scored(t: float, series: str = "s1", **overrides: object) -> Scored:
    fields: dict[str, object] = {
        "series": series,
        "metric": "latency_p99_ms",
        "labels": {"service": "checkout", "metric": "latency_p99_ms", "région": "eu-west-1"},
        "timestamp": t,
        "value": 840.25,
        "score": 0.9731,
        "kind": Kind.SPIKE,
        "expected": 210.5,
        "lower": 150.125,
        "upper": 260.75,
        "reason": "p99 latency 840 ms, 4.2σ above the usual 210 ms",
    }
    fields.update(overrides)
    return Scored(**fields)  # type: ignore[arg-type]


def test_anomaly_round_trip(store: Store, make_alert: Callable[..., Alert]) -> None:
    alert_id = store.upsert_alert(make_alert())
    window = [(float(t), 200.0 + t / 7) for t in range(0, 600, 60)]
    s1 = _scored(600.0, kind=Kind.PREDICTED_BREACH, detail=45.5)
    a1 = store.add_anomaly(s1, window, alert_id=alert_id)
    s2 = _scored(660.0, kind=Kind.LEVEL_SHIFT, expected=math.nan, lower=math.nan, upper=math.nan)
    a2 = store.add_anomaly(s2, [])
    [r1] = store.anomalies(alert_id=alert_id)
    assert (r1.id, r1.alert_id, r1.window) == (a1, alert_id, window)
    assert r1.to_scored() == s1 and r1.kind is Kind.PREDICTED_BREACH
    assert r1.labels == s1.labels
    [r2] = store.anomalies(since=630.0)
    assert r2.id == a2 and r2.alert_id is None and r2.window == []
    # NaN (no baseline yet, no breach time) comes back as NaN
    assert math.isnan(r2.expected) and math.isnan(r2.upper) and math.isnan(r2.detail)
    assert dataclasses.replace(r2.to_scored(), expected=0, lower=0, upper=0, detail=0) == (
        dataclasses.replace(s2, expected=0, lower=0, upper=0, detail=0)
    )


def test_anomaly_queries(store: Store) -> None:
    for t in range(10):
        store.add_anomaly(_scored(float(t * 10), series="a" if t % 2 else "b"), [])
    everything = store.anomalies()
    assert [r.timestamp for r in everything] == [float(t * 10) for t in range(10)]
    assert [r.timestamp for r in store.anomalies(series="a")] == [10.0, 30.0, 50.0, 70.0, 90.0]
    assert [r.timestamp for r in store.anomalies(since=20.0, until=40.0)] == [20.0, 30.0, 40.0]
    # the newest `limit`, still in time order
    assert [r.timestamp for r in store.anomalies(limit=3)] == [70.0, 80.0, 90.0]
    assert [r.timestamp for r in store.anomalies(series="b", until=50.0, limit=2)] == [20.0, 40.0]
    assert store.anomalies(alert_id=12345) == []


def test_events_window_queries(store: Store) -> None:
    deploy = ChangeEvent(
        "deployment", "checkout", 1000.0, "v1.2.3", "canary → 100 %", "https://ci/1"
    )
    maintenance = ChangeEvent("maintenance", "db", 500.0, description="vacuum", end=1500.0)
    flag = ChangeEvent("feature_flag", "checkout", 2000.0, description="new-cart on")
    for e in (flag, deploy, maintenance):
        assert store.add_event(e) > 0
    assert store.events() == [maintenance, deploy, flag]
    assert store.events(service="checkout") == [deploy, flag]
    assert store.events(since=1000.0, until=1999.0) == [maintenance, deploy]
    # a window still running at `since` explains what happens inside it
    assert store.events(since=1200.0, until=1300.0) == [maintenance]
    assert store.events(since=1501.0) == [flag]
    assert store.events(until=999.0) == [maintenance]
    assert store.events(service="checkout", since=2000.0, until=2000.0) == [flag]
    assert store.events(service="web") == []


def test_silences_insert_update_and_list(store: Store) -> None:
    silence = SilenceRow(
        id="5f0c-silence",
        matchers=[
            {"name": "service", "value": "checkout", "op": "="},
            {"name": "env", "value": "prod|staging", "op": "=~"},
        ],
        starts_at=100.0,
        ends_at=3700.0,
        created_by="alice",
        comment="migration de la base — prévue",
        until_resolved=False,
        updated_at=100.0,
    )
    store.save_silence(silence)
    assert store.get_silence("5f0c-silence") == silence
    assert store.get_silence("missing") is None
    changed = dataclasses.replace(
        silence, ends_at=None, until_resolved=True, comment="until it resolves", updated_at=200.0
    )
    store.save_silence(changed)
    other = dataclasses.replace(silence, id="a-first", starts_at=50.0, matchers=[])
    store.save_silence(other)
    assert store.get_silence("5f0c-silence") == changed
    assert store.list_silences() == [other, changed]


def test_checkpoints_replace(store: Store) -> None:
    assert store.load_checkpoint("detector") is None
    blob = bytes(range(256)) * 1000
    store.save_checkpoint("detector", blob, now=1.0)
    store.save_checkpoint("pipeline", b"", now=1.0)
    assert store.load_checkpoint("detector") == blob
    store.save_checkpoint("detector", b"\x00v2", now=2.0)
    assert store.load_checkpoint("detector") == b"\x00v2"
    assert store.load_checkpoint("pipeline") == b""


def test_a_checkpoint_knows_when_it_was_saved(store: Store) -> None:
    assert store.checkpoint_time("pipeline") is None
    store.save_checkpoints({"pipeline": b"{}", "policy": b"{}"}, now=1_000.5)
    store.save_checkpoint("policy", b"{}", now=2_000.0)
    assert (store.checkpoint_time("pipeline"), store.checkpoint_time("policy")) == (
        1_000.5,
        2_000.0,
    )


@pytest.mark.parametrize("name", ["", "ü/name with spaces"])
def test_checkpoint_names_are_opaque(store: Store, name: str) -> None:
    store.save_checkpoint(name, b"x", now=0.0)
    assert store.load_checkpoint(name) == b"x"


def test_a_checkpoint_is_written_in_chunks_and_read_whole(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts larger than a chunk (PostgreSQL refuses a field past 1 GB: a detector of about
    130,000 series) are rows of chunks, read back whole and in order."""
    monkeypatch.setattr("anomalert.store.checkpoints.CHUNK", 1000)
    blob = bytes(range(256)) * 23  # 5,888 bytes: six chunks
    store.save_checkpoints({"detector": blob, "policy": b"p"}, now=1.0)
    assert store.load_checkpoints(["detector", "policy"]) == {"detector": blob, "policy": b"p"}
    with store.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(schema.checkpoint_chunks)
        assert conn.execute(count).scalar() == 7
    store.save_checkpoints({"detector": b"short"}, now=2.0)
    assert store.load_checkpoints(["detector", "policy"]) == {"detector": b"short", "policy": b"p"}
    with store.engine.connect() as conn:
        assert conn.execute(count).scalar() == 2  # the old generation's chunks are gone


def test_a_save_that_fails_midway_leaves_the_last_checkpoint_whole(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after some parts' chunks are written and before the heads move: every part
    reads as the last complete checkpoint had it (not a new detector beside an old policy),
    and the next save removes the stray chunks."""
    monkeypatch.setattr("anomalert.store.checkpoints.CHUNK", 4)
    store.save_checkpoints({"detector": b"d-one", "policy": b"p-one"}, now=1.0)
    real = store._engine.begin
    written = 0

    def failing_begin() -> Any:
        nonlocal written
        written += 1
        if written == 3:  # detector's two chunks went in; the policy's first fails
            raise RuntimeError("the process died")
        return real()

    monkeypatch.setattr(store._engine, "begin", failing_begin)
    with pytest.raises(RuntimeError, match="died"):
        store.save_checkpoints({"detector": b"d-two!", "policy": b"p-two"}, now=2.0)
    monkeypatch.setattr(store._engine, "begin", real)
    assert store.load_checkpoints(["detector", "policy"]) == {
        "detector": b"d-one",
        "policy": b"p-one",
    }
    store.save_checkpoints({"detector": b"d-3", "policy": b"p-3"}, now=3.0)
    assert store.load_checkpoints(["detector", "policy"]) == {"detector": b"d-3", "policy": b"p-3"}
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.checkpoint_chunks.c.generation)).scalars().all()
    assert len(set(rows)) == 1 and len(rows) == 2
