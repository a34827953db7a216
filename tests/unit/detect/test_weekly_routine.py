"""The weekly routine: what misbehaved at this time of the week on earlier weeks is routine.

A lasting deviation a week earlier (a weekday-only service's Saturday) is enough; a blip
needs two of the four earlier weeks (a tweet volume's spike one Tuesday night says nothing
of the labelled one a week later). The memory only ever discounts, forgets what is older
than four weeks, and resumes empty from a checkpoint written before it existed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from anomalert.cli import app
from anomalert.detect.engine import BatchEngine
from anomalert.detect.routine import WEEKS, WeeklyRoutine
from tests.support.checkpoints import restored_without

T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday
DAY = 86_400.0
WEEK = 7 * DAY
SATURDAY_9 = T0 + 5 * DAY + 9 * 3600.0
ONE = np.array([0])


def episode(memory: WeeklyRoutine, start: float, minutes: float, peak: float) -> None:
    """Would-be alerts of series 0 every two minutes from ``start`` for ``minutes``, the
    last one at ``peak`` (the others at 4.5)."""
    times = start + 120.0 * np.arange(int(minutes // 2) + 1)
    for k, t in enumerate(times):
        size = peak if k == times.size - 1 else 4.5
        memory.learn(np.array([t]), np.array([size]), ONE)


def at(memory: WeeklyRoutine, t: float) -> float:
    return float(memory.routine(np.array([t]), ONE)[0])


def test_an_accepted_deviation_a_week_earlier_is_routine() -> None:
    memory = WeeklyRoutine(n=1)
    episode(memory, SATURDAY_9, minutes=40.0, peak=9.0)
    assert at(memory, SATURDAY_9 + WEEK) == 0.0, "forty minutes alone are not a shape"
    memory.mark_lasting(np.array([True]))
    assert at(memory, SATURDAY_9 + WEEK) == np.float16(9.0)
    # Within the jitter either side of the episode, and not beyond it.
    assert at(memory, SATURDAY_9 + WEEK - 40 * 60.0) > 0.0
    assert at(memory, SATURDAY_9 + WEEK + 80 * 60.0) > 0.0  # 40 minutes after its end
    assert at(memory, SATURDAY_9 + WEEK - 60 * 60.0) == 0.0
    assert at(memory, SATURDAY_9 + WEEK + 2 * 3600.0) == 0.0
    # Not the same time of another day, and not the same week.
    assert at(memory, SATURDAY_9 + DAY) == 0.0
    assert at(memory, SATURDAY_9 + 3600.0) == 0.0
    # Up to four weeks later, then forgotten.
    assert at(memory, SATURDAY_9 + WEEKS * WEEK) > 0.0
    assert at(memory, SATURDAY_9 + (WEEKS + 1) * WEEK) == 0.0


def test_only_the_latest_episode_is_marked_lasting() -> None:
    memory = WeeklyRoutine(n=1)
    episode(memory, SATURDAY_9, minutes=4.0, peak=7.0)
    episode(memory, SATURDAY_9 + 3 * 3600.0, minutes=4.0, peak=6.0)
    memory.mark_lasting(np.array([True]))
    assert at(memory, SATURDAY_9 + WEEK) == 0.0
    assert at(memory, SATURDAY_9 + 3 * 3600.0 + WEEK) == np.float16(6.0)


def test_a_blip_needs_two_earlier_weeks() -> None:
    memory = WeeklyRoutine(n=1)
    tuesday_night = T0 + DAY + 23.5 * 3600.0
    memory.learn(np.array([tuesday_night]), np.array([6.0]), ONE)
    assert at(memory, tuesday_night + WEEK) == 0.0, "one blip a week earlier is a coincidence"
    # A second blip two weeks after the first (none in between): the third is routine, as
    # much as the smaller of the two.
    memory.learn(np.array([tuesday_night + 2 * WEEK + 600.0]), np.array([5.0]), ONE)
    assert at(memory, tuesday_night + 3 * WEEK) == np.float16(5.0)
    assert at(memory, tuesday_night + 3 * WEEK + 3 * 3600.0) == 0.0


def test_a_held_run_is_one_episode() -> None:
    """A flagged run holds through calmer points that are not would-be alerts; the episode
    covers them (``extend``), so its span is the run's."""
    memory = WeeklyRoutine(n=1)
    memory.learn(np.array([SATURDAY_9]), np.array([6.0]), ONE)
    for k in range(1, 30):
        memory.extend(np.array([SATURDAY_9 + 120.0 * k]), np.array([True]))
    memory.learn(np.array([SATURDAY_9 + 3600.0]), np.array([5.0]), ONE)
    assert np.count_nonzero(np.isfinite(memory.last[:, 0])) == 1
    assert memory.last[0, 0] - memory.start[0, 0] >= 59.0  # minutes
    memory.mark_lasting(np.array([True]))
    assert at(memory, SATURDAY_9 + WEEK + 100 * 60.0) == np.float16(6.0)  # 40 min after


def test_a_new_episode_takes_a_stale_slot_then_the_smallest_peak() -> None:
    memory = WeeklyRoutine(n=1, slots=2)
    everyone = np.array([True])
    for day, peak in ((0, 9.0), (1, 5.0), (2, 6.0)):
        episode(memory, SATURDAY_9 + day * DAY, minutes=10.0, peak=peak)
        memory.mark_lasting(everyone)
    # The third episode took the smaller peak's slot, though that was the newer.
    assert at(memory, SATURDAY_9 + WEEK) == np.float16(9.0)
    assert at(memory, SATURDAY_9 + DAY + WEEK) == 0.0
    assert at(memory, SATURDAY_9 + 2 * DAY + WEEK) == np.float16(6.0)
    # Four weeks and a day on, the Saturday is too old to match (the Monday is not): the
    # Saturday's slot goes, though its peak is the larger.
    assert at(memory, SATURDAY_9 + WEEKS * WEEK) == np.float16(9.0)
    episode(memory, SATURDAY_9 + WEEKS * WEEK + DAY, minutes=10.0, peak=4.5)
    assert at(memory, SATURDAY_9 + WEEKS * WEEK) == 0.0
    assert at(memory, SATURDAY_9 + 2 * DAY + WEEKS * WEEK) == np.float16(6.0)


def test_missing_times_learn_nothing_and_match_nothing() -> None:
    memory = WeeklyRoutine(n=2)
    both = np.array([0, 1])
    memory.learn(np.array([np.nan, SATURDAY_9]), np.array([8.0, 8.0]), both)
    assert np.isnan(memory.last[:, 0]).all()
    assert memory.routine(np.array([np.nan, np.nan]), both).tolist() == [0.0, 0.0]


def test_clear_cap_grow_and_pickle() -> None:
    memory = WeeklyRoutine(n=2)
    both = np.array([0, 1])
    memory.learn(np.full(2, SATURDAY_9), np.array([20.0, 20.0]), both)
    memory.mark_lasting(np.array([True, True]))
    memory.cap(np.array([True, False]), 8.0)
    later = np.full(2, SATURDAY_9 + WEEK)
    assert memory.routine(later, both).tolist() == [8.0, 20.0]
    memory.clear(np.array([False, True]))
    assert memory.routine(later, both).tolist() == [8.0, 0.0]
    memory.grow(3)
    assert memory.start.shape == memory.lasting.shape == (memory.slots, 3)
    assert memory.routine(later[:1], np.array([2]))[0] == 0.0
    again = pickle.loads(pickle.dumps(memory))
    assert again.routine(np.full(3, SATURDAY_9 + WEEK), np.arange(3)).tolist() == [8, 0, 0]


def test_a_checkpoint_from_before_the_weekly_memory_resumes_with_an_empty_one() -> None:
    ens = BatchEngine(2).series
    for k in range(50):
        ens.step(np.full(2, T0 + 60.0 * k), np.array([1.0, 2.0]))
    old = restored_without(ens, "weekly")
    assert isinstance(old.weekly, WeeklyRoutine)
    assert old.weekly.n == 2 and np.isnan(old.weekly.last).all()
    old.step(np.full(2, T0 + 60.0 * 50), np.array([1.0, 2.0]))
    old.grow(3)
    assert old.weekly.last.shape == (old.weekly.slots, 3)


WEEKS_OF_JOB, PER_WEEK = 5, 7 * 1440


def weekly_job() -> tuple[np.ndarray, list[int], int]:
    """One-minute points over five weeks from a Monday: a 60σ spike every Thursday near
    15:28 (series 0 and 1), and on series 1 one more at 11:00 on the last Thursday, a time
    that never misbehaved. Returns the values, the jobs' rows and the novel spike's row."""
    rng = np.random.default_rng(5)
    x = 100.0 + rng.normal(0.0, 2.0, (WEEKS_OF_JOB * PER_WEEK, 2))
    jobs = [w * PER_WEEK + 3 * 1440 + 928 + int(rng.integers(-10, 11)) for w in range(WEEKS_OF_JOB)]
    x[jobs, :] += 120.0
    novel = (WEEKS_OF_JOB - 1) * PER_WEEK + 3 * 1440 + 660
    x[novel, 1] += 120.0
    return x, jobs, novel


def test_a_weekly_job_pages_on_its_first_two_weeks_and_a_new_spike_still_pages() -> None:
    """Without the weekly memory the job paged every week."""
    x, jobs, novel = weekly_job()
    engine = BatchEngine(2)
    flagged = np.zeros(x.shape, dtype=bool)
    for k in range(x.shape[0]):
        flagged[k] = engine.step(np.full(2, T0 + 60.0 * k), x[k]).series.flagged
    paged = [flagged[j - 20 : j + 21, 0].any() for j in jobs]
    assert paged == [True, True, False, False, False], paged
    assert flagged[novel, 1], "a spike at a time that never misbehaved still pages"


def test_the_file_contract_follows_the_weekly_memory(tmp_path: Path) -> None:
    """Through ``anomalert detect`` (which decides on the score, not the engine's flags):
    the weekly job is an anomaly on its first two Thursdays only, and its score is
    discounted from the third; the novel spike is an anomaly."""
    x, jobs, novel = weekly_job()
    stamps = pd.to_datetime(T0 + 60.0 * np.arange(x.shape[0]), unit="s", utc=True)
    (tmp_path / "in").mkdir()
    pd.DataFrame({"timestamp": stamps, "value": x[:, 1]}).to_csv(
        tmp_path / "in" / "job.csv", index=False
    )
    result = CliRunner().invoke(
        app, ["detect", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    out = pd.read_csv(tmp_path / "out" / "job.csv")
    flagged = out["is_anomaly"].to_numpy() == 1
    assert [flagged[j - 20 : j + 21].any() for j in jobs] == [True, True, False, False, False]
    assert (out["anomaly_score"].to_numpy()[jobs[2:]] < 0.9).all()
    assert flagged[novel]
