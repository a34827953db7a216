"""``detection.max_series``: new series beyond it are refused and counted, the others go on.

A whole Prometheus' remote_write can carry millions of series; followed without a bound, the
engine's state grows until memory runs out and every series is lost with the process.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

from anomalert.api.server import create_api
from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.stream import StreamDetector
from anomalert.ingest.remote_write import encode_write_request
from anomalert.model import Sample
from anomalert.store import Store

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

T0 = 1_767_600_000.0


def cpu(pod: str, t: float) -> Sample:
    return Sample("cpu_percent", {"service": "api", "pod": pod}, t, 40.0)


def test_new_series_beyond_the_limit_are_refused_and_the_followed_go_on() -> None:
    det = StreamDetector(max_series=2)
    batch = det.score([cpu("a", T0), cpu("b", T0), cpu("c", T0)])
    assert [s.labels["pod"] for s in batch.refused] == ["c"] and batch.points == 2
    batch = det.score([cpu("a", T0 + 60), cpu("c", T0 + 60)])
    assert [s.labels["pod"] for s in batch.refused] == ["c"] and batch.points == 1
    det.retire(T0 + 30)  # b is gone: room for c
    assert det.score([cpu("c", T0 + 120)]).refused == [] and det.followed == 2
    state = pickle.loads(pickle.dumps(det)).__dict__
    del state["max_series"]
    old = StreamDetector.__new__(StreamDetector)
    old.__setstate__(state)
    assert old.max_series is None


def test_slots_grow_to_the_limit_not_past_it() -> None:
    """Doubling 64 slots for the 65th series would make 128; with a limit of 100 the slots
    stop there (every tick runs over all of them), and a raised limit grows on from it."""
    det = StreamDetector(max_series=100, capacity=64)
    det.score([cpu(f"p{i}", T0) for i in range(100)])
    assert det.capacity == 100 and det.engine.series.n == 100 and det.followed == 100
    assert det.score([cpu("one-more", T0)]).refused != []
    det.max_series = 150
    det.score([cpu("one-more", T0 + 60)])
    assert det.capacity == 150 and det.followed == 101


def test_the_api_refuses_new_series_beyond_the_limit_saying_why(tmp_path: Path) -> None:
    config = parse_config(
        {
            "detection": {"max_series": 2},
            "route": {"receiver": "out"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / "out.jsonl")}}],
        }
    )
    store = Store.open(f"sqlite:///{tmp_path}/anomalert.db")
    app = App(config, store, EventClock(T0))
    client = TestClient(create_api(app))
    try:
        body = {
            "samples": [
                {
                    "metric": "cpu_percent",
                    "labels": {"service": "api", "pod": p},
                    "timestamp": T0 - 60,
                    "value": 40.0,
                }
                for p in ("a", "b", "c")
            ]
        }
        answer = client.post("/api/v1/samples", json=body).json()
        assert answer["accepted"] == 2
        assert answer["rejected"] == [
            {
                "index": 2,
                "error": "samples[2]: a new series, and detection.max_series (2) are "
                "followed already; refused",
            }
        ]
        write = encode_write_request([cpu("d", T0 - 30), cpu("e", T0 - 30)])
        r = client.post(
            "/api/v1/write", content=write, headers={"content-type": "application/x-protobuf"}
        )
        assert r.status_code == 400
        assert "new series beyond detection.max_series (2)" in r.json()["error"]["message"]
        metrics = client.get("/metrics").text
        assert 'anomalert_samples_rejected_total{reason="series_limit",source="json"} 1.0' in (
            metrics
        )
        assert 'reason="series_limit",source="remote_write"} 2.0' in metrics
        assert client.get("/readyz").json()["series"] == 2
    finally:
        client.close()
        app.http.close()
        store.close()
