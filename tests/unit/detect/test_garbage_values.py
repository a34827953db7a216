"""A broken exporter's garbage value does not blind a series for good.

An exporter that wraps a counter below zero sends 18446744073709551615 (uint64's largest);
another sends float32's largest for "no data". One such point in a calm series made a
statistic whose square overflowed the tail's float32 moments: the tail was inf from then
on, the series' p-values NaN, and it never paged again (``calibrate.MAX_EXCESS``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.registry import SERVICE_UNIVARIATE

T0 = 1.7e9


@pytest.mark.parametrize("garbage", [1.8446744073709552e19, 3.4028234663852886e38, -1e300])
def test_a_garbage_value_pages_once_and_the_series_can_page_again(garbage: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 1.0, 9000)
    x[4000] = garbage
    x[8000] = 1e30  # beyond anything the tail learned (it learns at most MAX_EXCESS)
    engine = BatchEngine(1, Settings(univariate=SERVICE_UNIVARIATE))
    flagged = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for k in range(x.size):
            step = engine.step(np.array([T0 + 60.0 * k]), x[k : k + 1]).series
            assert 0.0 <= step.score[0] <= 1.0, k
            if step.flagged[0]:
                flagged.append(k)
    assert flagged == [4000, 8000]
    tails = engine.series.tails
    for moment in (tails.weight, tails.exceed, tails.excess, tails.excess_sq):
        assert np.isfinite(moment).all()
