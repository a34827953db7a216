"""One alert per anomaly episode, decided tick by tick (``Episodes``) or over whole histories
at once (``episode_starts``, what ``detect`` uses on one-column files): the same alerts."""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.engine import Episodes, episode_starts


def _tick_by_tick(flagged: np.ndarray, cooldown: int) -> np.ndarray:
    episodes = Episodes(flagged.shape[0], cooldown)
    return np.stack([episodes.fire(k, flagged[:, k]) for k in range(flagged.shape[1])], axis=1)


def test_a_burst_and_flags_with_short_gaps_are_one_episode() -> None:
    flagged = np.array([[0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1]], dtype=bool)
    assert np.flatnonzero(episode_starts(flagged, cooldown=3)[0]).tolist() == [1, 10]
    assert np.flatnonzero(episode_starts(flagged, cooldown=5)[0]).tolist() == [1]
    assert np.flatnonzero(episode_starts(flagged, cooldown=1)[0]).tolist() == [1, 5, 10]


@pytest.mark.parametrize("cooldown", [0, 1, 5, 60])
@pytest.mark.parametrize("density", [0.01, 0.2, 0.9])
def test_whole_histories_fire_as_tick_by_tick(cooldown: int, density: float) -> None:
    rng = np.random.default_rng(int(cooldown * 100 + density * 10))
    flagged = rng.random((7, 500)) < density
    flagged[0] = False  # a series that never flags
    flagged[1] = True  # and one that always does
    np.testing.assert_array_equal(
        episode_starts(flagged, cooldown), _tick_by_tick(flagged, cooldown)
    )


def test_no_ticks_no_starts() -> None:
    assert episode_starts(np.zeros((3, 0), dtype=bool), 5).shape == (3, 0)
