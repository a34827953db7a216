"""Series that stop reporting are retired: their slots go to new series, untrained.

Until 2026-12-06 (twenty-sixth session) the live engine kept every series it had ever seen,
and stepped all of them on every tick. Pods replaced at each deploy leave their series
behind under names never seen again: state and tick time grew with every deploy, for good.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from anomalert.detect.stream import StreamDetector, series_id
from anomalert.model import Sample

T0 = 1_796_860_800.0
HOUR = 3600.0


def pod(name: str, t: float, value: float, metric: str = "cpu_percent") -> Sample:
    return Sample(metric, {"service": "api", "pod": name}, t, value)


def test_churned_pods_reuse_the_slots_of_retired_ones() -> None:
    """Ten generations of four pods, each reporting for six hours a minute apart; what has
    not reported for two hours is retired every hour: the slots stay at two generations'."""
    det = StreamDetector()
    rng = np.random.default_rng(0)
    for generation in range(10):
        names = [f"g{generation}-{i}" for i in range(4)]
        for minute in range(360):
            t = T0 + generation * 6 * HOUR + 60.0 * minute
            det.score([pod(n, t, 40.0 + rng.normal()) for n in names])
            if minute % 60 == 0:
                det.retire(t - 2 * HOUR)
    # Each generation starts while the one before is not yet two hours silent: the slots
    # hold two generations, and only the last one is followed at the end.
    assert det.n == 8 and len(det.free) == 4
    assert set(det.index) == {
        series_id("cpu_percent", {"service": "api", "pod": f"g9-{i}"}) for i in range(4)
    }


def slot_state(det: StreamDetector, j: int) -> list[np.ndarray]:
    """Every per-series array of the engine's slot j."""
    ens = det.engine.series
    arrays = []
    for part in ens._parts():
        piece = part.take(np.array([j]))
        arrays += [
            np.asarray(a, dtype=float)
            for _, a in sorted(vars(piece).items())
            if isinstance(a, np.ndarray) and not _.startswith("_")
        ]
    for name in ("run", "seen", "richest", "quiet", "zone", "born"):
        arrays.append(np.asarray(getattr(ens, name)[[j]], dtype=float))
    arrays += [
        np.asarray(ens.pending[..., j], dtype=float),
        np.asarray(ens.recent[..., j], dtype=float),
    ]
    return arrays


def test_a_retired_slot_is_as_untrained_as_a_new_one() -> None:
    """Taken by a new series, a slot holds nothing of the series before it: its level, tails,
    routine memories and age are a fresh slot's, array for array."""
    det = StreamDetector()
    for minute in range(3000):
        det.score([pod("old", T0 + 60.0 * minute, 1000.0 + (minute % 7))])
    fresh = slot_state(StreamDetector(), 0)
    assert any(  # the old series taught its slot something
        not np.array_equal(a, b, equal_nan=True)
        for a, b in zip(slot_state(det, 0), fresh, strict=True)
    )
    assert det.retire(T0 + 60.0 * 3000) == [
        series_id("cpu_percent", {"service": "api", "pod": "old"})
    ]
    assert all(
        np.array_equal(a, b, equal_nan=True) for a, b in zip(slot_state(det, 0), fresh, strict=True)
    )
    assert det.context(series_id("cpu_percent", {"service": "api", "pod": "old"})).values == []
    # The new series takes slot 0 and is followed from scratch: young, its own level.
    t = T0 + 60.0 * 4000
    batch = det.score([pod("new", t, 5.0, metric="memory_percent")])
    assert det.index[series_id("memory_percent", {"service": "api", "pod": "new"})] == 0
    assert all(s.young for s in batch.scored)
    for minute in range(1, 30):
        det.score([pod("new", t + 60.0 * minute, 5.0 + (minute % 3) * 0.1, "memory_percent")])
    context = det.context(series_id("memory_percent", {"service": "api", "pod": "new"}))
    assert len(context.values) == 30 and abs(context.expected[-1] - 5.1) < 1.0


def test_a_watched_series_is_not_retired_and_a_returning_one_starts_again() -> None:
    det = StreamDetector()
    det.score([pod("a", T0, 1.0), pod("b", T0, 2.0)])
    a = series_id("cpu_percent", {"service": "api", "pod": "a"})
    det.watch([a])  # an open alert on it: the policy resolves it as stale first
    assert det.retire(T0 + HOUR) == [series_id("cpu_percent", {"service": "api", "pod": "b"})]
    assert det.retire(T0 + HOUR) == []  # a free slot is not retired twice
    det.watch([a], on=False)
    assert det.retire(T0 + HOUR) == [a]
    assert det.followed == 0 and sorted(det.free) == [0, 1]
    det.score([pod("b", T0 + 2 * HOUR, 2.0)])  # back after its retirement: a new series
    assert det.followed == 1 and det.free == [1]
    assert det.context(series_id("cpu_percent", {"service": "api", "pod": "b"})).values == [2.0]


def test_a_counter_retired_and_back_starts_from_its_next_value() -> None:
    det = StreamDetector()
    det.score([Sample("jobs_total", {"service": "api"}, T0, 100.0, counter=True)])
    det.score([Sample("jobs_total", {"service": "api"}, T0 + 60.0, 160.0, counter=True)])
    det.retire(T0 + HOUR)
    back = [Sample("jobs_total", {"service": "api"}, T0 + 2 * HOUR, 9000.0, counter=True)]
    batch = det.score(back)
    assert np.isnan(batch.rates()[id(back[0])])  # its first sample again: no rate from 160


def test_a_checkpoint_keeps_the_free_slots() -> None:
    det = StreamDetector()
    det.score([pod("a", T0, 1.0), pod("b", T0 + 7200.0, 2.0)])
    det.retire(T0 + HOUR)
    restored = pickle.loads(pickle.dumps(det))
    assert restored.free == [0] and restored.moves == det.moves == 1
    restored.score([pod("c", T0 + 7260.0, 3.0)])
    assert restored.index[series_id("cpu_percent", {"service": "api", "pod": "c"})] == 0
    state = pickle.loads(pickle.dumps(det)).__dict__
    del state["free"], state["moves"]
    old = StreamDetector.__new__(StreamDetector)
    old.__setstate__(state)
    assert old.free == [] and old.moves == 0


@pytest.mark.parametrize("limit", [True, False])
def test_a_slot_takes_the_limit_of_its_new_metric(limit: bool) -> None:
    """The breach forecast's ceiling is per series: a reused slot has its new metric's."""
    det = StreamDetector(limits={"memory_percent": 100.0})
    det.score([pod("a", T0, 50.0, metric="memory_percent")])
    det.retire(T0 + HOUR)
    det.score([pod("b", T0 + 2 * HOUR, 50.0, metric="memory_percent" if limit else "cpu_percent")])
    forecast = next(d for d in det.engine.series.detectors if hasattr(d, "limits"))
    assert np.isfinite(forecast.limits[0]) == limit
