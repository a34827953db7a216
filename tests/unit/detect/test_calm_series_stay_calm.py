"""A series that never deviates stays calm however long it runs.

The tail calibrator's rate above z0 started from a prior that decayed like the data, so on
a series whose statistic never passes z0 (a constant gauge: ``up``, a limit, a boot time; a
perfect clock) the rate halved every half-life towards zero, and with it the p-value of
its ordinary points: a constant one-minute series scored 0.34 after a week, 0.81 after
twelve, and from its nineteenth week every constant series flagged for a day and a half
(1,904 points each), all at once. The rate is now never below that of the prior's rate
over twenty points that never decay (``calibrate._rate``, ``RATE_FLOOR_WEIGHT``): the same
constant series settle at 0.70 from their ninth week and hold it for thirty.
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.calibrate import RATE_FLOOR_WEIGHT, TailCalibrator, _rate
from anomalert.detect.engine import BatchEngine, Settings

START = 1_767_571_200.0


def test_a_statistic_that_never_moves_keeps_its_p_value() -> None:
    cal = TailCalibrator(n=1)
    everything = np.ones(1, dtype=bool)
    calm, far = np.array([0.04]), np.array([5.0])
    p_calm = []
    for k in range(1, 200_001):  # ten half-lives
        cal.learn(calm, everything)
        if k % 20_000 == 0:
            p_calm.append(float(cal.p_value(calm)[0]))
    assert min(p_calm) > 2e-3, p_calm  # before: 2.4e-5 at the end, "1 in 40,000"
    assert p_calm[-1] >= 0.9 * p_calm[-2]  # settled, not still falling
    assert float(cal.p_value(far)[0]) < 1e-5  # a 5-sigma point is still rare


def test_a_sound_tail_keeps_its_own_rate() -> None:
    """Where the statistic passes z0 about as often as a Gaussian's does, the floor is far
    below the rate and the rate is the tail's own; on the calm series it is the floor."""
    rng = np.random.default_rng(4)
    sound, calm = TailCalibrator(n=1), TailCalibrator(n=1)
    everything = np.ones(1, dtype=bool)
    for _ in range(60_000):
        sound.learn(np.abs(rng.normal(size=1)), everything)
    for _ in range(200_000):
        calm.learn(np.zeros(1), everything)
    prior_weight = RATE_FLOOR_WEIGHT
    prior_exceed = sound.prior_rate * prior_weight
    for cal in (sound, calm):
        exceed, weight = cal.exceed[0], cal.weight[0]
        floor = prior_exceed / (float(weight) + prior_weight)
        own = float(exceed / weight)
        got = _rate(exceed, weight, prior_exceed, prior_weight, 1e12)
        assert got == max(own, floor)
    assert float(sound.exceed[0] / sound.weight[0]) > 10 * prior_exceed / (
        float(sound.weight[0]) + prior_weight
    )
    assert float(calm.exceed[0] / calm.weight[0]) < 0.2 * prior_exceed / (
        float(calm.weight[0]) + prior_weight
    )


def test_constant_series_settle_below_the_threshold() -> None:
    """Through the engine, one-minute points for twelve weeks: before, the calm score had
    climbed to 0.81 by then (and crossed 0.90 in the nineteenth week); now it has settled
    at 0.70."""
    step, weeks = 60.0, 12
    x = np.array([1.0, 0.0, 42.0, 1.767e9])  # up, a zero gauge, a limit, a boot time
    engine = BatchEngine(x.size, Settings())
    flagged = 0
    score = np.zeros(x.size)
    for k in range(int(weeks * 7 * 86_400 / step)):
        step_result = engine.step(np.full(x.size, START + k * step), x.copy()).series
        flagged += int(step_result.flagged.sum())
        score = step_result.score
    assert flagged == 0
    assert score.max() < 0.75, score


def test_the_floor_counts_at_most_a_half_lifes_worth_of_points() -> None:
    """A tail that remembers two weeks of one-second points holds 1.7 million of them; the
    floor counts no more than the ~28,900 a per-point half-life gives, so a finely sampled
    constant series settles where a one-minute one does."""
    cal = TailCalibrator(n=2)
    most = 1.0 / (1.0 - float(cal.decay))
    assert 28_000 < most < 30_000
    prior_exceed = cal.prior_rate * RATE_FLOOR_WEIGHT
    at_most = prior_exceed / (most + RATE_FLOOR_WEIGHT)
    for weight in (most, 10 * most, 1.7e6):
        got = _rate(np.float32(0.0), np.float32(weight), prior_exceed, RATE_FLOOR_WEIGHT, most)
        assert got == pytest.approx(at_most, rel=1e-6)
    cal.weight[:] = np.float32([most, 1.7e6])
    cal.exceed[:] = 0.0
    p = cal.p_value(np.zeros(2))
    assert p[1] == pytest.approx(p[0], rel=1e-6)  # the same calm p at any sampling
