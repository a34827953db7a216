"""One spike does not deafen a calm series (``detect/onsets.py``: the ceilings).

A calm one-minute series (100, noise 1) spikes once by 30 (30σ) at noon on its fifth day:
it pages. The spike's first point teaches the tails whole (a deviation that recurs must
become normal), which holds the moment fit's shape at its cap for the tails' two-week
memory. Until 2026-12-07 (thirty-fourth session) no later spike under 20σ paged, an hour,
a day or a week later, on any seed; the same 12σ spike on the series without the first
one pages at once. Since then, when the spike's run ends its memory keeps the statistic the
tail without the spike calls one in 10^8, and a later statistic past it pages. A spike that
comes back does become normal: after two of them the ceiling is the tail's with the first.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from anomalert.detect.calibrate import TailCalibrator
from anomalert.detect.engine import BatchEngine
from anomalert.detect.onsets import CEILING_MIN_WEIGHT, ONSET_P, OnsetMemory
from tests.support.tails import gaussian_tails

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
DAY = 1440
SERIES = 4
FIRST = 4 * DAY + 720  # noon on day 5


def _flags(spikes: list[tuple[int, float]], probe_at: int, probe: float) -> tuple[list, np.ndarray]:
    """The engine's flags at each of ``spikes`` (point, size) and at a ``probe`` spike."""
    n = probe_at + 1
    x = 100.0 + np.random.default_rng(0).normal(0.0, 1.0, (n, SERIES))
    for at, size in spikes:
        x[at] += size
    x[probe_at] += probe
    engine = BatchEngine(SERIES)
    at_spikes = []
    for k in range(n):
        flagged = engine.step(np.full(SERIES, T0 + MIN * k), x[k]).series.flagged
        if any(k == at for at, _ in spikes):
            at_spikes.append(np.asarray(flagged).copy())
    return at_spikes, np.asarray(flagged)


@pytest.mark.parametrize("after", [60, DAY, 7 * DAY])
def test_a_spike_pages_after_a_one_off_spike(after: int) -> None:
    at_spikes, probe = _flags([(FIRST, 30.0)], FIRST + after, 12.0)
    assert at_spikes[0].all()
    assert probe.all()


@pytest.mark.parametrize("garbage", [1e6, 1e12, 1.8e19])
def test_a_spike_pages_after_a_garbage_value(garbage: float) -> None:
    """A broken exporter's value, tens of thousands to 10^19 times the noise, pages; and a
    12σ spike a day later pages too. Its square added to the tail's float32 sum of squares
    left, once taken out again for the ceiling, only that sum's rounding (thousands where
    the calm series' own squares summed to about 100): the tail without the spike was
    noise, its ceiling far past 12σ, and until 2026-12-07 (thirty-fifth session) the
    probe scored about 0.49. Where that happens the mean excess stands for the tail."""
    at_spikes, probe = _flags([(FIRST, garbage)], FIRST + DAY, 12.0)
    assert at_spikes[0].all()
    assert probe.all()


def test_a_spike_pages_on_the_series_without_the_first_one() -> None:
    assert _flags([], FIRST + DAY, 12.0)[1].all()


def test_a_spike_that_came_back_has_become_normal() -> None:
    """Two 30σ spikes a day apart both page; a 12σ one a day after the second does not."""
    second = FIRST + DAY + 50
    at_spikes, probe = _flags([(FIRST, 30.0), (second, 30.0)], second + DAY, 12.0)
    assert all(f.all() for f in at_spikes)
    assert not probe.any()


IDLE = np.zeros(3, dtype=np.int32)  # no series in a run
FLAT = np.zeros(3, dtype=bool)  # no series with a period


def _settled(points: int = 20_000) -> tuple[TailCalibrator, TailCalibrator, OnsetMemory]:
    """Tails before and after series 0 learned a 30 as a run's onset and series 1 a 1.5
    (under z0: nothing taught), series 2 nothing; the memory once those runs ended."""
    before = gaussian_tails(points=points)
    tails = copy.deepcopy(before)
    memory = OnsetMemory(n=3, rows=1)
    onset = np.array([True, True, False])
    stats = np.array([[30.0, 1.5, 0.5]])
    memory.remember(stats, onset)
    tails.learn(stats, onset)
    memory.settle(tails, np.ones(3, dtype=bool), FLAT)
    return before, tails, memory


def test_the_ceiling_is_where_the_tail_without_the_onset_says_onset_p() -> None:
    before, _, memory = _settled()
    ceiling = float(memory.stat[0, 0])
    assert np.isnan(memory.stat[0, 1:]).all()  # nothing taught, nothing kept
    # The tail before the onset (one decay step apart) calls the ceiling ONSET_P.
    p = float(before.p_value(np.array([ceiling, 0.0, 0.0]))[0])
    assert p == pytest.approx(ONSET_P, rel=0.02)
    assert 5.0 < ceiling < 12.0


def test_past_the_ceiling_p_is_at_most_onset_p_and_falls_further() -> None:
    _, tails, memory = _settled()
    ceiling = float(memory.stat[0, 0])
    probe = np.array([[ceiling + 0.5, 9.0, 9.0]])
    own = tails.p_value(probe)
    assert own[0, 0] > 1e-4  # the onset learned whole deafens the series
    judged = memory.beyond(probe, own, IDLE, FLAT, tails)
    assert judged[0, 0] <= ONSET_P
    np.testing.assert_array_equal(judged[0, 1:], own[0, 1:])
    further = probe + 5.0
    assert memory.beyond(further, tails.p_value(further), IDLE, FLAT, tails)[0, 0] < judged[0, 0]


def test_under_the_ceiling_or_in_a_run_the_tail_stands() -> None:
    _, tails, memory = _settled()
    ceiling = float(memory.stat[0, 0])
    below = np.array([[ceiling - 0.5, 9.0, 9.0]])
    above = np.array([[ceiling + 0.5, 9.0, 9.0]])
    own_below, own_above = tails.p_value(below), tails.p_value(above)
    np.testing.assert_array_equal(memory.beyond(below, own_below, IDLE, FLAT, tails), own_below)
    running = np.array([4, 0, 0], dtype=np.int32)
    np.testing.assert_array_equal(memory.beyond(above, own_above, running, FLAT, tails), own_above)


def test_past_the_ceiling_a_periodic_series_pages_too() -> None:
    """Until 2026-12-07 (thirty-sixth session) a series with a period kept no ceiling."""
    _, tails, memory = _settled()
    ceiling = float(memory.stat[0, 0])
    above = np.array([[ceiling + 0.5, 9.0, 9.0]])
    periodic = np.array([True, False, False])
    own = tails.p_value(above, 1, periodic)
    assert own[0, 0] > 1e-4
    assert memory.beyond(above, own, IDLE, periodic, tails)[0, 0] <= ONSET_P


def _daily_flags(spike: float, probe_at: int) -> tuple[np.ndarray, np.ndarray]:
    """The engine's flags at a noon spike on day 9 of a daily-seasonal one-minute series
    (100 + 20 sin, noise 1) and at a 12σ probe ``probe_at`` points later."""
    first = 8 * DAY + 720
    n = first + probe_at + 1
    k = np.arange(n)[:, None]
    noise = np.random.default_rng(0).normal(0.0, 1.0, (n, SERIES))
    x = 100.0 + 20.0 * np.sin(2 * np.pi * k / DAY) + noise
    x[first] += spike
    x[-1] += 12.0
    engine = BatchEngine(SERIES)
    for i in range(n):
        flagged = np.asarray(engine.step(np.full(SERIES, T0 + MIN * i), x[i]).series.flagged)
        if i == first:
            at_spike = flagged.copy()
    return at_spike, flagged


@pytest.mark.parametrize("after", [60, 7 * DAY])
def test_a_spike_pages_after_a_one_off_spike_on_a_daily_series(after: int) -> None:
    """On a daily-seasonal series, one 30σ spike left a 12σ spike an hour later paging on
    none of these series, a week later on one (ceilings on series without a period only)."""
    at_spike, probe = _daily_flags(30.0, after)
    assert at_spike.all()
    assert probe.all()


def test_a_young_tail_keeps_no_ceiling() -> None:
    """Under CEILING_MIN_WEIGHT points the tail is mostly the prior's guess."""
    _, tails, memory = _settled(points=int(CEILING_MIN_WEIGHT) - 300)
    assert tails.weight[0] < CEILING_MIN_WEIGHT
    assert np.isnan(memory.stat).all()


def test_a_checkpoint_from_before_the_ceilings_keeps_only_runs_going_on() -> None:
    """Before, the memory kept the last run's onset after it ended; read as a ceiling, an
    onset under z0 on one row would have paged on ordinary points. Loaded, the memory of a
    series outside a run is cleared; that of a series in a run is kept (to be capped on
    acceptance)."""
    engine = BatchEngine(2)
    for k in range(10):
        engine.step(np.full(2, T0 + MIN * k), np.array([1.0, 2.0]))
    ens = engine.series
    ens.run[:] = [0, 3]
    ens.onsets.stat[:] = 0.7
    old = pickle.loads(pickle.dumps(ens))
    old.onsets.__dict__.pop("ceilings")  # as pickled before: the class default (False)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.onsets.ceilings
    assert np.isnan(restored.onsets.stat[:, 0]).all()
    np.testing.assert_array_equal(restored.onsets.stat[:, 1], np.float32(0.7))


@pytest.mark.parametrize("garbage", [1e6, 1e12])
def test_a_garbage_onset_is_taken_out_as_well_as_a_large_one(garbage: float) -> None:
    """Series 0 learned a garbage onset, series 1 a large but ordinary one (100): the
    ceilings their runs leave, and their tails once such an onset is capped (the run was
    accepted), page a 12σ statistic alike. Taken out of the float32 moments, the garbage's
    square left their rounding, thousands where the calm tail's squares summed to about
    100 (``TailCalibrator.excess_without``)."""
    before = gaussian_tails(n=2)
    stats = np.array([[garbage, 100.0]])
    onset = np.ones(2, dtype=bool)
    idx = np.arange(2)
    ended = copy.deepcopy(before)
    memory = OnsetMemory(n=2, rows=1)
    memory.remember(stats, onset)
    ended.learn(stats, onset)
    memory.settle(ended, onset, np.zeros(2, dtype=bool))
    ceilings = memory.stat[0].astype(np.float64)
    assert ceilings[0] == pytest.approx(ceilings[1], rel=0.2)
    assert 5.0 < ceilings[0] < 12.0
    accepted = copy.deepcopy(before)
    accepted.learn(stats, onset)
    accepted.cap_learned(stats, idx, ONSET_P)
    p = accepted.p_value(np.array([12.0, 12.0]))
    assert p[1] < 1e-6
    assert p[0] < 1e-5  # the stand-in tail is an exponential one: a little heavier
