"""Pure noise around a daily shape keeps the noise contract (known bug, strict xfail).

The product promises at most one alert per 10,000 points of pure noise at the default
threshold. Around a daily wave, where the seasonal detector models the series and holds
half the error budget, Student-t(3) noise raises about 2.0 per 10,000 (``benchmarks/noise.py``,
"daily + Student-t(3)", 1.96 on 2026-12-05). Measured causes: in the daily model's first week its
residual variance lags a day profile that is still converging, so its statistic first runs
small and then overshoots, and the tail learns across that (p-values below 1e-4 four to
five times as often as they say in days 2-8); after three weeks the deep tail is still
1.5-3 times off (the seasonal row's shape cap of 0.30 and the moment fit's bias on a
shape-1/3 tail). What was tried and measured is in docs/measurements.md ("Known defect") and the
session notes. Gaussian noise around the same wave keeps the budget (0.03).
"""

from __future__ import annotations

import pytest

from benchmarks.noise import FAMILIES, flagged_rates

DAILY_NOISE_BUG = (
    "ensemble/calibrate: Student-t(3) noise around a daily wave raises about 2.0 alerts per "
    "10,000 points (the seasonal row's tail learns across the daily model's first week)"
)


@pytest.mark.xfail(strict=True, reason=DAILY_NOISE_BUG)
def test_heavy_tailed_noise_around_a_daily_wave_keeps_the_budget() -> None:
    """Twenty series, two weeks of one-minute points each: at most one alert per 10,000
    points (the bench measures about twice that; far enough from the line that the strict
    mark cannot flip by chance)."""
    rates = flagged_rates(FAMILIES["daily + Student-t(3)"], series=20, points=20_160, seeds=1)
    assert rates.runs <= 1.0


def test_gaussian_noise_around_a_daily_wave_keeps_the_budget() -> None:
    rates = flagged_rates(FAMILIES["daily + Gaussian"], series=20, points=20_160, seeds=1)
    assert rates.runs <= 1.0
