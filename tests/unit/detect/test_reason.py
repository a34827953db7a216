"""Plain-words reasons: the numbers in them stay readable at the extremes."""

from __future__ import annotations

import math

from anomalert.detect.reason import duration_text, explain, one_in
from anomalert.model import Kind

T = 1_767_571_200.0  # 2026-01-05 00:00 UTC, a Monday


def test_an_ordinary_spike_reads_in_sigmas() -> None:
    text = explain("latency", 840.0, T, Kind.SPIKE, 210.0, 60.0, 360.0)
    assert text == "latency 840, 12.6σ above the usual 210 (spike)"


def test_a_move_off_a_spread_of_nothing_does_not_print_millions_of_sigmas() -> None:
    """A column that sat at 0 and moves to 0.00108 (SMD machine-2-8 printed 1075000.0σ)."""
    huge = explain("c17", 0.00108, T, Kind.SPIKE, 0.0, -3e-9, 3e-9)
    assert huge == "c17 0.00108, over 1,000σ above the usual 0 (spike)"
    flat = explain("c17", 0.00108, T, Kind.SPIKE, 0.0, 0.0, 0.0)  # no spread at all
    assert flat == "c17 0.00108, over 1,000σ above the usual 0 (spike)"
    seasonal = explain("x", 5.0, T + 14 * 3600.0, Kind.DROP, 90.0, 80.0, 100.0, seasonal=True)
    assert seasonal == "x 5, 25.5σ below the usual 90 for Mon 14:00 (drop)"


def test_rarity_reads_as_one_in_n() -> None:
    assert one_in(3.8e-6) == "about 1 in 260,000"
    assert one_in(2.7e-4) == "about 1 in 3,700"
    assert one_in(0.5) == "about 1 in 2"
    assert one_in(0.0) == "less than 1 in a billion"
    assert one_in(math.nan) == "of unknown rarity"


def test_a_sudden_change_reads_as_a_step_not_as_the_level() -> None:
    """The rolling baseline's step fired (``detail``: its sigmas): the value may sit near its
    usual level, so the level's sigmas ("0.5σ above the usual") would not explain the page."""
    text = explain(
        "request_rate", 48.1, T + 7.3 * 3600.0, Kind.DROP, 47.2, 41.8, 52.6, 5.3, seasonal=True
    )
    assert text == (
        "request_rate 48.1, a sudden drop from the previous point, 5.3σ beyond its usual "
        "point-to-point change (usual level 47.2 for Mon 07:00) (drop)"
    )
    rise = explain("cpu", 27.5, T, Kind.SPIKE, 24.3, 21.0, 27.6, 5.9)
    assert rise.startswith("cpu 27.5, a sudden rise from the previous point, 5.9σ")


def test_a_return_reads_as_going_back_to_the_level_it_left() -> None:
    """A level shift whose ``detail`` is the minutes since the shift it undoes was accepted
    (``detect/returns.py``): the band is the level gone back to, not the shifted one."""
    text = explain("latency", 21.3, T, Kind.LEVEL_SHIFT, 20.1, 14.1, 26.1, 95.0)
    assert text == (
        "latency 21.3 is back near 20.1, where it was before a shift accepted as the new "
        "normal 95 minutes ago (band 14.1–26.1) (level shift)"
    )
    later = explain("latency", 21.3, T, Kind.LEVEL_SHIFT, 20.1, 14.1, 26.1, 5.2 * 60)
    assert "accepted as the new normal 5 hours ago" in later
    shift = explain("latency", 80.0, T, Kind.LEVEL_SHIFT, 20.0, 14.0, 26.0)  # no detail
    assert shift.endswith("and stayed there (level shift)")


def test_durations_read_as_people_say_them() -> None:
    assert duration_text(1.0) == "1 minute"
    assert duration_text(61.0) == "61 minutes"
    assert duration_text(120.0) == "2 hours"
    assert duration_text(23.6 * 60) == "24 hours"
    assert duration_text(72.0 * 60) == "3 days"
    assert duration_text(1440.0 * 1.2) == "29 hours"
