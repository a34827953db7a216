"""Observe shares its work with learn: learning after observing is learning alone, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.base import Detector
from anomalert.detect.changepoint import LevelShiftDetector
from anomalert.detect.forecast import ForecastDetector
from anomalert.detect.rolling import RollingDetector


def _state(det: Detector) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in vars(det).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize(
    "make",
    [
        lambda n: ForecastDetector(n=n, limit=80.0),
        lambda n: RollingDetector(n=n),
        lambda n: LevelShiftDetector(n=n),
    ],
)
def test_learning_after_observing_equals_learning_alone(make) -> None:  # type: ignore[no-untyped-def]
    n = 40
    rng = np.random.default_rng(3)
    seen, alone = make(n), make(n)
    for k in range(600):
        # Rising values with missing points, long gaps (restarts) and points held back.
        x = 20.0 + 0.05 * k + rng.normal(0, 1, n)
        x[rng.random(n) < 0.05] = np.nan
        x[(k % 150 > 100) & (np.arange(n) % 4 == 0)] = np.nan
        t = np.full(n, 60.0 * k)
        mask = np.isfinite(x) & (rng.random(n) > (0.1 if k % 2 else 0.0))
        seen.observe(t, x)
        seen.learn(t, x, mask)
        alone.learn(t, x, mask)
        if k % 200 == 199:
            seen.adapt(np.arange(n) % 3 == 0)
            alone.adapt(np.arange(n) % 3 == 0)
    a, b = _state(seen), _state(alone)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
