"""The noise bench on a few short series: every family is measured and written (never a
quality claim: the figures of such short runs are dominated by the warm-up)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.noise import FAMILIES, flagged_rates, main


def test_every_family_is_measured_and_written(tmp_path: Path) -> None:
    out = tmp_path / "noise.json"
    results = main(["--series", "3", "--points", "400", "--seeds", "1", "--json", str(out)])
    assert set(results) == set(FAMILIES)
    assert json.loads(out.read_text()) == results
    for r in results.values():
        assert 0.0 <= r["runs_per_10k"] <= r["points_per_10k"]
        # 400 points are all young: every alert is counted there, none after
        assert r["young_runs_per_10k"] == r["runs_per_10k"]
        assert r["settled_runs_per_10k"] is None


def test_a_spike_in_the_noise_counts_as_one_alert() -> None:
    """The counting itself: a draw with one large spike per series on its third day (the
    bench ticks every minute; a series alerts once it is two days old) gives one run per
    series."""

    def spiky(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        x = rng.normal(100.0, 1.0, shape)
        x[3000, :] += 50.0
        return x

    r = flagged_rates(spiky, series=2, points=3200, seeds=1)
    assert r.runs == 1e4 * 2 / (2 * 3200)
    assert r.points >= r.runs


def test_alerts_are_split_by_the_series_age() -> None:
    """A spike at point 3,000 of each series counts after a young age of 2,900, not
    before; each rate is per 10,000 of its own points."""

    def spiky(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        x = rng.normal(100.0, 1.0, shape)
        x[3000, :] += 50.0
        return x

    r = flagged_rates(spiky, series=2, points=3200, seeds=1, young=2900)
    assert r.young_runs == 0.0
    assert r.settled_runs == 1e4 * 2 / (2 * 300)
    assert r.runs == 1e4 * 2 / (2 * 3200)


def test_bad_sizes_exit_2_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--series", "0"], "--series: must be at least 1"),
        (["--points", "abc"], "--points: not a whole number"),
    ):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert message in capsys.readouterr().err
