"""Going back to the level a series left at its last accepted shift (``detect.returns``).

The memory on its own (the window, the distance, forgetting what was used), and the engine
on calm one-minute series that step up by 60 at noon on their fourth day and come back:
within the window the way back alerts once and is accepted at once; outside it (too soon
after the acceptance, or more than a day after), or to a level the series never had, it is
an anomaly of its own, as before.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from anomalert.detect.engine import BatchEngine
from anomalert.detect.files import reasons, score_tables
from anomalert.detect.returns import (
    RETURN_AFTER,
    RETURN_SIGMAS,
    RETURN_WITHIN,
    ReturnMemory,
    ShapeMove,
)
from anomalert.ingest.csvfile import read_table
from anomalert.model import Kind
from tests.support.checkpoints import restored_without

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
SERIES = 4


def test_a_return_is_near_the_level_left_within_the_window_and_counts_once() -> None:
    mem = ReturnMemory(n=4)
    left = np.array([True, True, True, False])
    mem.remember(left, np.full(4, T0), np.full(4, 20.0), np.full(4, 2.0))
    near = np.full(4, 20.0 + RETURN_SIGMAS * 2.0 - 0.1)
    held = np.ones(4, dtype=bool)
    assert not mem.back(np.full(4, T0 + RETURN_AFTER - 120.0), near, held).found.any()
    assert not mem.back(np.full(4, T0 + RETURN_WITHIN + 120.0), near, held).found.any()
    far = near + 0.2
    assert not mem.back(np.full(4, T0 + RETURN_AFTER), far, held).found.any()
    calm = np.array([False, True, True, True])  # only held points can be returns
    back = mem.back(np.full(4, T0 + RETURN_AFTER), near, calm)
    assert back.found.tolist() == [False, True, True, False]  # the last one left nothing
    # What the alert's reason tells: the level gone back to, its spread, and how long ago
    # the shift it undoes was accepted; nothing for the others.
    assert back.level[1:3].tolist() == [20.0, 20.0] and back.spread[1:3].tolist() == [2.0, 2.0]
    assert np.allclose(back.minutes[1:3], RETURN_AFTER / 60.0, atol=2.0)
    assert np.isnan(back.level[[0, 3]]).all() and np.isnan(back.minutes[[0, 3]]).all()
    # Used: forgotten; the first is still waiting for its way back.
    again = mem.back(np.full(4, T0 + RETURN_AFTER + 60.0), near, held).found
    assert again.tolist() == [True, False, False, False]


def test_a_series_the_day_s_shape_moved_back_to_is_a_silent_return() -> None:
    """Left 20 (spread 2), now at 75 after a centred acceptance: a point that reads 22 less
    the component is back only through the shape when the raw value stayed put and the
    component moved by at least ``RETURN_SIGMAS`` spreads; silent then, loud otherwise."""
    mem = ReturnMemory(n=5)
    mem.remember(np.ones(5, dtype=bool), np.full(5, T0), np.full(5, 20.0), np.full(5, 2.0))
    bound = RETURN_SIGMAS * 2.0
    x = np.array([30.0, 30.0, 30.0, 60.0, 22.0])  # 30: 10 off the level left, 45 off 75
    shape = ShapeMove(
        raw_step=np.array([1.0, bound + 1.0, 1.0, 1.0, np.nan]),  # the second moved itself
        shape_step=np.array([bound, 50.0, bound - 1.0, 50.0, np.nan]),  # the third: no edge
        level_now=np.full(5, 75.0),  # the fourth is nearer 75 than 20
    )
    back = mem.back(np.full(5, T0 + RETURN_AFTER), x, np.ones(5, dtype=bool), shape)
    assert back.silent.tolist() == [True, False, False, False, False]
    # the last is back the usual way (within four spreads of 20), and alerts
    assert back.found.tolist() == [True, False, False, False, True]
    assert not mem.back(np.full(5, T0 + RETURN_AFTER), x, np.ones(5, bool), shape).found[0]


def test_missing_values_are_never_returns_and_the_memory_grows_and_pickles() -> None:
    mem = ReturnMemory(n=2)
    mem.remember(np.array([True, True]), np.full(2, T0), np.array([5.0, 5.0]), np.ones(2))
    t = np.full(2, T0 + 2 * RETURN_AFTER)
    assert not mem.back(t, np.array([np.nan, np.nan]), np.ones(2, dtype=bool)).found.any()
    mem.grow(3)
    copy = pickle.loads(pickle.dumps(mem))
    assert copy.n == 3 and np.isnan(copy.level[2])
    back = copy.back(np.full(3, T0 + 2 * RETURN_AFTER), np.full(3, 5.0), np.ones(3, bool)).found
    assert back.tolist() == [True, True, False]  # the new series left nothing
    assert mem.state_nbytes() == 3 * 12


def stepped(up: float, hours: float, back_by: float = 0.0) -> tuple[np.ndarray, int]:
    """Calm series (ticks, SERIES) at 20 (noise 2) that step up by ``up`` at noon on their
    fourth day for ``hours``, then go back (``back_by`` off the level they left), with four
    hours after that; and the tick of the way back."""
    start = 3 * 1440 + 12 * 60
    back = start + int(hours * 60)
    x = 20.0 + np.random.default_rng(0).normal(0.0, 2.0, (back + 240, SERIES))
    x[start:back] += up
    x[back:] += back_by
    return x, back


def flags_after(x: np.ndarray, back: int) -> np.ndarray:
    """The engine's flags (ticks after ``back``, SERIES)."""
    engine = BatchEngine(SERIES)
    flagged = np.zeros(x.shape, dtype=bool)
    for k in range(x.shape[0]):
        flagged[k] = engine.step(np.full(SERIES, T0 + MIN * k), x[k]).series.flagged
    return flagged[back:]


def onsets(flagged: np.ndarray) -> list[list[int]]:
    before = np.vstack([np.zeros((1, SERIES), dtype=bool), flagged[:-1]])
    return [np.flatnonzero(flagged[:, j] & ~before[:, j]).tolist() for j in range(SERIES)]


def test_going_back_after_hours_alerts_once_and_is_accepted_at_once() -> None:
    """Two or five hours up (accepted after 30 minutes), then back: one flagged point, and
    the series is calm again at once (before: a drop held for 20 minutes, then a level shift
    paging for 30 more)."""
    for hours in (2.0, 5.0):
        flagged = flags_after(*stepped(60.0, hours))
        assert onsets(flagged) == [[0]] * SERIES, hours
        assert flagged.sum(axis=0).tolist() == [1] * SERIES, hours


def test_a_return_says_where_the_series_went_back_to(tmp_path: Path) -> None:
    """The return's alert is a level shift back to the level left (its band that level's,
    its detail the minutes since the acceptance), not a drop off the shifted level ("25.8σ
    below the usual 80"); ``anomalert detect`` words it so."""
    x, back = stepped(60.0, 2.0)
    engine = BatchEngine(SERIES)
    for k in range(back + 1):
        step = engine.step(np.full(SERIES, T0 + MIN * k), x[k]).series
    assert step.flagged.all() and (step.kind == Kind.LEVEL_SHIFT).all()
    assert np.allclose(step.expected, 20.0, atol=2.0)
    assert ((step.lower < 20.0) & (step.upper > 20.0) & (step.upper - step.lower < 30.0)).all()
    # Accepted at the shift's 30th point, 91 minutes before the way back (the memory keeps
    # its times in float32 minutes: exact to two minutes).
    assert np.allclose(step.detail, 2.0 * 60 - 29, atol=2.0)
    csv = tmp_path / "latency.csv"
    stamps = pd.to_datetime(T0 + MIN * np.arange(x.shape[0]), unit="s")
    pd.DataFrame({"timestamp": stamps, "latency": x[:, 0]}).to_csv(csv, index=False)
    table = read_table(csv)
    scored = score_tables([table])[0]
    text = reasons(table, scored)[back]
    assert scored.flag[back] and text.startswith("latency ")
    minutes = round(float(scored.detail[back]))
    assert abs(minutes - 91) <= 2
    assert "is back near 20" in text
    assert f"accepted as the new normal {minutes} minutes ago" in text


def test_going_somewhere_else_is_not_a_return() -> None:
    """Nine hours at 80, then 50: not the 20 it left. The drop is an anomaly of its own,
    held until it is accepted as the new normal (30 flagged points)."""
    flagged = flags_after(*stepped(60.0, 9.0, back_by=30.0))
    assert flagged.sum(axis=0).tolist() == [30] * SERIES


def test_too_soon_or_too_late_is_not_a_return() -> None:
    """Back 40 minutes after the acceptance: the shift was an episode and its end is part of
    it (a held run, as before). Back after 26 hours: the new level is the normal, and going
    back is a change held until accepted."""
    soon = flags_after(*stepped(60.0, 70.0 / 60.0))
    assert all(o[0] == 0 for o in onsets(soon)) and (soon.sum(axis=0) > 1).all()
    late = flags_after(*stepped(60.0, 26.0))
    assert onsets(late) == [[0]] * SERIES
    assert late.sum(axis=0).tolist() == [30] * SERIES


def test_a_checkpoint_from_before_returns_resumes_with_an_empty_memory() -> None:
    ens = BatchEngine(2).series
    for k in range(50):
        ens.step(np.full(2, T0 + 60.0 * k), np.array([1.0, 2.0]))
    old = restored_without(ens, "returns", "rolling")
    assert isinstance(old.returns, ReturnMemory) and old.rolling is old.detectors[0]
    assert old.returns.n == 2 and np.isnan(old.returns.level).all()
    old.step(np.full(2, T0 + 60.0 * 50), np.array([1.0, 2.0]))
    old.grow(3)
    assert old.returns.level.shape == (3,)
