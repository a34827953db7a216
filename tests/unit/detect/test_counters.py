"""Counters are followed as their per-second rate: a restart is not a drop, a halving is.

Until 2026-12-06 (twenty-sixth session) the engine followed a counter's running total as it
came: twelve one-minute request counters restarting three times each in two weeks paged 29
times, 27 of them at a restart ("http_requests_total 315, 651.4σ below the usual 4.83e+06"),
and none of the six whose traffic halved for half an hour paged (a slope, not a level).
Followed as rates (``detect.counters``): no page at a restart, every halving paged
(``/tmp`` script of that session, in docs/measurements.md). A restart's own interval has no
rate: the new process counted for part of it only, and read with Prometheus' reset rule
over the whole interval, 31 of 36 such restarts (30 % of the minute counted) paged as drops.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from anomalert.detect.counters import increase, rate
from anomalert.detect.ensemble import DEFAULT_THRESHOLD
from anomalert.detect.stream import Batch, StreamDetector, series_id
from anomalert.model import Sample

T0 = 1_796_860_800.0  # 2026-12-10 00:00 UTC
DAY = 86_400.0
API = {"service": "api"}


def counter(t: float, value: float, **labels: str) -> Sample:
    return Sample("http_requests_total", {**API, **labels}, t, value, counter=True)


def test_the_increase_across_a_restart_is_what_was_counted_since() -> None:
    assert increase(100.0, 130.0) == 30.0
    assert increase(100.0, 100.0) == 0.0
    assert increase(100.0, 7.0) == 7.0  # restarted from zero, counted 7 since
    assert np.isnan(increase(np.nan, 7.0))  # nothing before: not a restart
    assert increase(np.array([100.0, 100.0]), np.array([130.0, 7.0])).tolist() == [30.0, 7.0]
    assert rate(0.0, 100.0, 60.0, 130.0) == pytest.approx(0.5)
    # No rate across a restart: the new process counted for an unknown part of the minute.
    assert np.isnan(rate(0.0, 100.0, 60.0, 7.0))
    assert np.isnan(rate(0.0, np.array([100.0]), 60.0, np.array([7.0]))).all()


def rates(batch: Batch, samples: list[Sample]) -> list[float]:
    """The rate each sample was scored as (NaN: a counter's first; absent: a gauge's)."""
    return [batch.rates().get(id(s), s.value) for s in samples]


def test_a_counter_is_scored_on_its_rate_from_its_second_sample() -> None:
    det = StreamDetector()
    first = [counter(T0, 10.0)]
    batch = det.score(first)
    assert batch.points == 1 and batch.late == []  # taken, nothing to score yet
    assert np.isnan(rates(batch, first)[0])
    values = [40.0, 70.0, 5.0, 35.0]  # a restart before the third
    later = [counter(T0 + 60.0 * (k + 1), v) for k, v in enumerate(values)]
    batch = det.score(later)
    assert batch.points == 4
    got = rates(batch, later)
    assert got[:2] + got[3:] == pytest.approx([0.5, 0.5, 0.5]) and np.isnan(got[2])
    sid = series_id("http_requests_total", API)
    assert det.context(sid).values == pytest.approx([0.5, 0.5, 0.5])  # the restart: none
    assert det.context(sid).times == [T0 + 60.0 * k for k in (1, 2, 4)]
    # An irregular gap: the rate is the average over it.
    gap = [counter(T0 + 540.0, 335.0)]  # 300 counted in 300 s
    assert rates(det.score(gap), gap) == pytest.approx([1.0])


def test_late_and_repeated_counter_samples_are_late_and_change_nothing() -> None:
    det = StreamDetector()
    det.score([counter(T0, 10.0), counter(T0 + 60.0, 70.0)])
    batch = det.score([counter(T0 + 60.0, 70.0), counter(T0 + 30.0, 40.0)])
    assert len(batch.late) == 2 and batch.points == 0 and batch.rates() == {}
    # The next rate is measured from the latest sample taken, not from a late one.
    nxt = [counter(T0 + 120.0, 130.0)]
    assert rates(det.score(nxt), nxt) == pytest.approx([1.0])


def test_a_series_keeps_the_kind_its_first_sample_had() -> None:
    """Metadata that arrives later must not turn a followed gauge into a rate (or back)."""
    det = StreamDetector()
    det.score([Sample("jobs_total", API, T0, 5.0)])  # first seen as a gauge
    gauge = [Sample("jobs_total", API, T0 + 60.0, 9.0, counter=True)]
    batch = det.score(gauge)
    assert batch.rates() == {} and det.context(series_id("jobs_total", API)).values[-1] == 9.0
    det.score([counter(T0, 5.0)])
    unflagged = [Sample("http_requests_total", API, T0 + 60.0, 65.0)]  # flag lost
    assert rates(det.score(unflagged), unflagged) == pytest.approx([1.0])


def test_counters_and_gauges_share_a_batch_and_a_tick() -> None:
    det = StreamDetector()
    det.score([counter(T0, 0.0, pod="a"), Sample("cpu_percent", API, T0, 40.0)])
    mixed = [
        counter(T0 + 60.0, 120.0, pod="a"),
        counter(T0 + 60.0, 7.0, pod="b"),  # a new pod's first sample
        Sample("cpu_percent", API, T0 + 60.0, 41.0),
    ]
    batch = det.score(mixed)
    assert batch.points == 3
    assert rates(batch, mixed)[0] == pytest.approx(2.0) and np.isnan(rates(batch, mixed)[1])
    assert det.context(series_id("cpu_percent", API)).values == [40.0, 41.0]
    assert det.context(series_id("http_requests_total", {**API, "pod": "b"})).values == []


def test_a_checkpoint_keeps_where_each_counter_was() -> None:
    det = StreamDetector()
    det.score([counter(T0, 10.0, pod="a"), counter(T0, 500.0, pod="b")])
    restored = pickle.loads(pickle.dumps(det))
    after = [counter(T0 + 60.0, 70.0, pod="a"), counter(T0 + 60.0, 800.0, pod="b")]
    assert rates(restored.score(after), after) == pytest.approx([1.0, 5.0])


def test_a_checkpoint_from_before_counters_follows_gauges() -> None:
    det = StreamDetector()
    det.score([Sample("cpu_percent", API, T0, 5.0)])
    state = pickle.loads(pickle.dumps(det)).__dict__
    del state["counter"], state["raw"]
    old = StreamDetector.__new__(StreamDetector)
    old.__setstate__(state)
    old.score([Sample("cpu_percent", API, T0 + 60.0, 6.0)])
    assert old.context(series_id("cpu_percent", API)).values == [5.0, 6.0]
    new = [counter(T0 + 60.0, 10.0), counter(T0 + 120.0, 70.0)]
    assert rates(old.score(new), new)[1] == pytest.approx(1.0)


def requests(series: int, days: float, seed: int) -> tuple[np.ndarray, np.ndarray, list, int]:
    """One-minute request counters with a daily rate (5 to 50 a second), each restarting
    three times after its first day (the new process up for the last 30 % of that minute);
    the even ones' traffic halves for half an hour at 80 % of the run. Times, running totals,
    restart ticks per series, the halving's first tick."""
    t = T0 + 60.0 * np.arange(int(days * DAY / 60.0))
    daily = 0.5 - 0.5 * np.cos(2.0 * np.pi * ((t - T0) % DAY / 3600.0 - 3.0) / 24.0)
    rng = np.random.default_rng(seed)
    halving = int(0.8 * t.size)
    ticks = np.arange(t.size)
    totals, restarts = [], []
    for i in range(series):
        per_second = 5.0 + 45.0 * daily
        if i % 2 == 0:
            per_second = per_second * np.where(
                (ticks >= halving) & (ticks < halving + 30), 0.5, 1.0
            )
        counted = rng.poisson(60.0 * per_second).astype(float)
        total = np.cumsum(counted)
        at = np.sort(rng.choice(np.arange(1440, t.size), 3, replace=False))
        for k in at:
            total[k:] -= total[k - 1] + 0.7 * counted[k]
        totals.append(total)
        restarts.append(at)
    return t, np.column_stack(totals), restarts, halving


def pages(t: np.ndarray, totals: np.ndarray, as_counter: bool) -> list[tuple[int, int]]:
    """(tick, series) of each page: a flagged point after 20 quiet ticks, as the policy
    pages; series mature after two days (the engine's own rule)."""
    det = StreamDetector()
    last = np.full(totals.shape[1], -1e9)
    out = []
    for k in range(t.size):
        batch = det.score(
            [
                counter(t[k], float(v), pod=str(i))
                if as_counter
                else Sample("http_requests_total", {**API, "pod": str(i)}, t[k], float(v))
                for i, v in enumerate(totals[k])
            ]
        )
        for s in batch.scored:
            if s.score >= DEFAULT_THRESHOLD and not s.young:
                i = int(s.labels["pod"])
                if k - last[i] > 20:
                    out.append((k, i))
                last[i] = k
    return out


def test_restarts_do_not_page_and_a_halving_of_traffic_does() -> None:
    """Six counters, five days: nothing pages at a restart, every halving pages; the same
    totals followed as gauges page at restarts and miss the halvings (the old defect)."""
    t, totals, restarts, halving = requests(6, 5.0, seed=3)

    def at_restart(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(k, i) for k, i in found if np.abs(restarts[i] - k).min() <= 5]

    def halved(found: list[tuple[int, int]]) -> set[int]:
        return {i for k, i in found if halving <= k < halving + 30}

    as_rates = pages(t, totals, as_counter=True)
    assert at_restart(as_rates) == []
    assert halved(as_rates) == {0, 2, 4}
    as_totals = pages(t, totals, as_counter=False)
    assert len(at_restart(as_totals)) >= 6 and halved(as_totals) == set()
