"""A clean business-hours series stops paging at its edges once its day is known.

A square daily wave (20 at night, 80 from 09:00 to 18:00, noise 0.5) at one-minute
resolution. Its second day may page at 09:00 and 18:00: a series alerts once it is a day
old, and a daily shape can be told from a change only after two days. Until 2026-12-05 it
paged at both edges on its third and fourth day too (every one of 20 series), and only
then stopped; at five-minute resolution it never paged.

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

from anomalert.detect.engine import BatchEngine

T0 = 1_396_310_400.0  # a Tuesday 00:00 UTC
DAY = 86_400.0
SERIES = 4


def alerts_per_day(step: float, days: int = 5) -> list[int]:
    t = T0 + step * np.arange(int(days * DAY / step))
    hour = (t % DAY) / 3600.0
    wave = np.where((hour >= 9.0) & (hour < 18.0), 80.0, 20.0)
    x = wave[:, None] + np.random.default_rng(0).normal(0.0, 0.5, (t.size, SERIES))
    engine = BatchEngine(SERIES)
    before = np.zeros(SERIES, dtype=bool)
    per_day = [0] * days
    for k in range(t.size):
        flagged = engine.step(np.full(SERIES, t[k]), x[k]).series.flagged
        per_day[int((t[k] - T0) // DAY)] += int((flagged & ~before).sum())
        before = flagged
    return per_day


@pytest.mark.parametrize("step", [10.0, 60.0])
def test_fine_grained_business_hours_page_on_the_second_day_at_most(step: float) -> None:
    """Ten seconds and one minute (the edges' first points are more surprising the finer
    the sampling: held at one alert's worth, the routine memory still let four ten-second
    series page 3 times on their third day)."""
    per_day = alerts_per_day(step, days=4)
    assert per_day[2:] == [0, 0], per_day


def test_five_minute_business_hours_never_page() -> None:
    assert alerts_per_day(300.0) == [0, 0, 0, 0, 0]
