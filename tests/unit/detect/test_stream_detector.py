"""The live face of the engine: same scores as the batch engine, growth, late samples, context."""

from __future__ import annotations

import pickle

import numpy as np

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.stream import StreamDetector, series_id
from anomalert.model import Kind, Sample

SETTINGS = Settings()


def _series(seed: int, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 100 + rng.normal(0, 5, n)
    x[350] += 80  # a spike
    return x


def _samples(metric: str, service: str, xs: np.ndarray, t0: float = 0.0) -> list[Sample]:
    return [Sample(metric, {"service": service}, t0 + 60.0 * i, float(v)) for i, v in enumerate(xs)]


def test_scores_match_the_batch_engine_point_for_point() -> None:
    a, b = _series(1), _series(2)
    stream = StreamDetector(SETTINGS, report_above=0.0, capacity=2)
    got: dict[str, list[float]] = {"a": [], "b": []}
    sa, sb = _samples("m", "a", a), _samples("m", "b", b)
    for k in range(0, len(a), 50):  # batches of 50 points of both series
        for s in stream.score(sa[k : k + 50] + sb[k : k + 50]).scored:
            got[s.service].append(s.score)
    engine = BatchEngine(2, SETTINGS)
    want = []
    for i in range(len(a)):
        step = engine.step(np.full(2, 60.0 * i), np.array([a[i], b[i]])).series
        want.append(step.score.copy())
    np.testing.assert_allclose(got["a"], [w[0] for w in want])
    np.testing.assert_allclose(got["b"], [w[1] for w in want])


def test_new_series_join_a_running_stream_and_the_spike_is_reported() -> None:
    stream = StreamDetector(SETTINGS, capacity=1)
    first = _samples("latency", "checkout", _series(3))
    stream.score(first[:200])
    second = _samples("latency", "payments", _series(4))
    out = []
    for k in range(200, 400, 20):
        out += stream.score(first[k : k + 20] + second[k - 200 : k - 180]).scored
    assert stream.n == 2 and stream.capacity >= 2
    spikes = [s for s in out if s.service == "checkout" and s.score >= 0.9]
    assert [s.timestamp for s in spikes] == [60.0 * 350]
    assert spikes[0].kind == Kind.SPIKE
    assert "latency" in spikes[0].reason and spikes[0].lower < spikes[0].expected < spikes[0].upper


def test_late_and_duplicate_samples_are_returned_not_scored() -> None:
    stream = StreamDetector(SETTINGS)
    stream.score(_samples("m", "s", np.arange(10.0)))
    late = [
        Sample("m", {"service": "s"}, 60.0 * 5, 1.0),
        Sample("m", {"service": "s"}, 60.0 * 9, 1.0),
    ]
    batch = stream.score([*late, Sample("m", {"service": "s"}, 60.0 * 10, 1.0)])
    assert batch.late == late and batch.points == 1


def test_context_keeps_the_recent_window_with_bands_and_survives_pickling() -> None:
    stream = StreamDetector(SETTINGS, window=16)
    stream.score(_samples("m", "s", _series(5)[:300]))
    sid = series_id("m", {"service": "s"})
    ctx = pickle.loads(pickle.dumps(stream)).context(sid)
    assert len(ctx.times) == 16 and ctx.times == sorted(ctx.times) and ctx.times[-1] == 60.0 * 299
    assert all(lo <= e <= hi for lo, e, hi in zip(ctx.lower, ctx.expected, ctx.upper, strict=True))
    assert stream.context("unknown").times == []


def test_watched_series_report_every_point() -> None:
    stream = StreamDetector(SETTINGS)
    xs = _samples("m", "s", _series(6)[:300])
    stream.score(xs[:200])
    stream.watch([series_id("m", {"service": "s"})])
    assert len(stream.score(xs[200:210]).scored) == 10


def test_record_detector_flags_an_unusual_combination() -> None:
    from anomalert.detect.stream import RecordDetector

    rng = np.random.default_rng(8)
    det = RecordDetector(("rps", "errors", "latency"), capacity=1)
    flagged = []
    for i in range(1500):
        load = 100 + 20 * np.sin(i / 50)
        row = [load + rng.normal(0, 2), 0.01 * load + rng.normal(0, 0.05), 50 + rng.normal(0, 2)]
        if i == 1400:
            row = [load, 0.01 * load + 3.0, 50 + 40]  # errors and latency both jump
        other = [100 + rng.normal(0, 2), 1 + rng.normal(0, 0.05), 50 + rng.normal(0, 2)]
        for s in det.score([("checkout", 60.0 * i, row), ("search", 60.0 * i, other)]):
            if s.score >= 0.9:
                flagged.append((s.service, s.timestamp))
    assert det.capacity >= 2
    assert ("checkout", 60.0 * 1400) in flagged
    assert all(service == "checkout" for service, _ in flagged)
