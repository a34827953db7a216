"""Routine excursions: a spike that happens every night at 03:05 is a cron job, not news.

The seasonal profile learns the *average* shape of a day; a narrow spike whose minute
jitters from day to day is smeared away by it, so the level detectors see it afresh every
night. This memory keeps, per series and per half hour of the day, how surprising the most
surprising point there has recently been (in -log10 p units, decaying with a half-life of
``half_life_days``), learned from every would-be alert, flagged or not. A new point's surprise is
reduced by the largest memory of its own and the two neighbouring half hours (±45 minutes
of jitter): an excursion as large as the ones seen around this time on previous days is
routine, a larger one still stands out by the difference.

Only would-be alerts are touched (remembered, and discounted), so the memory costs almost
nothing per tick, and everyday wobbles of a bursty series do not make its nights routine.

The price is recall for incidents that recur at the same time on consecutive days; the
product's principle (a false page is worse than a missed blip) accepts it.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, FloatArray

DAY = 86_400.0
#: Peaks younger than this are today's, and do not make today's later points routine.
MIN_AGE_DAYS = 0.5


class RoutineMemory(ArrayState):
    """Per series, per half hour of the day: the decayed peak surprise seen there."""

    series_last = ("peak", "stamp")

    def __init__(self, n: int = 1, bins: int = 48, half_life_days: float = 3.0) -> None:
        self.n = n
        self.bins = bins
        self.half_life_days = half_life_days
        # Bins first, series last, as in the seasonal profiles.
        self.peak = np.zeros((bins, n), dtype=np.float32)
        # Day number of each peak (float32 days keep minutes of precision in half the bytes).
        self.stamp = np.full((bins, n), np.nan, dtype=np.float32)

    def _bin(self, t: FloatArray) -> np.ndarray:
        return (np.mod(np.nan_to_num(t), DAY) / DAY * self.bins).astype(np.int64) % self.bins

    def _decayed(self, t: FloatArray, b: np.ndarray, idx: np.ndarray) -> FloatArray:
        """Peak of bin b of series idx, decayed to time t."""
        age = np.nan_to_num(t / DAY - self.stamp[b, idx], nan=np.inf)
        return self.peak[b, idx] * np.power(0.5, np.maximum(age, 0.0) / self.half_life_days)

    def _earlier_days(self, t: FloatArray, b: np.ndarray, idx: np.ndarray) -> FloatArray:
        """Like ``_decayed``, but only for peaks from earlier days (half a day or older).

        A spike this morning says nothing about a drop an hour later; what makes a time of
        day routine is that it misbehaved at that time on previous days.
        """
        age = np.nan_to_num(t / DAY - self.stamp[b, idx], nan=np.inf)
        return np.where(age >= MIN_AGE_DAYS, self._decayed(t, b, idx), 0.0)

    def routine(self, t: FloatArray, idx: np.ndarray) -> FloatArray:
        """The surprise that counts as routine at t (times of the series idx)."""
        b = self._bin(t)
        return np.maximum.reduce(
            [self._earlier_days(t, (b + shift) % self.bins, idx) for shift in (-1, 0, 1)]
        )

    def forget(self, mask: np.ndarray) -> None:
        """Clear the masked series' memory: what was routine is explained another way now
        (the seasonal detector took a model with the daily shape in it)."""
        self.peak[:, mask] = 0.0
        self.stamp[:, mask] = np.nan

    def learn(self, t: FloatArray, surprise: FloatArray, idx: np.ndarray) -> None:
        """Fold the surprise of series idx at times t into their half hour's peak."""
        b = self._bin(t)
        new = np.maximum(self._decayed(t, b, idx), surprise)
        self.peak[b, idx] = new.astype(np.float32)
        self.stamp[b, idx] = (t / DAY).astype(np.float32)
