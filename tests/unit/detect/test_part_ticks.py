"""A tick over the series that have a point, apart from the others (``Ensemble.take``).

A batch deep in a few series (one series' backlog beside thousands followed) was scored as
one engine tick over every series per point: 3,000 points of one series beside 11,000
others took 13 s. Stepping a copy of those series' state alone and writing it back must
be the same as stepping everything with no point for the others: these tests hold the two
to exactly the same scores and the same state afterwards.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from anomalert.detect import stream
from anomalert.detect.engine import BatchEngine
from anomalert.detect.stream import StreamDetector, series_id
from anomalert.model import Sample

T0 = 1.7e9
MINUTE = 60.0


def _values(rng: np.random.Generator, steps: int, n: int) -> np.ndarray:
    """A daily wave with noise, a spike and a lasting shift on some series."""
    k = np.arange(steps)[:, None]
    x = 100.0 + 20.0 * np.sin(2 * np.pi * k / 1440 + np.arange(n)) + rng.normal(0, 2, (steps, n))
    x[steps // 2, 1] += 60.0
    x[2 * steps // 3 :, 2] += 25.0
    return x


def _state(obj: object) -> bytes:
    return pickle.dumps(obj)


def test_stepping_a_part_is_stepping_the_whole_without_points_for_the_others() -> None:
    n, steps = 9, 4 * 1440
    rng = np.random.default_rng(5)
    x = _values(rng, steps, n)
    whole, split = BatchEngine(n), BatchEngine(n)
    some = np.array([1, 2, 6], dtype=np.intp)
    for k in range(steps):
        t = np.full(n, T0 + MINUTE * k)
        if k % 7 in (3, 4):  # two ticks in seven: only series 1, 2 and 6 have points
            xs = np.full(n, np.nan)
            xs[some] = x[k, some]
            full = whole.series.step(t, xs)
            part = split.take(some)
            got = part.series.step(t[some], x[k, some])
            split.put(some, part)
            np.testing.assert_array_equal(got.score, full.score[some])
            np.testing.assert_array_equal(got.flagged, full.flagged[some])
            np.testing.assert_array_equal(got.expected, full.expected[some])
        else:
            a, b = whole.series.step(t, x[k]), split.series.step(t, x[k])
            np.testing.assert_array_equal(a.score, b.score)
    assert whole.series.run.any() or whole.series.seen.min() > 0
    assert _state(whole) == _state(split)


def test_an_engine_with_groups_is_not_taken_apart() -> None:
    engine = BatchEngine(4, groups=np.arange(4).reshape(2, 2))
    with pytest.raises(ValueError, match="groups"):
        engine.take(np.array([0], dtype=np.intp))


def _samples(sid: int, start: int, count: int, rng: np.random.Generator) -> list[Sample]:
    t = T0 + MINUTE * (start + np.arange(count))
    v = 100.0 + 20.0 * np.sin(2 * np.pi * np.arange(start, start + count) / 1440 + sid)
    v = v + rng.normal(0, 2, count)
    if start <= 3000 < start + count and sid == 3:
        v[3000 - start] += 80.0  # a spike in the backlog
    return [
        Sample("latency", {"service": "api", "pod": f"p{sid}"}, float(a), float(b))
        for a, b in zip(t, v, strict=True)
    ]


def _feed(fixed: float, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple], bytes]:
    """Twelve series live for two days; then series 3 sends a 1,500-point backlog and
    series 5 a 700-point one in one batch; then all go on live."""
    monkeypatch.setattr(stream, "PART_FIXED", fixed)
    rng = np.random.default_rng(6)
    det = StreamDetector(capacity=16)
    out: list[tuple] = []
    for k in range(2 * 1440):
        batch = [s for sid in range(12) for s in _samples(sid, k, 1, rng)]
        out += [(s.series, s.timestamp, s.score, s.reason) for s in det.score(batch).scored]
    behind = 2 * 1440
    backlog = _samples(3, behind, 1500, rng) + _samples(5, behind, 700, rng)
    out += [(s.series, s.timestamp, s.score, s.reason) for s in det.score(backlog).scored]
    for k in range(behind, behind + 1600):
        batch = [s for sid in range(12) if sid not in (3, 5) for s in _samples(sid, k, 1, rng)]
        batch += _samples(3, k + 1500, 1, rng) if k < behind + 100 else []
        out += [(s.series, s.timestamp, s.score, s.reason) for s in det.score(batch).scored]
    return out, _state(det)


def test_a_backlog_scores_the_same_on_its_series_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream scores a deep batch of two series on their state alone (the default) and
    over every slot (forced): the same points reported, the same reasons, the same state."""
    apart, apart_state = _feed(stream.PART_FIXED, monkeypatch)
    together, together_state = _feed(float("inf"), monkeypatch)
    spike = T0 + MINUTE * 3000
    assert sum(score >= 0.9 for _, t, score, _ in apart if t == spike) == 1  # series 3's
    assert apart == together
    assert apart_state == together_state


def test_a_part_is_written_back_when_a_tick_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slots' times move with every tick scored; if a later tick of the batch raises,
    the engine's state of the ticks before it is still written back, so the two agree."""
    rng = np.random.default_rng(7)
    det = StreamDetector(capacity=16)
    for k in range(30):
        det.score([s for sid in range(12) for s in _samples(sid, k, 1, rng)])
    slot = det.index[series_id("latency", {"service": "api", "pod": "p3"})]
    original = BatchEngine.step
    calls = 0

    def failing(self: BatchEngine, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 6:
            raise RuntimeError("a failing tick")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BatchEngine, "step", failing)
    monkeypatch.setattr(stream, "PART_FIXED", 0)  # 16 slots: apart only if copying is free
    with pytest.raises(RuntimeError, match="failing tick"):
        det.score(_samples(3, 30, 100, rng))
    assert det.last_t[slot] == T0 + MINUTE * 34  # five ticks scored
    assert det.engine.series.seen[slot] == 35  # and the engine's state says so
