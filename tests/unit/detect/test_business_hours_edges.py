"""A clean business-hours series never pages at its edges.

A square daily wave (20 at night, 80 from 09:00 to 18:00, noise 0.5) at one-minute
resolution. Until 2026-12-05 (twelfth session) its second day paged at 09:00 and 18:00,
every series: a series alerted once it was a day old, and a daily model can be taken only
after two days, so the flat model read the edges as changes; it alerts once two days old
now (``ensemble.MIN_AGE``). Until 2026-12-05 (eleventh session) it also paged at both edges
on its third and fourth day (every one of 20 series), and only then stopped; at
five-minute resolution it never paged.

Why: the edge points are flagged (by the rolling baseline, on the input with the seasonal
shape removed), so the day profile never learns them, and its first week converges slowly:
on the third day it still expects about 42 at 09:00. The routine memory calls the edges
routine after two earlier days, but it was cleared when the daily model was taken, on the
third day; it is held at two alerts' worth now. Other fixes measured (docs/measurements.md):
the seasonal detector also learning flagged points it does not itself find surprising
(days 2-4: 40 / 40 / 20 alerts over 20 series instead of 40 / 40 / 40; SMD: three more
false events); with the day profile as the mean of what each bin has seen as well,
40 / 0 / 0, but NAB 48 -> 41 windows and SMD event precision 0.561 -> 0.526.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.onsets import alert_onsets

T0 = 1_396_310_400.0  # a Tuesday 00:00 UTC
DAY = 86_400.0
SERIES = 4


def alerts_per_day(step: float, days: int = 5) -> list[int]:
    t = T0 + step * np.arange(int(days * DAY / step))
    hour = (t % DAY) / 3600.0
    wave = np.where((hour >= 9.0) & (hour < 18.0), 80.0, 20.0)
    x = wave[:, None] + np.random.default_rng(0).normal(0.0, 0.5, (t.size, SERIES))
    ticks, _ = alert_onsets(t, x)
    day = ((t[ticks] - T0) // DAY).astype(int)
    return np.bincount(day, minlength=days).tolist()


@pytest.mark.parametrize("step", [10.0, 60.0])
def test_fine_grained_business_hours_never_page(step: float) -> None:
    """Ten seconds and one minute (the edges' first points are more surprising the finer
    the sampling: held at one alert's worth, the routine memory still let four ten-second
    series page 3 times on their third day)."""
    assert alerts_per_day(step, days=4) == [0, 0, 0, 0]


def test_five_minute_business_hours_never_page() -> None:
    assert alerts_per_day(300.0) == [0, 0, 0, 0, 0]
