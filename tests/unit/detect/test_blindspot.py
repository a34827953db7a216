"""A run the rolling baseline's blind spot cut short resumes (``detect/blindspot.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.blindspot import BlindSpot
from anomalert.detect.engine import BatchEngine, Episodes, Settings
from anomalert.detect.ensemble import _decide
from tests.support.checkpoints import restored_without

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
SERIES = 4


def _decide_once(score: float, blind: np.ndarray, rolling: np.ndarray) -> np.ndarray:
    """One ``_decide`` tick of four mature series that all score ``score``, none in a run;
    returns their runs after it (``blind`` is updated in place)."""
    n = blind.size
    run = np.zeros(n, dtype=np.int32)
    p = np.full(n, (1.0 - score) ** 4)
    _decide(
        np.power(p, 0.25),
        p,
        np.ones(n, dtype=bool),
        np.zeros(0, dtype=bool),
        run,
        np.full(n, 10_000, dtype=np.int32),
        np.full(n, 1e6),
        np.zeros(n),
        0.9,
        5e-4,
        120,
        0.0,
        30,
        np.zeros(0),
        np.zeros((0, n), dtype=np.float32),
        blind,
        rolling,
    )
    return run


def test_a_noted_run_resumes_only_on_an_alert_while_the_baseline_is_blind() -> None:
    """Series 0-2 have a run of 20 the blind spot cut short; series 3 none. The rolling
    baseline is still blind (NaN) on series 0, 1 and 3 and sees again on series 2."""
    spot = BlindSpot(n=4)
    spot.note(np.full(4, 20, dtype=np.int32), np.array([True, True, True, False]))
    rolling = np.array([np.nan, np.nan, 1.5, np.nan])
    # An alert on every series: series 0 and 1 go on at 21, series 2 (seeing again) and 3
    # start a run of their own.
    alerting = spot.length.copy()
    assert _decide_once(0.95, alerting, rolling).tolist() == [21, 21, 1, 1]
    assert alerting.tolist() == [0, 0, 0, 0]  # resumed or forgotten
    # Calm: series 0 and 1 keep waiting while blind; series 2 is forgotten.
    calm = spot.length.copy()
    assert _decide_once(0.2, calm, rolling).tolist() == [0, 0, 0, 0]
    assert calm.tolist() == [20, 20, 0, 0]


def stepped(back_by: float) -> tuple[np.ndarray, int]:
    """Calm series (ticks, SERIES) at 20 (noise 2) that step up by 60 at noon on their fourth
    day for nine hours (accepted as the new normal), then step to ``back_by`` off 20 (not a
    return: somewhere else), with four hours after; and the tick of the second step."""
    start = 3 * 1440 + 12 * 60
    back = start + 9 * 60
    x = 20.0 + np.random.default_rng(0).normal(0.0, 2.0, (back + 240, SERIES))
    x[start:back] += 60.0
    x[back:] += back_by
    return x, back


@pytest.mark.parametrize("back_by", [30.0, 20.0, -20.0])
def test_a_second_step_is_one_run_accepted_after_accept_after_points(back_by: float) -> None:
    """80 -> 50, 80 -> 40 and 80 -> 0: the rolling baseline flags the step at once and
    goes blind after 20 held points; the level-shift detector reaches the threshold eight to
    ten points later. One run in all, accepted at its 30th flagged point, and one alert as
    ``anomalert detect`` and the demo decide alerts (``Episodes``). Before the twentieth
    session, 80 -> 50 was caught 8-11 minutes late (by the level-shift detector), 80 -> 40
    late on two series and twice on the other two (at once, then 29-30 minutes later), and
    80 -> 0 twice on two series (31 and 37 minutes apart). With the onset of the step up
    capped (``onsets``) the rolling baseline flags every step at once; without the resumed
    run 80 -> 50 and 80 -> 40 were two runs on every series (50 flagged points)."""
    x, back = stepped(back_by)
    engine = BatchEngine(SERIES)
    episodes = Episodes(SERIES, Settings().cooldown)
    flagged = np.zeros(x.shape, dtype=bool)
    alerts = np.zeros(x.shape, dtype=bool)
    for k in range(x.shape[0]):
        flagged[k] = engine.step(np.full(SERIES, T0 + MIN * k), x[k]).series.flagged
        alerts[k] = episodes.fire(k, flagged[k])
    after = flagged[back:]
    assert after.sum(axis=0).tolist() == [30] * SERIES
    assert after[0].all()  # at once
    assert alerts[back:].sum(axis=0).tolist() == [1] * SERIES
    assert not after[-180:].any()  # accepted: the new level is quiet


def test_a_checkpoint_from_before_resumes_with_nothing_noted() -> None:
    ens = BatchEngine(2).series
    for k in range(50):
        ens.step(np.full(2, T0 + MIN * k), np.array([1.0, 2.0]))
    old = restored_without(ens, "blind", "onsets")
    assert old.blind is not None and old.blind.length.tolist() == [0, 0]
    assert old.onsets.stat.shape == (3, 2) and np.isnan(old.onsets.stat).all()
    old.step(np.full(2, T0 + MIN * 50), np.array([1.0, 2.0]))
    old.grow(3)
    assert old.blind.length.shape == (3,) and old.onsets.stat.shape == (3, 3)
