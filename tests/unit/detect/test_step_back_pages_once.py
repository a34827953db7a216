"""A step that lasts hours and then goes back pages once each way (known bug, strict xfail).

A calm one-minute series (20, noise 2) steps up by 60 for nine hours and comes back: a
regression a deploy introduced and a rollback ended. The step up pages once (its flagged
run lasts until the shift is accepted as the new normal, ``accept_after`` points). The step
back pages twice, about half an hour apart: once as a drop, then as a level shift.

Why: only the rolling baseline holds the step back's flagged run (the seasonal detector's
flat level was reset when the step up was accepted). Flagged points are not learned, and
the rolling baseline reads the ``max_gap`` (20) minutes without a learned point as a gap
in the data: it restarts cold, with no opinion for its first 20 points, so the run ends
before ``accept_after`` (30) and nothing is accepted. The level-shift detector, whose level
still says 80, then learns the points at 20 and pages again (measured on 2026-12-05,
twelfth session: 20 series, 20 alerts at the step back and 20 more 27-31 minutes later).

Two fixes were measured (``docs/measurements.md``): the rolling baseline's clock advancing
on held-back points (no restart, the run lasts until it is accepted) fixes it, and a
business-hours series that starts on a weekend raises 40 alerts on its first weekdays
instead of 61, but SMD event precision fell 0.570 -> 0.549 (a daily 13:00 job on
machine-1-8 began to page every day: the day profile never learns a run it did not see
the end of) and NAB lost a window; accepting a shift at 20 points instead of 30 fixes it
with NAB unchanged, but SMD event precision fell to 0.550.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.onsets import alert_onsets

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
SERIES = 4

STEP_BACK_BUG = (
    "ensemble/rolling: a flagged run longer than the rolling baseline's max_gap reads as a "
    "gap in the data, so a step back after hours pages twice (drop, then level shift)"
)


def alerts_around(up: float, hours: float) -> tuple[list[int], list[int]]:
    """Alerts (flagged runs' first points) per series within two hours after the step up
    and after the step back, on the fourth day of a calm series."""
    ticks = 5 * 1440
    start = 3 * 1440 + 12 * 60
    back = start + int(hours * 60)
    x = 20.0 + np.random.default_rng(0).normal(0.0, 2.0, (ticks, SERIES))
    x[start:back] += up
    ticks, series = alert_onsets(T0 + MIN * np.arange(back + 120), x[: back + 120])
    up = (ticks >= start) & (ticks < start + 120)
    after_up = np.bincount(series[up], minlength=SERIES).tolist()
    after_back = np.bincount(series[ticks >= back], minlength=SERIES).tolist()
    return after_up, after_back


@pytest.mark.xfail(strict=True, reason=STEP_BACK_BUG)
def test_a_long_step_and_its_end_page_once_each() -> None:
    after_up, after_back = alerts_around(60.0, 9.0)
    assert after_up == [1] * SERIES
    assert after_back == [1] * SERIES


def test_a_short_step_pages_once() -> None:
    """Twenty-four minutes up, then back: one alert, and the way back is part of it."""
    after_up, after_back = alerts_around(60.0, 0.4)
    assert after_up == [1] * SERIES
    assert after_back == [0] * SERIES
