"""A series alerts only once it is two days old (``Ensemble.min_age``).

Its first two days are scored, and a would-be alert is held back from learning as an alert
is, but nothing is flagged: a daily model can be taken only once the data span two days, so
until then a daily shape and the series' noise still look new. The rule changes the paging
and nothing else.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.ensemble import MIN_AGE, Ensemble
from tests.support.checkpoints import restored_without

T0 = 1.7e9
MIN = 60.0
DAY = 86_400.0
YOUNG_SPIKE = 36 * 60  # noon of the second day
OLD_SPIKE = 54 * 60  # 06:00 on the third day (another time of day: not routine)


class Run(NamedTuple):
    score: np.ndarray
    flagged: np.ndarray
    mature: np.ndarray


def _values(seed: int = 7, points: int = 3 * 1440, spikes: bool = True) -> np.ndarray:
    """Three days of calm one-minute noise with a 40σ spike on the second and third."""
    x = np.random.default_rng(seed).normal(100.0, 1.0, points)
    if spikes:
        x[YOUNG_SPIKE] += 40.0
        x[OLD_SPIKE] += 40.0
    return x


def _run(ensemble: Ensemble, x: np.ndarray, start: int = 0) -> Run:
    out = Run(np.empty(x.size), np.empty(x.size, bool), np.empty(x.size, bool))
    for k in range(x.size):
        step = ensemble.step(np.array([T0 + MIN * (start + k)]), x[k : k + 1])
        out.score[k], out.flagged[k], out.mature[k] = step.score[0], step.flagged[0], step.mature[0]
    return out


def _ensemble(min_age: float = MIN_AGE) -> Ensemble:
    return BatchEngine(1, Settings(min_age=min_age)).series


def test_a_spike_in_the_first_two_days_is_scored_but_not_flagged() -> None:
    ens = _ensemble()
    assert ens.min_age == 2 * DAY
    r = _run(ens, _values())
    assert r.score[YOUNG_SPIKE] >= ens.threshold
    assert not r.flagged[:2880].any()
    assert np.flatnonzero(r.flagged).tolist() == [OLD_SPIKE]
    # mature from the first point two days after the first one
    assert np.flatnonzero(r.mature)[0] == 2880


def test_growing_up_changes_only_the_paging() -> None:
    x = _values()
    young, anytime = _run(_ensemble(), x), _run(_ensemble(min_age=0.0), x)
    np.testing.assert_array_equal(young.score, anytime.score)
    np.testing.assert_array_equal(young.flagged, anytime.flagged & young.mature)
    assert anytime.flagged[YOUNG_SPIKE]
    # with no age to wait for, min_history (120 points) still holds
    assert np.flatnonzero(anytime.mature)[0] == 120


def test_a_series_added_later_waits_its_own_days() -> None:
    ens = _ensemble()
    x = _values(spikes=False, points=4 * 1440)
    _run(ens, x[:3000])
    ens.grow(2)
    t = T0 + MIN * (3000 + np.arange(700))
    both = np.stack([x[3000:3700], _values(seed=8, spikes=False)[:700]], axis=1)
    both[600, :] += 40.0  # the first series is 60 hours old, the new one 10
    flagged = np.array([ens.step(t[k : k + 1].repeat(2), both[k]).flagged for k in range(601)])
    assert not flagged[:600].any()
    assert flagged[600].tolist() == [True, False]


def test_a_checkpoint_from_before_the_rule_resumes_old_enough() -> None:
    """Its series that had started are past their first days as far as anyone can tell."""
    ens = _ensemble()
    x = _values()
    _run(ens, x[:300])
    old = restored_without(ens, "born", "min_age")
    assert old.min_age == MIN_AGE and np.isneginf(old.born).all()
    spike = old.step(np.array([T0 + MIN * 300]), np.array([x[300] + 40.0]))
    assert spike.flagged[0] and spike.mature[0]


def test_an_age_that_is_not_seconds_is_a_clear_error() -> None:
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="min_age: expected seconds >= 0"):
            _ensemble(min_age=bad)
