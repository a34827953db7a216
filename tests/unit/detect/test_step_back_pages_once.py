"""A step that lasts hours and then goes back pages once each way.

A calm one-minute series (20, noise 2) steps up by 60 for nine hours and comes back: a
regression a deploy introduced and a rollback ended. The step up pages once (its flagged
run lasts until the shift is accepted as the new normal, ``accept_after`` points). The step
back is a return to the level the series left when that shift was accepted
(``detect.returns``): it alerts at its first point and every detector accepts the old level
at once.

Until 2026-12-05 (eighteenth session) the step back paged twice, about half an hour apart:
once as a drop, then as a level shift. Only the rolling baseline held the step back's
flagged run (the seasonal detector's flat level was reset when the step up was accepted).
Flagged points are not learned, and the rolling baseline reads the ``max_gap`` (20) minutes
without a learned point as a gap in the data: it restarts cold, with no opinion for its
first 20 points, so the run ended before ``accept_after`` (30) and nothing was accepted. The
level-shift detector, whose level still said 80, then learned the points at 20 and paged
again (20 series: 20 alerts at the step back and 20 more 27-31 minutes later). Through
``anomalert detect`` the second onset joined the first (a new alert needs 20 quiet rows,
``Settings.cooldown``), but the service, which resolves an alert 10 minutes after its last
anomalous point, could page twice.

Two other fixes were measured (``docs/measurements.md``) and not landed: the rolling
baseline's clock advancing on held-back points (no restart: the run lasts until it is
accepted; SMD event precision 0.566 -> 0.551 and a NAB window lost, measured again in the
eighteenth session), and accepting a shift at 20 points instead of 30 (SMD event precision
0.570 -> 0.550).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from anomalert.cli import app
from tests.support.onsets import alert_onsets

T0 = 1_767_571_200.0  # a Monday 00:00 UTC
MIN = 60.0
SERIES = 4


def stepped(up: float, hours: float) -> tuple[np.ndarray, int, int]:
    """Calm series (ticks, SERIES) that step up by ``up`` at noon on their fourth day for
    ``hours``, with two hours after the step back; and the two steps' ticks."""
    start = 3 * 1440 + 12 * 60
    back = start + int(hours * 60)
    x = 20.0 + np.random.default_rng(0).normal(0.0, 2.0, (back + 120, SERIES))
    x[start:back] += up
    return x, start, back


def alerts_around(up: float, hours: float) -> tuple[list[int], list[int]]:
    """Alerts (flagged runs' first points) per series within two hours after the step up
    and after the step back, on the fourth day of a calm series."""
    x, start, back = stepped(up, hours)
    ticks, series = alert_onsets(T0 + MIN * np.arange(x.shape[0]), x)
    up = (ticks >= start) & (ticks < start + 120)
    after_up = np.bincount(series[up], minlength=SERIES).tolist()
    after_back = np.bincount(series[ticks >= back], minlength=SERIES).tolist()
    return after_up, after_back


def test_a_long_step_and_its_end_page_once_each() -> None:
    after_up, after_back = alerts_around(60.0, 9.0)
    assert after_up == [1] * SERIES
    assert after_back == [1] * SERIES


def test_a_short_step_pages_once() -> None:
    """Twenty-four minutes up, then back: one alert, and the way back is part of it."""
    after_up, after_back = alerts_around(60.0, 0.4)
    assert after_up == [1] * SERIES
    assert after_back == [0] * SERIES


def test_the_file_contract_pages_once_each_way(tmp_path: Path) -> None:
    """Through ``anomalert detect``, a file per series: one alert at the step up and one at
    the step back (the engine's second onset joins the first: 20 quiet rows start a new
    alert), and none elsewhere."""
    x, start, back = stepped(60.0, 9.0)
    stamps = pd.to_datetime(T0 + MIN * np.arange(x.shape[0]), unit="s", utc=True)
    (tmp_path / "in").mkdir()
    for j in range(SERIES):
        frame = pd.DataFrame({"timestamp": stamps, "value": x[:, j]})
        frame.to_csv(tmp_path / "in" / f"s{j}.csv", index=False)
    result = CliRunner().invoke(
        app, ["detect", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    for j in range(SERIES):
        flagged = pd.read_csv(tmp_path / "out" / f"s{j}.csv")["is_anomaly"].to_numpy() == 1
        alerts = np.flatnonzero(flagged).tolist()
        assert alerts == [start, back], (j, alerts)
