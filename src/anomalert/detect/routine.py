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

``WeeklyRoutine`` is the same idea for the time of the week (a weekday-only service's
Saturday mornings, a weekly job), kept as a few episodes per series instead of bins.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, FloatArray
from anomalert.detect.localtime import turn

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

    def move_clock(self, idx: np.ndarray, shift: FloatArray) -> None:
        """Series ``idx`` changed wall clock, theirs moving by ``shift`` seconds (another
        time zone): their half hours turn with it, to the nearest bin, and stamps move."""
        bins = np.round(shift / DAY * self.bins).astype(np.int64)
        turn([self.peak, self.second, self.recent, self.stamp], idx, bins)
        self.stamp[:, idx] += (shift / DAY).astype(np.float32)

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


#: A week in minutes, the unit of ``WeeklyRoutine``'s times.
WEEK_MINUTES = 7 * 24 * 60.0
#: How many earlier weeks ``WeeklyRoutine`` looks back at the same time of the week.
WEEKS = 4
#: On how many of them a blip (an episode not accepted as the new normal) must have come.
BLIP_WEEKS = 2


class WeeklyRoutine(ArrayState):
    """Per series, its last few episodes of would-be alerts (when each began and last
    alerted, its peak surprise, and whether it was accepted as the new normal): an
    excursion at a time of the week when the series misbehaved on earlier weeks is routine.

    Why: a weekday-only service's weekends are a weekly shape, and the seasonal model learns
    a time of the week slowly (an hour of the week is seen once a week, and what it is taught
    is clipped at a few sds): at two-minute points the first hour of a Saturday still paged
    on the second to fourth Saturdays (12-14 of 20 series each), though each was the same
    drop at the same time as the Saturday before. The daily memory (``RoutineMemory``)
    cannot see it: a week later its memory of the Saturday has decayed to a fifth, and the
    days between behaved.

    The rule, over the ``WEEKS`` earlier weeks at the same time of the week (``jitter``
    either side of an episode): one episode that was accepted as the new normal
    (``mark_lasting``) is enough, a change of shape coming back at the same time of the
    week; blips (episodes that were not) must have come on ``BLIP_WEEKS`` of those weeks,
    as the daily memory asks for two days: once is a coincidence (a tweet volume that
    spiked on a Tuesday at 23:30 spiked again, labelled, the next Tuesday at 23:40: NAB,
    Twitter_volume_PFE). The discount is the accepted episode's peak, or the second largest
    of the weeks' peaks. An episode that merely went on for half an hour, not accepted,
    does not count as lasting: SMD has weekly episodes like that (machine-1-8 on Sunday
    mornings, machine-1-4 on Wednesdays), labelled in the test weeks, and counted as
    lasting they cost two labelled events. The price of the blip rule: a weekly job pages
    on its first two weeks only (SMD machine-1-8's c16 spikes every Monday at 15:28, and
    the third time is labelled).

    The ensemble applies the discount after its decision, to the paging only
    (``Ensemble._quieten``): what the detectors learn is as without this memory.

    Episodes, not bins: 336 half hours of the week would cost 672 bytes per series; an
    episode costs 11. A new episode takes an empty slot, else one too old to match, else
    the one with the smallest peak; a series with more episodes than ``slots`` in four weeks
    forgets some and pages as before (the memory only ever discounts). Times are float32
    minutes since the epoch, exact to two minutes until 2033, to four after: finer than the
    jitter.
    """

    series_last = ("start", "last", "peak", "lasting")

    def __init__(self, n: int = 1, slots: int = 4, jitter: float = 2700.0):
        self.n = n
        self.slots = slots
        self.jitter = jitter
        # Slots first, series last. NaN times: an empty slot.
        self.start = np.full((slots, n), np.nan, dtype=np.float32)
        self.last = np.full((slots, n), np.nan, dtype=np.float32)
        self.peak = np.zeros((slots, n), dtype=MEMORY)
        self.lasting = np.zeros((slots, n), dtype=np.bool_)

    def routine(self, t: FloatArray, idx: np.ndarray) -> FloatArray:
        """The surprise that counts as routine at t (times of the series idx): see the
        class's docstring."""
        now = t / 60.0
        jitter = self.jitter / 60.0
        start = self.start[:, idx].astype(np.float64)
        last = self.last[:, idx].astype(np.float64)
        peak = self.peak[:, idx].astype(np.float64)
        lasting = self.lasting[:, idx]
        each = np.zeros((WEEKS, idx.size))
        shape = np.zeros(idx.size)
        for k in range(WEEKS):
            back = now - (k + 1) * WEEK_MINUTES
            # NaN (empty slots, a missing time) compares False: no match.
            covered = (back >= start - jitter) & (back <= last + jitter)
            each[k] = np.where(covered, peak, 0.0).max(axis=0)
            shape = np.maximum(shape, np.where(covered & lasting, peak, 0.0).max(axis=0))
        # The BLIP_WEEKS-th largest of the earlier weeks' excursions.
        return np.maximum(shape, np.sort(each, axis=0)[-BLIP_WEEKS])

    def move_clock(self, idx: np.ndarray, shift: FloatArray) -> None:
        """Series ``idx`` changed wall clock, theirs moving by ``shift`` seconds (another
        time zone): their episodes' times move with it."""
        self.start[:, idx] += (shift / 60.0).astype(np.float32)
        self.last[:, idx] += (shift / 60.0).astype(np.float32)

    def cap(self, mask: np.ndarray, surprise: float) -> None:
        """Hold the masked series' episodes at ``surprise`` at most (see
        ``RoutineMemory.cap``: a shape the new seasonal model does not know yet)."""
        self.peak[:, mask] = np.minimum(self.peak[:, mask], MEMORY(surprise))

    def clear(self, mask: np.ndarray) -> None:
        """Forget the masked series' episodes."""
        self.start[:, mask] = np.nan
        self.last[:, mask] = np.nan
        self.peak[:, mask] = 0.0
        self.lasting[:, mask] = False

    def learn(self, t: FloatArray, surprise: FloatArray, idx: np.ndarray) -> None:
        """Fold the would-be alerts' surprise (series idx, times t) into their episodes.

        A would-be alert within ``jitter`` of its series' latest one goes on that episode;
        otherwise it starts one (``_vacancy``).
        """
        now = (t / 60.0).astype(np.float32)
        newest, goes_on = self._going_on(idx, now)
        slot = np.where(goes_on, newest, self._vacancy(idx, now))
        finite = np.isfinite(now)
        slot, series, now, size = slot[finite], idx[finite], now[finite], surprise[finite]
        goes_on = goes_on[finite]
        kept = self.peak[slot, series].astype(np.float64)
        self.start[slot, series] = np.where(goes_on, self.start[slot, series], now)
        self.last[slot, series] = now
        self.peak[slot, series] = np.where(goes_on, np.maximum(kept, size), size).astype(MEMORY)
        self.lasting[slot, series] &= goes_on

    def extend(self, t: FloatArray, mask: np.ndarray) -> None:
        """The masked series' points at t belong to their latest episode, if it is going on:
        a flagged run holds through calmer points that are not would-be alerts, and the
        episode is the whole run (at two-minute points a Saturday's first would-be alert
        came at 09:00, the next ones an hour later, when it was accepted)."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        now = (t[idx] / 60.0).astype(np.float32)
        newest, goes_on = self._going_on(idx, now)
        self.last[newest[goes_on], idx[goes_on]] = now[goes_on]

    def mark_lasting(self, mask: np.ndarray) -> None:
        """The masked series' latest episode lasted until it was accepted as the new normal."""
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        newest, last = self._newest(idx)
        known = np.isfinite(last)
        self.lasting[newest[known], idx[known]] = True

    def _vacancy(self, idx: np.ndarray, now: np.ndarray) -> np.ndarray:
        """The slot a new episode of series idx takes: an empty one, else one too old to
        match (``WEEKS`` and the jitter), else the one with the smallest peak. Not simply
        the oldest: at ten-second points the weekday edges leave an episode or two a day,
        and with the oldest replaced a weekday-only plateau paged 31 times over six series
        and seven weeks instead of 21 (35 without the weekly memory)."""
        last = self.last[:, idx].astype(np.float64)
        stale = ~(last >= now.astype(np.float64) - WEEKS * WEEK_MINUTES - self.jitter / 60.0)
        worth = np.where(stale, -1.0, self.peak[:, idx].astype(np.float64))
        return np.argmin(worth, axis=0)

    def _going_on(self, idx: np.ndarray, now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each series' latest episode (slot) and whether ``now`` (float32 minutes) is within
        ``jitter`` after its last would-be alert, so that it goes on."""
        newest, last = self._newest(idx)
        gap = now - last
        goes_on = np.isfinite(gap) & (gap >= 0.0) & (gap <= np.float32(self.jitter / 60.0))
        return newest, goes_on

    def _newest(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each series' latest episode (slot) and its last time (-inf: no episode)."""
        last = self.last[:, idx]
        ordered = np.where(np.isnan(last), -np.inf, last)
        newest = np.argmax(ordered, axis=0)
        return newest, ordered[newest, np.arange(idx.size)]
