"""The service retires series silent for ``detection.retire_after`` while others report.

Silence counts on the data's clock and only while data flows: a source that stops, or a
service restarted after a long stop, retires nothing until data has flowed for an hour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anomalert.api.services import detector_metrics
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.peers import PEERS_LABEL
from anomalert.detect.stream import series_id
from anomalert.model import Sample
from anomalert.store import Store

T0 = 1_767_600_000.0
HOUR = 3600.0


def make_app(tmp_path: Path, detection: dict[str, Any]) -> tuple[App, EventClock]:
    config = parse_config(
        {
            "detection": detection,
            "route": {"receiver": "out"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
        }
    )
    clock = EventClock(T0)
    return App(config, Store.open(f"sqlite:///{tmp_path}/anomalert.db"), clock), clock


def run(app: App, clock: EventClock, start: float, hours: float, pods: tuple[str, ...]) -> None:
    """Each pod's cpu every minute (none when ``pods`` is empty), the app ticking along."""
    for minute in range(int(hours * 60)):
        t = start + 60.0 * minute
        clock.advance(t)
        if pods:
            app.ingest([Sample(f"cpu_{p}", {"service": "api"}, t, 40.0) for p in pods])
        app.tick()


def test_a_silent_series_is_retired_and_its_metric_leaves_the_service(tmp_path: Path) -> None:
    app, clock = make_app(tmp_path, {"retire_after": "6h"})
    try:
        run(app, clock, T0, 2, ("a", "b"))
        assert detector_metrics(app) == {"api": {"cpu_a", "cpu_b"}}
        run(app, clock, T0 + 2 * HOUR, 5.5, ("b",))
        assert app.detector.followed == 2  # a: silent for 5.5 h
        run(app, clock, T0 + 7.5 * HOUR, 1, ("b",))  # the pass at 8 h: silent for 6 h
        assert app.detector.followed == 1
        assert detector_metrics(app) == {"api": {"cpu_b"}}
        assert app.metrics.retired._value.get() == 1
    finally:
        app.store.close()


def test_nothing_is_retired_while_no_data_flows_nor_in_the_first_hour_after(
    tmp_path: Path,
) -> None:
    app, clock = make_app(tmp_path, {"retire_after": "6h"})
    try:
        run(app, clock, T0, 2, ("a", "b"))
        run(app, clock, T0 + 2 * HOUR, 10, ())  # the source is down for ten hours
        assert app.detector.followed == 2
        run(app, clock, T0 + 12 * HOUR, 1, ("b",))  # back, a not yet
        assert app.detector.followed == 2  # an hour's grace to report
        run(app, clock, T0 + 13 * HOUR, 1.5, ("b",))
        assert app.detector.followed == 1
    finally:
        app.store.close()


@pytest.mark.parametrize("retire_after", ["0s", None])
def test_zero_never_retires_and_the_default_is_a_week(
    tmp_path: Path, retire_after: str | None
) -> None:
    detection = {} if retire_after is None else {"retire_after": retire_after}
    app, clock = make_app(tmp_path, detection)
    try:
        assert app.config.detection.retire_after == (0.0 if retire_after else 7 * 24 * HOUR)
        run(app, clock, T0, 1, ("a", "b"))
        run(app, clock, T0 + HOUR, 10, ("b",))
        assert app.detector.followed == 2
    finally:
        app.store.close()


def test_a_retired_pods_alerts_leave_the_services_bookkeeping(tmp_path: Path) -> None:
    """A pod's alerts are remembered by the series their points carry: its own, or (an
    outlier among its peers) its peer verdicts' id. Retiring the pod forgets both, so pods
    replaced at every deploy do not leave entries behind for good."""
    app, clock = make_app(tmp_path, {"retire_after": "6h"})
    try:
        rng = np.random.default_rng(0)

        def pods(t: float, names: tuple[str, ...]) -> list[Sample]:
            # Pod a runs 50 points hotter than its three peers from its second hour.
            hot = {p: 50.0 if p == "a" and t >= T0 + HOUR else 0.0 for p in names}
            return [
                Sample("cpu_percent", {"service": "api", "pod": p}, t, 40.0 + hot[p] + rng.normal())
                for p in names
            ]

        for minute in range(240):
            t = T0 + 60.0 * minute
            clock.advance(t)
            app.ingest(pods(t, ("a", "b", "c", "d")))
            app.tick()
        own = {p: series_id("cpu_percent", {"service": "api", "pod": p}) for p in "ab"}
        peer = series_id("cpu_percent", {"service": "api", "pod": "a", PEERS_LABEL: "peers"})
        assert peer in app.detector.peer_sids  # pod a stood apart from its peers
        # As ``_decide`` keeps them for alerts on these series (fingerprint -> series id).
        app.series_of.update({"fp-a": own["a"], "fp-a-peers": peer, "fp-b": own["b"]})
        for minute in range(240, 240 + 7 * 60):
            t = T0 + 60.0 * minute
            clock.advance(t)
            app.ingest(pods(t, ("b", "c", "d")))
            app.tick()
        assert own["a"] not in app.detector.index and peer not in app.detector.peer_sids
        assert app.series_of == {"fp-b": own["b"]}
    finally:
        app.store.close()
