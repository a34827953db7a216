"""A noisy series that stops moving pages once, at the onset of its flatline.

Each series learns the longest run of identical values it shows; a run that grows past
twice that (and ``MIN_RUN``) pages at that point. A request rate that dropped to 0 at 03:00
(its night level five a minute, judged in the day's spread by every other detector) never
paged before; a constant or mostly flat series has flat runs as its normal and never does.
"""

from __future__ import annotations

import pickle

import numpy as np

from anomalert.alert.policy import AlertPolicy, ServicePolicy
from anomalert.detect.engine import BatchEngine, Episodes
from anomalert.detect.flatline import FLATLINE_AGE, MIN_RUN, Flatline
from anomalert.detect.reason import explain
from anomalert.model import Kind, Scored

T0 = 1_766_966_400.0  # a Monday, 00:00 UTC
DAY = 1440  # minutes


def _ring(values: list[float], slots: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The ensemble's ring after these values of one series: (recent, seen)."""
    recent = np.full((slots, 1), np.nan, dtype=np.float32)
    for k, v in enumerate(values):
        recent[k % slots, 0] = v
    return recent, np.array([len(values)], dtype=np.int32)


#: A series old enough to be judged for flatlines: its time and its first point's.
OLD = (np.array([FLATLINE_AGE]), np.array([0.0]))


def _walk(values: list[float], mature: bool = True) -> tuple[Flatline, list[int], list[int]]:
    """Feed one series value by value; the points where a flatline began, and the run
    length at each point."""
    flat = Flatline(n=1)
    onsets, lengths = [], []
    for k in range(1, len(values) + 1):
        recent, seen = _ring(values[:k])
        onset, length = flat.judge(recent, seen, np.array([True]), np.array([mature]), *OLD)
        if onset[0]:
            onsets.append(k - 1)
        lengths.append(int(length[0]))
    return flat, onsets, lengths


def test_runs_are_learned_as_they_end_and_a_run_past_twice_the_longest_pages_once() -> None:
    noisy = [1.0, 2.0, 2.0, 2.0, 3.0, 1.0, 4.0, 4.0, 5.0]  # runs of 3 and 2
    flat, onsets, lengths = _walk([*noisy, *[0.0] * 20])
    assert int(flat.longest[0]) == 3
    assert lengths[:5] == [1, 1, 2, 3, 1] and lengths[-1] == 20
    # Limit max(2 * 3, MIN_RUN) = 10: the eleventh zero pages, and nothing after it.
    assert onsets == [len(noisy) + MIN_RUN]
    # The paged run ends without teaching its length: the next one pages as soon.
    flat, onsets, _ = _walk([*noisy, *[0.0] * 12, 7.0, *[0.0] * 12, 7.0])
    assert int(flat.longest[0]) == 3
    assert onsets == [len(noisy) + MIN_RUN, len(noisy) + 13 + MIN_RUN]


def test_a_young_series_learns_long_runs_and_a_run_the_ring_long_is_normal() -> None:
    flat, onsets, _ = _walk([1.0, *[0.0] * 15, 2.0], mature=False)
    assert onsets == [] and int(flat.longest[0]) == 15  # limit 30: no run can page
    flat, onsets, _ = _walk([*[5.0] * 40, 6.0, *[5.0] * 40])
    assert onsets == [MIN_RUN] and int(flat.longest[0]) == 30  # then never again


def test_no_value_this_tick_is_no_run() -> None:
    recent, seen = _ring([0.0] * 12)
    onset, length = Flatline(n=1).judge(recent, seen, np.array([False]), np.array([True]), *OLD)
    assert not onset[0] and length[0] == 0


def _counts(days: int, series: int, seed: int) -> np.ndarray:
    """Poisson requests a minute on a daily shape: 5 at 03:00, 300 at 14:00."""
    rng = np.random.default_rng(seed)
    hour = (np.arange(days * DAY) % DAY) / 60.0
    lam = 5.0 + 295.0 * ((1.0 + np.cos(2.0 * np.pi * (hour - 14.0) / 24.0)) / 2.0) ** 2
    return rng.poisson(lam[:, None] * np.ones((1, series))).astype(float)


def test_a_rate_that_drops_to_zero_at_night_pages_and_its_noise_does_not() -> None:
    n = 8
    x = _counts(9, n, seed=5)
    drop = 8 * DAY + 180  # 03:00 on the ninth day (flatlines are judged after a week)
    x[drop : drop + 40, : n // 2] = 0.0
    engine = BatchEngine(n)
    episodes = Episodes(n, engine.settings.cooldown)
    paged: dict[int, tuple[int, int, float]] = {}
    flatlines_before = 0
    for k in range(drop + 60):
        s = engine.step(np.full(n, T0 + 60.0 * k), x[k]).series
        fired = episodes.fire(k, s.flagged)
        if k < drop:
            flatlines_before += int((s.flagged & (s.kind == Kind.FLATLINE)).sum())
        for j in np.flatnonzero(fired):
            if k >= drop and int(j) not in paged:
                paged[int(j)] = (k - drop, int(s.kind[j]), float(s.score[j]))
    assert flatlines_before == 0
    assert sorted(paged) == list(range(n // 2))  # the dropped ones, not the others
    for minute, kind, score in paged.values():
        assert kind == Kind.FLATLINE and score >= engine.settings.threshold
        assert MIN_RUN <= minute <= 20  # their longest runs of noise: a handful of points
    longest = engine.series.flatline.longest
    assert np.all((longest[n // 2 :] >= 2) & (longest[n // 2 :] <= 8))


def test_a_constant_or_stepped_series_never_flatlines() -> None:
    n = 3
    minutes = 3 * DAY
    x = np.zeros((minutes, n))
    x[:, 0] = 42.0  # a constant
    x[:, 1] = np.repeat(np.arange(minutes // 60), 60)[:minutes]  # steps every hour
    x[:, 2] = np.where(np.arange(minutes) % 97 == 0, 1.0, 0.0)  # rare events on zero
    engine = BatchEngine(n)
    for k in range(minutes):
        s = engine.step(np.full(n, T0 + 60.0 * k), x[k]).series
        assert not np.any(s.flagged & (s.kind == Kind.FLATLINE))
    assert np.all(engine.series.flatline.longest == 30)


def test_state_is_one_byte_a_series_and_survives_a_checkpoint() -> None:
    engine = BatchEngine(4)
    flat = engine.series.flatline
    assert flat is not None and flat.state_nbytes() == 4
    flat.longest[:] = [1, 2, 3, 4]
    again = pickle.loads(pickle.dumps(engine))
    assert again.series.flatline.longest.tolist() == [1, 2, 3, 4]
    state = engine.series.__dict__.copy()
    del state["flatline"]  # a checkpoint from before flatlines
    old = pickle.loads(pickle.dumps(engine.series))
    old.__setstate__(state)
    assert old.flatline is not None and old.flatline.longest.tolist() == [0, 0, 0, 0]


def test_the_reason_says_how_long_it_has_been_flat() -> None:
    text = explain("request_rate", 0.0, T0 + 3 * 3600, Kind.FLATLINE, 5.2, 0.0, 12.0, 11.0, True)
    assert text.startswith("request_rate has stayed at 0 for 11 points")
    assert "(flatline)" in text and "5.2" in text


def _point(minute: int, value: float, score: float, kind: Kind) -> Scored:
    return Scored(
        series="api/requests",
        metric="request_rate",
        labels={"service": "api"},
        timestamp=T0 + 60.0 * minute,
        value=value,
        score=score,
        kind=kind,
        expected=5.0,
        lower=0.0,
        upper=12.0,
        reason="",
    )


def test_the_service_keeps_a_flatline_open_while_the_value_stays_where_it_froze() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0, resolve_after=600))
    fired = policy.observe(_point(0, 0.0, 0.95, Kind.FLATLINE), T0)
    assert [a.status for a in fired] == ["firing"]
    # Still 0, scored calm by every detector, for six hours: past ``keep_open_for`` (two),
    # which closes a level shift the engine accepted, but a dead feed is still dead.
    for minute in range(1, 360):
        now = T0 + 60.0 * minute
        assert policy.observe(_point(minute, 0.0, 0.2, Kind.SPIKE), now) == []
        assert policy.tick(now) == []
    assert [a.status for a in policy.active()] == ["firing"]
    resolved = []
    for minute in range(360, 380):  # moving again, at 0 now and then as a small count is
        now = T0 + 60.0 * minute
        value = 0.0 if minute % 4 == 0 else 4.0 + minute % 3
        resolved += policy.observe(_point(minute, value, 0.2, Kind.SPIKE), now)
        resolved += policy.tick(now)
    assert [a.status for a in resolved] == ["resolved"]
