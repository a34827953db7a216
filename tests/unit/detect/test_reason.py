"""Plain-words reasons: the numbers in them stay readable at the extremes."""

from __future__ import annotations

import math

from anomalert.detect.reason import explain, one_in
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
