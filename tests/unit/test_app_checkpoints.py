"""Checkpoints are taken under the app's lock and written outside it.

At 100,000 series the detector's part is about 470 MB; written under the lock, no sample was
taken for 4-9 s every minute. These tests hold a write open and show the app taking
samples meanwhile, and the restart resuming from the moment the checkpoint was taken.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.model import Sample
from anomalert.store import Store

T0 = 1_767_600_000.0
CONFIG = {"route": {"receiver": "out"}, "receivers": [{"name": "out", "log": {}}]}


def _samples(minute: int, pods: int) -> list[Sample]:
    return [
        Sample("latency", {"service": "api", "pod": f"p{i}"}, T0 + 60.0 * minute, 100.0 + i)
        for i in range(pods)
    ]


def test_samples_are_taken_while_a_checkpoint_is_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/anomalert.db"
    clock = EventClock(T0)
    store = Store.open(url)
    app = App(parse_config(CONFIG), store, clock)
    app.ingest(_samples(0, 3))
    writing, release = threading.Event(), threading.Event()
    save = store.save_checkpoints

    def slow_save(parts: Mapping[str, bytes], now: float) -> None:
        writing.set()
        assert release.wait(30), "the test did not let the write finish"
        save(parts, now)

    store.save_checkpoints = slow_save  # type: ignore[method-assign]
    saver = threading.Thread(target=app.checkpoint)
    saver.start()
    try:
        assert writing.wait(30)
        ingest = threading.Thread(target=app.ingest, args=(_samples(1, 5),))
        ingest.start()
        ingest.join(10)
        assert not ingest.is_alive(), "the ingest waited for the checkpoint's write"
        assert app.detector.followed == 5
    finally:
        release.set()
        saver.join(30)
    store.save_checkpoints = save  # type: ignore[method-assign]
    store.close()
    restarted = App(parse_config(CONFIG), Store.open(url), EventClock(T0 + 60.0))
    try:
        assert restarted.detector.followed == 3  # the checkpoint's moment: before the 5
    finally:
        restarted.store.close()


class _Gate:
    """A lock that holds one thread at its door until told (the first checkpoint's write
    queued behind the second's)."""

    def __init__(self, held: threading.Thread, go: threading.Event) -> None:
        self.lock = threading.Lock()
        self.held, self.go = held, go
        self.waiting = threading.Event()

    def __enter__(self) -> None:
        if threading.current_thread() is self.held:
            self.waiting.set()
            assert self.go.wait(30)
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_an_older_snapshot_is_not_written_over_a_newer_one(tmp_path: Path) -> None:
    """Two checkpoints whose writes come in the other order: the later snapshot stays."""
    url = f"sqlite:///{tmp_path}/anomalert.db"
    store = Store.open(url)
    app = App(parse_config(CONFIG), store, EventClock(T0))
    app.ingest(_samples(0, 2))
    save = store.save_checkpoints
    written: list[int] = []

    def counting_save(parts: Mapping[str, bytes], now: float) -> None:
        written.append(app._snapshots)
        save(parts, now)

    store.save_checkpoints = counting_save  # type: ignore[method-assign]
    go = threading.Event()
    first = threading.Thread(target=app.checkpoint)
    gate = _Gate(first, go)
    app._saving = gate  # type: ignore[assignment]
    first.start()
    assert gate.waiting.wait(30)  # snapshot 1 taken (2 series), its write queued
    app.ingest(_samples(1, 4))
    app.checkpoint()  # snapshot 2 (4 series), written first
    go.set()
    first.join(30)
    assert written == [2]  # snapshot 1 was not written over it
    store.close()
    restarted = App(parse_config(CONFIG), Store.open(url), EventClock(T0 + 60.0))
    try:
        assert restarted.detector.followed == 4
    finally:
        restarted.store.close()
