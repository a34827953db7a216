"""Routine excursions: a spike that happens every night at 03:05 is a cron job, not news.

The seasonal profile learns the *average* shape of a day; a narrow spike whose minute
jitters from day to day is smeared away by it, so the level detectors see it afresh every
night. This memory keeps, per series and per half hour of the day, how surprising the most
surprising point there has been on each of the two most surprising earlier days (in
-log10 p units, decaying with a half-life of ``half_life_days``), learned from every
would-be alert, flagged or not. A new point's surprise is reduced by the *second* of them:
an excursion as large as the ones seen around this time on two earlier days is routine, a
larger one still stands out by the difference. A would-be alert is remembered in its own
half hour and in both neighbouring ones (±45 minutes of jitter), and a point reads its own:
so the two days may be any two with an excursion within the jitter, whichever side of a
bin's edge each fell on. (Reading the neighbours instead, each bin's two days had to fall
in that one bin: a 3-minute job starting at 21:50 or 22:05 on alternate nights paged on
three nights, not two.)

Why two days and not one (until 2026-12-04, one): once is a coincidence, twice is a
pattern. With one earlier day, a single burst at 10:00 hid every excursion at 10:00 for
days after it: on NAB, two labelled tweet bursts (Twitter AAPL and PFE, each 2+ days after
a one-off burst at the same time of day) did not page. The price is one more page for a
new nightly job, on its second night; from its third it is routine.

Only would-be alerts are touched (remembered, and discounted), so the memory costs almost
nothing per tick, and everyday wobbles of a bursty series do not make its nights routine.

Each bin keeps today's excursion (``recent``) apart from the earlier days' memory (``peak``
and ``second``) until the next day's first would-be alert there: a nightly job that runs
for half an hour is discounted on every one of its points, not only on the first. (With
one slot, the first point's surprise was folded in and stamped today, which made the
earlier days' memory look like today's, so from the second point on the job paged as if it
had never run.) The three memories are float16: a surprise of 4-300 kept to three
significant digits is plenty, and they fit the per-series budget.

The price is recall for incidents that recur at the same time on three days running; the
product's principle (a false page is worse than a missed blip) accepts it.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, FloatArray

DAY = 86_400.0
#: Peaks younger than this are today's, and do not make today's later points routine.
MIN_AGE_DAYS = 0.5
#: The memories' dtype (see the module's docstring).
MEMORY = np.float16


def _runner_up(peak: FloatArray, second: FloatArray, day: FloatArray) -> FloatArray:
    """The second largest of a bin's two largest earlier days (``peak`` >= ``second``) and
    one more day's excursion."""
    return np.maximum(second, np.minimum(peak, day))


class RoutineMemory(ArrayState):
    """Per series, per half hour of the day: the decayed peak surprises of the two most
    surprising earlier days there, and today's."""

    series_last = ("peak", "second", "recent", "stamp")

    def __init__(self, n: int = 1, bins: int = 48, half_life_days: float = 3.0) -> None:
        self.n = n
        self.bins = bins
        self.half_life_days = half_life_days
        # Bins first, series last, as in the seasonal profiles. ``peak`` and ``second``: the
        # largest and second largest earlier day's excursion; ``recent``: the current day's
        # (its points so far); all decayed to ``stamp``, the day number of the bin's latest
        # would-be alert (float32 days keep minutes of precision in half the bytes).
        self.peak = np.zeros((bins, n), dtype=MEMORY)
        self.second = np.zeros((bins, n), dtype=MEMORY)
        self.recent = np.zeros((bins, n), dtype=MEMORY)
        self.stamp = np.full((bins, n), np.nan, dtype=np.float32)

    def _bin(self, t: FloatArray) -> np.ndarray:
        return (np.mod(np.nan_to_num(t), DAY) / DAY * self.bins).astype(np.int64) % self.bins

    def _age(self, t: FloatArray, b: np.ndarray, idx: np.ndarray) -> FloatArray:
        """Days since bin b of series idx last learned (inf if never)."""
        return np.nan_to_num(t / DAY - self.stamp[b, idx], nan=np.inf)

    def _decay(self, age: FloatArray) -> FloatArray:
        return np.power(0.5, np.maximum(age, 0.0) / self.half_life_days)

    def routine(self, t: FloatArray, idx: np.ndarray) -> FloatArray:
        """The surprise that counts as routine at t (times of the series idx): their half
        hour's second largest excursion of earlier days (half a day or older), decayed to t.

        A spike this morning says nothing about a drop an hour later; what makes a time of
        day routine is that it misbehaved at that time on previous days, on two of them.
        The current day's excursion joins the memory once it is half a day old.
        """
        b = self._bin(t)
        age = self._age(t, b, idx)
        peak, second, recent = (
            a[b, idx].astype(np.float64) for a in (self.peak, self.second, self.recent)
        )
        known = np.where(age >= MIN_AGE_DAYS, _runner_up(peak, second, recent), second)
        return known * self._decay(age)

    def cap(self, mask: np.ndarray, surprise: float) -> None:
        """Hold the masked series' memory at ``surprise`` at most: a time of day that kept
        surprising stays routine, but only up to that (two alerts' worth, for the ensemble
        when a seasonal model is taken: the daily edges scored as flat, hundreds of sigmas,
        would otherwise hide a real anomaly at the same time for weeks)."""
        for name in ("peak", "second", "recent"):
            a = getattr(self, name)
            a[:, mask] = np.minimum(a[:, mask], MEMORY(surprise))

    def learn(self, t: FloatArray, surprise: FloatArray, idx: np.ndarray) -> None:
        """Fold the surprise of series idx at times t into their half hour's memory.

        The first would-be alert of a new day in a bin moves the previous day's excursion
        into the earlier days' memory (keeping the two largest days) and starts the day's
        own; later ones of the same day add to the day's own. It is folded into the
        neighbouring half hours too (the jitter; see the module's docstring).
        """
        b = self._bin(t)
        for shift in (-1, 0, 1):
            self._fold(t, surprise, idx, (b + shift) % self.bins)

    def _fold(self, t: FloatArray, surprise: FloatArray, idx: np.ndarray, b: np.ndarray) -> None:
        """``learn`` in bin b of each series idx."""
        age = self._age(t, b, idx)
        decay = self._decay(age)
        peak, second, recent = (a[b, idx] * decay for a in (self.peak, self.second, self.recent))
        new_day = age >= MIN_AGE_DAYS
        self.second[b, idx] = np.where(new_day, _runner_up(peak, second, recent), second)
        self.peak[b, idx] = np.where(new_day, np.maximum(peak, recent), peak)
        self.recent[b, idx] = np.maximum(np.where(new_day, 0.0, recent), surprise)
        self.stamp[b, idx] = (t / DAY).astype(np.float32)

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        # A checkpoint from before ``recent`` existed: its single peak is the earlier days'.
        if "recent" not in state:
            self.recent = np.zeros_like(self.peak)
        # From before ``second`` existed: its memory was enough to make a time routine, and
        # still is (an upgrade must not page again on the jobs it had learned). It was kept
        # in the excursion's own half hour only (not folded into the neighbours): a job at a
        # bin's edge may page once more.
        if "second" not in state:
            self.second = self.peak.copy()
        for name in ("peak", "second", "recent"):
            setattr(self, name, getattr(self, name).astype(MEMORY))
