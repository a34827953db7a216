"""A tail calibrator that has learned calm noise, for the tests of what the tails keep."""

from __future__ import annotations

import numpy as np

from anomalert.detect.calibrate import TailCalibrator


def gaussian_tails(n: int = 3, points: int = 20_000) -> TailCalibrator:
    """``n`` series' tails after ``points`` absolute standard normal statistics (seed 7)."""
    rng = np.random.default_rng(7)
    cal = TailCalibrator(n=n)
    everyone = np.ones(n, dtype=bool)
    for _ in range(points):
        cal.learn(np.abs(rng.standard_normal(n)), everyone)
    return cal
