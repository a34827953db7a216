"""Seasonal baseline: is this value unusual for this hour of the day, or of the week?

Monday 09:00 traffic is not an anomaly. Each series learns a deseasonalised level plus two
additive profiles (96 quarter-hour bins for the day, so a sharp business-hours edge is
fitted within minutes; 168 hourly ones for the week; both linearly interpolated between bin
centres, except that two bins forming an edge meet as a step, and that two week bins meet as
a step where the day steps between them), and keeps the residual
variance of three candidate models side by side: flat (a level with a memory of hours),
daily and daily+weekly (a slow level with a day's memory, plus the profiles). The period
is detected automatically and keeps being re-decided: a model is used once the data span
at least two of its periods and it explains clearly more variance than the simpler one
(``gain``). Profiles are ``float32`` to keep a series' state under 2 KB.

Rates are per point but scaled by the series' own sampling interval, so a 10-second and a
5-minute series remember the same number of days.

Each method is one compiled pass over the series (the kernels at the end of this module):
the lookup of the profiles at t, shared by ``component``, ``observe`` and ``learn`` of a
tick, then the scoring and the learning, with the numbers numpy gave.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame
from anomalert.detect.jit import clip, kernel, maximum, minimum
from anomalert.detect.localtime import Clocks, ZoneCodes, turn
from anomalert.detect.robust import COUNT, WARM_RESTART, CountArray, floor_of
from anomalert.model import Kind

DAY = 86_400.0
WEEK = 7 * DAY
#: Each model's period in seconds, by its code (flat, daily, weekly).
_PERIODS = np.array([0.0, DAY, WEEK])
#: The epoch (1970-01-01) was a Thursday; shifting by three days puts Monday 00:00 at 0.
WEEK_OFFSET = 3 * DAY

FLAT, DAILY, WEEKLY = 0, 1, 2
#: An interval between two learned points enters a series' sampling interval (an average)
#: as at most this many times the interval so far. A gap in the data is not a new sampling
#: interval: a day-long outage of a one-minute series raised the average to 2.4 hours, so
#: for the next hour of points every rate was up to 145 times its usual and the residual
#: variance was re-learned from a handful of points (it halved). Thirty, not fewer: a
#: flagged run is not learned either, and after one the rates still catch up on what it
#: held back (at ten, SMD gained five false events). A real change of sampling interval
#: still comes through within a few dozen points.
GAP_RATIO = 30.0
#: Two neighbouring profile bins are an edge (a step, not a ramp) when they differ by more than
#: this many times the steps on either side of them, and by more than ``EDGE_SIGMAS`` residual
#: standard deviations (so that a noisy flat profile does not turn into random steps).
EDGE_RATIO = 4.0
EDGE_SIGMAS = 2.0

#: Profile bin indices (int64), not base.IntArray (int8 labels such as kinds).
BinArray = NDArray[np.int64]
_BIGGEST = float(np.finfo(np.float64).max)
_SPIKE, _DROP = int(Kind.SPIKE), int(Kind.DROP)


class _Profiles(NamedTuple):
    """What one tick reads off the profiles at t, per series (``_lookup``)."""

    day_eff: FloatArray  # the day profile at t, interpolated (or stepped at an edge)
    week_eff: FloatArray
    component: FloatArray  # the seasonal part of each series' current model
    d0: BinArray  # the two day bins around t, and the second one's weight
    d1: BinArray
    dw: FloatArray
    w0: BinArray  # the two week bins around t, and the second one's weight
    w1: BinArray
    ww: FloatArray


# -- scalar helpers of the kernels, with numpy's semantics -------------------------------------
@kernel
def _nan_to_num(a: float) -> float:
    """``np.nan_to_num``: NaN to 0, infinities to the largest finite floats."""
    if a != a:
        return 0.0
    if a == np.inf:
        return _BIGGEST
    if a == -np.inf:
        return -_BIGGEST
    return a


@kernel
def _mod(a: float, b: float) -> float:
    """``np.mod(a, b)`` of floats (numpy's remainder: ``fmod``, moved to the sign of b)."""
    mod = np.fmod(a, b)
    if mod != 0.0:
        if (b < 0.0) != (mod < 0.0):
            mod += b
    else:
        mod = math.copysign(0.0, b)
    return mod


@kernel
def _interp(bins: int, pos: float) -> tuple[int, int, float]:
    """The two bins around a position and the weight of the second one.

    The bins wrap around (``% bins``), written as a test where a position of ``[0, bins]``
    needs one: a division by a variable is slow, and a tick looks up every series.
    """
    p = pos - 0.5
    lo = np.floor(p)
    i0 = int(lo)
    if i0 < 0 or i0 >= bins:
        i0 %= bins
    return i0, i0 + 1 if i0 + 1 < bins else 0, p - lo


@kernel
def _around(bins: int, i0: int, i1: int) -> tuple[int, int]:
    """The bins before ``i0`` and after ``i1``, wrapping around (``i0``, ``i1`` in range)."""
    return i0 - 1 if i0 > 0 else bins - 1, i1 + 1 if i1 + 1 < bins else 0


class SeasonalDetector(Detector):
    """Deviation from level + hour-of-day + hour-of-week profiles, period chosen per series."""

    name = "seasonal"
    narrow: ClassVar[dict[str, type]] = {"count": COUNT}
    # Bins (or candidate models) first, series second: a tick reads one contiguous row of
    # each for every series.
    series_last = ("day", "week", "var", "select_var")

    def __init__(
        self,
        n: int = 1,
        level_memory: float = 6 * 3600.0,
        base_memory: float = DAY,
        day_memory: float = 7.0,
        week_memory: float = 4.0,
        gain: float = 0.75,
        var_memory: float = DAY,
        select_memory: float = 3 * DAY,
        min_points: int = 30,
        k: float = 4.0,
        day_bins: int = 96,
        local_time: Clocks | None = None,
    ) -> None:
        super().__init__(n)
        # The wall clocks whose times of day and week the profiles follow (``localtime``);
        # each series' own by the codes its ensemble hands over each tick (``use_zones``).
        self.local_time = local_time or Clocks()
        self.level_memory = level_memory
        self.base_memory = base_memory
        self.day_memory = day_memory
        self.week_memory = week_memory
        self.gain = gain
        self.var_memory = var_memory
        self.select_memory = select_memory
        self.min_points = min_points
        self.k = k
        if day_bins % 24:
            raise ValueError(f"day_bins must be a multiple of 24, got {day_bins}")
        self.level = np.zeros(n)
        # The seasonal models predict, and the profiles learn, against a slow level (a day's
        # memory, ``base``). The fast level (the flat model's) follows a daily shape the
        # profiles have not learned yet within hours, so against it they learned only what
        # it left over and, once learned, it still swung with every day's misfit; a missing
        # business-hours peak was absorbed by it within the hour.
        self.base = np.zeros(n)
        self.count = np.zeros(n, dtype=COUNT)
        self.t_first = np.full(n, np.nan)
        self.t_prev = np.full(n, np.nan)
        self.dt = np.full(n, np.nan)
        # Residual variance of each candidate model (FLAT, DAILY, WEEKLY), fast and slow.
        self.var = np.zeros((3, n))
        self.select_var = np.zeros((3, n))
        self.model = np.zeros(n, dtype=np.int8)
        self.day = np.zeros((day_bins, n), dtype=np.float32)
        self.week = np.zeros((168, n), dtype=np.float32)

    @property
    def day_bins(self) -> int:
        """Bins of the daily profile, read off the array (a checkpoint keeps its own)."""
        return int(self.day.shape[0])

    @property
    def _day_bin(self) -> float:
        """Seconds per bin of the daily profile."""
        return DAY / self.day_bins

    # -- model -----------------------------------------------------------------------------
    def _profiles(self, t: FloatArray) -> _Profiles:
        # component, observe and learn of one tick share the time array: look up once.
        caches = self._caches()
        hit: tuple[FloatArray, _Profiles] | None = caches.get("profiles")
        if hit is None or hit[0] is not t:
            found = _lookup(
                self.local_time.wall(t, self.__dict__.get("_zones")),
                self.day,
                self.week,
                self.model,
                self.level,
                self.var,
                self._resolution_args()[0],
                self._day_bin,
            )
            hit = caches["profiles"] = (t, _Profiles(*found))
        return hit[1]

    def component(self, t: FloatArray) -> FloatArray:
        """The seasonal part of each series' current model at t (0 where none was found)."""
        return self._profiles(t).component.copy()

    def shape_step(self, idx: NDArray[np.intp], t: FloatArray) -> FloatArray:
        """How far the seasonal component of series ``idx`` (their model now) moved since
        their previous point, one sampling interval before their time in ``t`` (n,): at a
        business-hours edge, the whole edge.

        Read off a copy of those series only (``take``), so neither the other series'
        lookups nor the tick's cached one (``_profiles``) are redone: the ensemble asks
        this of the few series that held a point with a level left (a silent return,
        ``returns``).
        """
        part = self._part(idx)
        now = np.ascontiguousarray(t[idx], dtype=np.float64)
        before = now - np.where(np.isfinite(part.dt), part.dt, 0.0)
        moved: FloatArray = np.abs(part._profiles(now).component - part._profiles(before).component)
        return moved

    def period(self, t: FloatArray) -> np.ndarray:
        """The detected period per series in seconds (0 when none), for reasons and reports."""
        return _PERIODS[self.model]  # a take: np.choose costs tens of µs a tick

    def observe(self, t: FloatArray, x: FloatArray) -> Frame:
        prof = self._profiles(t)
        stat, expected, lower, upper, kind = _observe(
            x,
            prof.day_eff,
            prof.week_eff,
            self.model,
            self.level,
            self.base,
            self.count,
            self.var,
            self._resolution_args()[0],
            float(self.min_points),
        )
        return Frame(stat, expected, lower, upper, kind)

    def learn(self, t: FloatArray, x: FloatArray, mask: BoolArray) -> None:
        prof = self._profiles(t)
        learned = _learn(
            t,
            x,
            mask,
            prof,
            (self.level, self.base, self.count, self.t_first, self.t_prev, self.dt),
            (self.var, self.select_var, self.model, self.day, self.week),
            self._resolution_args()[0],
            (
                float(self.level_memory),
                float(self.base_memory),
                float(self.var_memory),
                float(self.select_memory),
                float(self.day_memory),
                float(self.week_memory),
                float(self.gain),
                float(self.min_points),
                float(self.k),
                self._day_bin,
            ),
        )
        if learned:
            self._forget()

    def __setstate__(self, state: dict[str, object]) -> None:
        super().__setstate__(state)
        # A checkpoint from before the slow level existed starts it at the fast one.
        if "base" not in state:
            self.base = np.array(self.level, copy=True)
            self.base_memory = DAY
        # From before profiles followed a time zone: UTC, as they did.
        if "local_time" not in state:
            self.local_time = Clocks()

    def _part(self, idx: NDArray[np.intp]) -> SeasonalDetector:
        """A copy of series ``idx`` (``take``) with their share of what the ensemble hands
        over each tick (resolution floors, zones), to look up and learn apart."""
        part = self.take(idx)
        floor = self.__dict__.get("_resolution")
        part.use_resolution(None if floor is None else floor[idx])
        zones = self.__dict__.get("_zones")
        part.use_zones(None if zones is None else zones[idx])
        return part

    def use_zones(self, codes: ZoneCodes | None) -> None:
        """Each series' time zone (codes into ``local_time``) for the lookups until the
        next call; the ensemble keeps the codes with the series' state and hands them over
        every tick, as it does the resolution floors. Not state."""
        if codes is not self.__dict__.get("_zones"):
            self.__dict__["_zones"] = codes
            self._forget()

    def move_clock(self, idx: NDArray[np.intp], shift: FloatArray) -> None:
        """Series ``idx`` changed wall clock, theirs moving by ``shift`` seconds (another
        time zone, ``localtime``): turn their profiles with it, to the nearest bin, so what
        was learned at 09:00 on the old clock is where the same moments fall on the new."""
        for table, width in ((self.day, self._day_bin), (self.week, 3600.0)):
            turn([table], idx, np.round(shift / width).astype(np.int64))
        self._forget()

    def learn_run(self, idx: NDArray[np.intp], t: FloatArray, values: np.ndarray) -> None:
        """Learn, after the fact, the run of points series ``idx`` were flagged for, now
        that it is accepted as the new normal (before ``adapt``).

        ``values`` (points, len(idx)) are the run's values, oldest first, the last one at
        ``t`` (the series' current time, len(idx)). The run is the series' last points and
        its points were not learned, so they came after the last learned one: their times
        are spread evenly from there to ``t`` (exact for regular points; a series that never
        learned steps back one sampling interval per point). NaN values are skipped.

        Why: an accepted run on a series with a period may be the period's own shape that
        the model had not learned yet (the first weekends of a weekday-only plateau). Not
        learned, its time of the week stayed news: the level took the weekend in once the
        run was accepted, and the hour of the run itself reached no profile (at two-minute
        points, Saturday 09:00-10:00 is the whole run), so every Saturday paged at 09:00.
        Learned like any point (residuals clipped at ``k`` sds), it teaches the profiles
        the run's hours; a lasting shift (a deploy) leaves in them at most what as many
        clipped points teach, and the level's restart in ``adapt`` takes the shift.
        """
        if idx.size == 0:
            return
        part = self._part(idx)
        points = values.shape[0]
        now = t[idx]
        since = now - part.t_prev
        known = np.isfinite(since) & (since > 0.0)
        step = np.where(known, since / points, np.where(np.isfinite(part.dt), part.dt, 300.0))
        everyone = np.ones(idx.size, dtype=np.bool_)
        for k in range(points):
            part.learn(now - (points - 1 - k) * step, values[k].astype(np.float64), everyone)
        self.put(idx, part)

    def adapt(self, mask: BoolArray) -> None:
        # The shape of the day survives a deploy, and so does the choice of model (see
        # ``_rates``); the level restarts at warm-up speed.
        np.minimum(self.count, WARM_RESTART, out=self.count, where=mask)
        self._forget()

    def restart_at(self, mask: BoolArray, level: FloatArray) -> None:
        """Put the masked series' fast and slow levels at ``level`` (deseasonalised), where
        the ensemble found their new normal; ``adapt`` (called first) has them relearn from
        there at warm-up speed.

        Why: restarted from the old level, the levels caught up at warm-up speed with
        unclipped innovations, and the catching up swelled the residual variance (an
        accepted 30σ step left a seasonal statistic of 2.5 for a 15σ spike two hours later,
        15.5 without the step); the slow level, a day's memory, still held the old level.
        """
        np.copyto(self.level, level, where=mask)
        np.copyto(self.base, level, where=mask)
        self._forget()


# -- kernels: one pass per method over the series --------------------------------------------
@kernel
def _edge_weight(
    a: np.float32, b: np.float32, c: np.float32, d: np.float32, w: float, floor: float, root: float
) -> float:
    """The second bin's weight, as a step instead of a ramp where the two bins are an edge.

    Linear interpolation fits a smooth daily curve, but turns a sharp business-hours edge
    into a ramp a bin wide: a few points per edge and day then miss by up to half the
    edge, which inflates the residual spread and the tail the seasonal score is judged
    against. Two bins are an edge when their difference is several times the differences
    on either side of them (a smooth curve changes by similar steps) and several residual
    sds (``root``, of the model in use that reads the profile: see ``_at``). ``a``-``d``
    are four neighbouring bins of one series' profile, the two around t in the middle, and
    ``w`` the weight of ``c``. The week's edges are where weekdays and weekends differ (a
    weekday-only 09:00 start: a ramp an hour wide there missed by up to half the
    weekday-weekend difference). The differences are ``float32``, the profiles' own
    precision, as numpy computed them.
    """
    return _step(w, 0.5) if _is_edge(a, b, c, d, floor, root) else w


@kernel
def _is_edge(
    a: np.float32, b: np.float32, c: np.float32, d: np.float32, floor: float, root: float
) -> bool:
    """Whether the middle two of four neighbouring bins are an edge (``_edge_weight``)."""
    jump = abs(c - b)
    around = maximum(abs(b - a), abs(d - c))
    steep = jump > np.float64(np.float32(EDGE_RATIO) * around) + floor
    return bool(steep & (jump > EDGE_SIGMAS * root))


@kernel
def _step(w: float, at: float) -> float:
    """The second bin's weight ``w`` as a step ``at`` a place between the two bin centres
    (0 to 1: the midpoint, or where the day steps)."""
    return 1.0 if w >= at else 0.0


#: The day bins read around the hour where two week bins meet, and the day's bin boundaries
#: among them a week step may follow (see ``_bins``, ``_day_step``).
Around = tuple[int, int, int, int, int, int, int, int]
Places = tuple[float, float, float, float, float]
AroundValues = tuple[
    np.float32, np.float32, np.float32, np.float32, np.float32, np.float32, np.float32, np.float32
]


@kernel
def _place(k: int, start: float, per_hour: int) -> float:
    """Where day-bin boundary k lies between two week bins' centres (``start``, in day
    bins, and an hour later): 0 to 1, or inf past the later centre."""
    place = (k - start) / per_hour
    return place if place <= 1.0 else np.inf


@kernel
def _bins(
    t: float, day_bins: int, week_bins: int, day_bin: float
) -> tuple[int, int, int, int, float, int, int, int, int, float, tuple[Around, Places]]:
    """The four day bins around time t (the two around t in the middle) and the weight of
    the third; the same for the week's hourly bins; and, for ``_day_step``, the eight day
    bins around the hour between the two week bins' centres and where the five day-bin
    boundaries among them lie in it (day bins divide into hours: with quarter-hour bins,
    at the centres, the quarters and the hour; with more, the first five)."""
    a0, a1, aw = _interp(day_bins, _mod(t, DAY) / day_bin)
    b0, b1, bw = _interp(week_bins, _mod(t + WEEK_OFFSET, WEEK) / 3600.0)
    a_, a2 = _around(day_bins, a0, a1)
    b_, b2 = _around(week_bins, b0, b1)
    per_hour = day_bins // 24
    start = per_hour * ((b0 % 24) + 0.5)
    k = math.ceil(start)
    around = (
        (k - 2) % day_bins,
        (k - 1) % day_bins,
        k % day_bins,
        (k + 1) % day_bins,
        (k + 2) % day_bins,
        (k + 3) % day_bins,
        (k + 4) % day_bins,
        (k + 5) % day_bins,
    )
    places = (
        _place(k, start, per_hour),
        _place(k + 1, start, per_hour),
        _place(k + 2, start, per_hour),
        _place(k + 3, start, per_hour),
        _place(k + 4, start, per_hour),
    )
    return a_, a0, a1, a2, aw, b_, b0, b1, b2, bw, (around, places)


@kernel
def _day_step(
    d: AroundValues,
    places: Places,
    floor: float,
    root: float,
) -> float:
    """Where (0 to 1 between the centres of two neighbouring week bins) the day profile
    first steps, from eight day bins around the hour where they meet (``_bins``); inf
    where it does not step there (``root``: the residual sd of the model in use).
    Unrolled: a loop over the tuple did not vectorise."""
    d0, d1, d2, d3, d4, d5, d6, d7 = d
    e0 = _is_edge(d0, d1, d2, d3, floor, root)
    e1 = _is_edge(d1, d2, d3, d4, floor, root)
    e2 = _is_edge(d2, d3, d4, d5, floor, root)
    e3 = _is_edge(d3, d4, d5, d6, floor, root)
    e4 = _is_edge(d4, d5, d6, d7, floor, root)
    best = places[4] if e4 else np.inf
    best = minimum(best, places[3] if e3 else np.inf)
    best = minimum(best, places[2] if e2 else np.inf)
    best = minimum(best, places[1] if e1 else np.inf)
    return minimum(best, places[0] if e0 else np.inf)


@kernel
def _explained_root(model: int, var_daily: float, var_weekly: float) -> tuple[bool, float]:
    """Whether the week profile explains something (its model in use, or fitting better
    than the daily one), and the residual sd of the model in use."""
    weekly = model == WEEKLY
    return weekly | (var_weekly < var_daily), math.sqrt(var_weekly if weekly else var_daily)


@kernel
def _week_step_of(
    day: np.ndarray,
    around: Around,
    places: Places,
    i: int,
    floor: float,
    model: int,
    var_daily: float,
    var_weekly: float,
) -> float:
    """``_week_steps`` of one series (series ticking at their own times)."""
    explains, root = _explained_root(model, var_daily, var_weekly)
    d = (
        day[around[0], i],
        day[around[1], i],
        day[around[2], i],
        day[around[3], i],
        day[around[4], i],
        day[around[5], i],
        day[around[6], i],
        day[around[7], i],
    )
    step = _day_step(d, places, floor, root)
    return step if explains else np.inf


@kernel
def _week_steps(
    day: np.ndarray,
    around: Around,
    places: Places,
    level: FloatArray,
    resolution: FloatArray,
    var: FloatArray,
    model: np.ndarray,
) -> FloatArray:
    """Per series ticking at one time: where its week profile steps between the two week
    bins around t (``_day_step``), or inf.

    A pass of its own, over the day profile's rows as contiguous arrays, ahead of the
    lookup's: inside the lookup's loop, as a call per series, the lookup took 3.5 times as
    long (3.8 ns per series and tick to 13 with the hour alone; 18 with its quarters);
    this way 6.5-6.8.
    """
    r0, r1, r2, r3 = day[around[0]], day[around[1]], day[around[2]], day[around[3]]
    r4, r5, r6, r7 = day[around[4]], day[around[5]], day[around[6]], day[around[7]]
    vd, vw = var[DAILY], var[WEEKLY]
    has_resolution = resolution.shape[0] > 0
    out = np.empty(level.shape[0])
    for i in range(out.shape[0]):
        floor = floor_of(level[i], resolution[i] if has_resolution else -np.inf)
        explains, root = _explained_root(model[i], vd[i], vw[i])
        d = (
            r0[i],
            r1[i],
            r2[i],
            r3[i],
            r4[i],
            r5[i],
            r6[i],
            r7[i],
        )
        step = _day_step(d, places, floor, root)
        out[i] = step if explains else np.inf
    return out


@kernel
def _at(
    days: tuple[np.float32, np.float32, np.float32, np.float32],
    weeks: tuple[np.float32, np.float32, np.float32, np.float32],
    at_day_edge: float,
    aw: float,
    bw: float,
    floor: float,
    var_daily: float,
    var_weekly: float,
    model: int,
) -> tuple[float, float, float, float, float]:
    """One series' day and week profile at t, the seasonal component of its model, and
    the second bins' weights (stepped at an edge), from the four bins of each profile
    around t (the two around t in the middle) and their second bin's weight, and where
    between the week bins' centres the day steps (``at_day_edge``, ``_week_steps``; inf:
    nowhere).

    The week profile is the day's correction per hour of the week, so where the day steps
    (a weekday-only 09:00 or 09:30 start), its correction steps there too (weekdays have
    more of the plateau, weekends none), however small it still is against the residual
    sd. Judged alone, in a weekday-only series' third week (a correction of 5.6 against a
    residual sd of 5.4, which the ramp's own misses inflated), a 09:00 edge read as a ramp
    an hour wide, missing by up to half the correction for half an hour on either side;
    the spread of those misses taught the level-shift and seasonal tails, and a missing
    business day in the fourth week paged on 7 of 36 series, an 8σ level shift in the
    sixth on 16 of 24 (stepped: 32 and 23). Business hours from 09:30 were worse: the week
    bins, hourly, could only ramp over two hours around the edge (the missing day in the
    sixth week on 4 of 12 series, the shift on none); stepped at 09:30, the week reads
    the bin before the edge up to it and the one after from it, and the bin centred on it
    goes unused (12 and 12 of 12). Only where the week profile explains something (its
    model in use, or fitting better than the daily one): on a series without a week, a step
    there only passes each day's misfit at an edge to one weekday's bin, and the day
    profile learns what the week profile leaves.

    The day profile is the weekly model's too, and its edges are judged against the
    residual sd of the model in use: the daily model's, on a series with a weekly shape,
    holds every weekend's miss (a weekday-only 09:00-18:00 plateau: an sd of about 8 for
    noise of 2), so the day's 18:00 edge read as a ramp (until 2026-12-05, twelfth
    session). On weekdays the tail had learned its misses, but on Saturdays the week
    profile, stepped, no longer cancelled the ramp: from the sixth week every Saturday at
    18:00 paged, 19 and 20 of 20 one-minute series in weeks 7 and 8.
    """
    week_root = math.sqrt(var_weekly)
    day_root = week_root if model == WEEKLY else math.sqrt(var_daily)
    dwi = _edge_weight(days[0], days[1], days[2], days[3], aw, floor, day_root)
    wwi = _edge_weight(weeks[0], weeks[1], weeks[2], weeks[3], bw, floor, week_root)
    wwi = _step(bw, at_day_edge) if at_day_edge < np.inf else wwi
    de = np.float64(days[1]) * (1.0 - dwi) + np.float64(days[2]) * dwi
    we = np.float64(weeks[1]) * (1.0 - wwi) + np.float64(weeks[2]) * wwi
    comp = 0.0 if model == FLAT else de + we if model == WEEKLY else de
    return de, we, comp, dwi, wwi


@kernel
def _lookup(
    t: FloatArray,
    day: np.ndarray,
    week: np.ndarray,
    model: np.ndarray,
    level: FloatArray,
    var: FloatArray,
    resolution: FloatArray,
    day_bin: float,
) -> tuple[
    FloatArray,
    FloatArray,
    FloatArray,
    BinArray,
    BinArray,
    FloatArray,
    BinArray,
    BinArray,
    FloatArray,
]:
    """The fields of ``_Profiles`` for every series at its time t.

    A missing (NaN) or infinite time reads the bins of ``nan_to_num(t)``: a series that
    does not tick still gets numbers, which its learn step multiplies by zero. A series
    ticking at the same time as the one before it reuses its bins; where all tick at once
    (the service), the bins are found once and the loop reads each profile row as one
    stream (twice as fast as the general loop). The edges and values are each series' own.
    """
    n = t.shape[0]
    day_eff = np.empty(n)
    week_eff = np.empty(n)
    comp = np.empty(n)
    d0 = np.empty(n, dtype=np.int64)
    d1 = np.empty(n, dtype=np.int64)
    dw = np.empty(n)
    w0 = np.empty(n, dtype=np.int64)
    w1 = np.empty(n, dtype=np.int64)
    ww = np.empty(n)
    has_resolution = resolution.shape[0] > 0
    prev = np.nan
    a_, a0, a1, a2, aw, b_, b0, b1, b2, bw = 0, 0, 1, 0, 0.0, 0, 0, 1, 0, 0.0
    h = ((0, 0, 0, 0, 0, 0, 0, 0), (np.inf, np.inf, np.inf, np.inf, np.inf))
    same = n > 0 and math.isfinite(t[0])
    for i in range(1, n):
        if t[i] != t[0]:
            same = False
            break
    if same:
        a_, a0, a1, a2, aw, b_, b0, b1, b2, bw, h = _bins(
            t[0], day.shape[0], week.shape[0], day_bin
        )
        steps = _week_steps(day, h[0], h[1], level, resolution, var, model)
        for i in range(n):
            floor = floor_of(level[i], resolution[i] if has_resolution else -np.inf)
            day_eff[i], week_eff[i], comp[i], dw[i], ww[i] = _at(
                (day[a_, i], day[a0, i], day[a1, i], day[a2, i]),
                (week[b_, i], week[b0, i], week[b1, i], week[b2, i]),
                steps[i],
                aw,
                bw,
                floor,
                var[DAILY, i],
                var[WEEKLY, i],
                model[i],
            )
        d0[:] = a0
        d1[:] = a1
        w0[:] = b0
        w1[:] = b1
        return day_eff, week_eff, comp, d0, d1, dw, w0, w1, ww
    for i in range(n):
        if t[i] != prev:
            prev = t[i]
            a_, a0, a1, a2, aw, b_, b0, b1, b2, bw, h = _bins(
                _nan_to_num(prev), day.shape[0], week.shape[0], day_bin
            )
        floor = floor_of(level[i], resolution[i] if has_resolution else -np.inf)
        day_eff[i], week_eff[i], comp[i], dw[i], ww[i] = _at(
            (day[a_, i], day[a0, i], day[a1, i], day[a2, i]),
            (week[b_, i], week[b0, i], week[b1, i], week[b2, i]),
            _week_step_of(day, h[0], h[1], i, floor, model[i], var[DAILY, i], var[WEEKLY, i]),
            aw,
            bw,
            floor,
            var[DAILY, i],
            var[WEEKLY, i],
            model[i],
        )
        d0[i], d1[i], w0[i], w1[i] = a0, a1, b0, b1
    return day_eff, week_eff, comp, d0, d1, dw, w0, w1, ww


@kernel
def _observe(
    x: FloatArray,
    day_eff: FloatArray,
    week_eff: FloatArray,
    model: np.ndarray,
    level: FloatArray,
    base: FloatArray,
    count: CountArray,
    var: FloatArray,
    resolution: FloatArray,
    min_points: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray]:
    """Stat, expected, band and kind of each series under the model it uses.

    The flat model expects the level; the daily one the slow level plus the day profile;
    the weekly one that plus the week profile. The spread is the model's residual sd,
    floored at ``scale_floor`` of the expectation. No stat while warming up or for a
    missing value.
    """
    n = x.shape[0]
    stat = np.empty(n)
    expected = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    kind = np.empty(n, dtype=np.int8)
    has_resolution = resolution.shape[0] > 0
    for i in range(n):
        m = model[i]
        if m == FLAT:
            e = level[i]
        elif m == WEEKLY:
            e = (base[i] + day_eff[i]) + week_eff[i]
        else:
            e = base[i] + day_eff[i]
        floor = floor_of(e, resolution[i] if has_resolution else -np.inf)
        sd = maximum(math.sqrt(var[m, i]), floor)
        diff = x[i] - e
        stat[i] = abs(diff) / sd
        if count[i] < min_points or not math.isfinite(x[i]):
            stat[i] = np.nan
        band = 3.0 * sd
        expected[i] = e
        lower[i] = e - band
        upper[i] = e + band
        kind[i] = _SPIKE if diff >= 0 else _DROP
    return stat, expected, lower, upper, kind


@kernel
def _decay(var: float, sq: float, rate: float) -> float:
    """``var + rate * (sq - var)``, in numpy's order of operations."""
    return (sq - var) * rate + var


@kernel
def _select(model: int, v0: float, v1: float, v2: float, span: float, gain: float) -> int:
    """Re-decide one series' model, with hysteresis (``v`` the slow ``select_var``).

    A richer model is taken once the data span two of its periods and it explains clearly
    more variance (``gain``); it is dropped only when it stops helping at all. Flipping
    back and forth would move the deseasonalised input of the other detectors by the whole
    seasonal shape, a false jump each time. The moves are tested on the model the series
    had and applied in order, later ones winning. ``v0``-``v2`` are the slow variances
    (``select_var``) of the flat, daily and weekly model.
    """
    seasonal = model != FLAT
    weekly = model == WEEKLY
    daily = seasonal and not weekly
    new = model
    if not seasonal and span >= 2 * DAY and v1 < gain * v0:
        new = DAILY
    if daily and span >= 2 * WEEK and v2 < gain * v1:
        new = WEEKLY
    if weekly and v2 > 0.98 * v1:
        new = DAILY
    if daily and v1 > 0.98 * v0:
        new = FLAT
    return new


@kernel
def _learn(
    t: FloatArray,
    x: FloatArray,
    mask: BoolArray,
    prof: _Profiles,
    series: tuple[FloatArray, FloatArray, CountArray, FloatArray, FloatArray, FloatArray],
    tables: tuple[FloatArray, FloatArray, np.ndarray, np.ndarray, np.ndarray],
    resolution: FloatArray,
    params: tuple[float, float, float, float, float, float, float, float, float, float],
) -> bool:
    """``SeasonalDetector.learn`` in one pass after ``_rates``; False (and nothing
    changed) if no series learns (``mask`` and finite t and x).

    Per series: the sampling interval; the residual variance of each candidate model, with
    residuals clipped at k sds (not while cold: fewer than ``min_points`` points); the
    slow and the fast level; the model; the profiles (what the slow level leaves, clipped
    like the level); the count. A series' first point starts its levels there and its
    variances at 0. Where some series do not learn, they still run the profile update
    with a zero residual, as numpy did over all series (it can turn a -0.0 cell into 0.0).
    """
    day_effs, week_effs, _, d0, d1, dw, w0, w1, ww = prof
    level, base, count, t_first, t_prev, dt_state = series
    var, select_var, model, day, week = tables
    gain, min_points, k = params[6], params[7], params[8]
    n = t.shape[0]
    ok = np.empty(n, dtype=np.bool_)
    learners = 0
    c_min = np.inf
    for i in range(n):
        ok[i] = mask[i] and math.isfinite(x[i]) and math.isfinite(t[i])
        if ok[i]:
            learners += 1
        c_min = minimum(c_min, count[i])
    if learners == 0:
        return False
    partial = learners < n
    has_resolution = resolution.shape[0] > 0
    rates = _rates(t, ok, count, t_first, t_prev, dt_state, params, partial)
    steps = np.empty((2, n))
    for i in range(n):
        learns = ok[i]
        ti, xi, day_eff, week_eff = t[i], x[i], day_effs[i], week_effs[i]
        c = count[i] + 1.0
        first = c_min == 0.0 and c == 1.0
        select_rate = rates[1, i]
        base_rate, level_rate = rates[2, i], rates[3, i]
        g_day, g_week, span = rates[4, i], rates[5, i], rates[6, i]
        # x with the seasonal shape removed; a series' first point starts its levels there.
        deseason = (xi - day_eff) - week_eff
        lv = deseason if first else level[i]
        bs = deseason if first else base[i]

        # Residual variance of each candidate model, with residuals clipped at k sds.
        floor = floor_of(lv, resolution[i] if has_resolution else -np.inf)
        cold = c_min + 1.0 <= min_points and c <= min_points
        with_day = bs + day_eff
        lim = 0.0
        for m in range(3):
            lim = np.inf if cold else maximum(math.sqrt(var[m, i]), floor) * k
            r = xi - (lv if m == FLAT else with_day if m == DAILY else with_day + week_eff)
            # clip(r, -b, b) ** 2 == min(r ** 2, b ** 2) exactly: rounding is monotone, b > 0.
            sq = minimum(r * r, lim * lim)
            if learns:
                var_rate = rates[0, i] if m == FLAT else rates[7, i] if m == DAILY else rates[8, i]
                var[m, i] = 0.0 if first else _decay(var[m, i], sq, var_rate)
                select_var[m, i] = 0.0 if first else _decay(select_var[m, i], sq, select_rate)
        # lim is now the weekly model's bound, which also clips the levels and the profiles.
        # What the slow level leaves for the profiles (before the levels move).
        resid_base = xi - bs
        e_day = clip((resid_base - week_eff) - day_eff, -lim, lim)
        e_week = clip((resid_base - day_eff) - week_eff, -lim, lim)
        # The slow level (``base_memory``) and the level (``level_memory``), deseasonalised.
        if learns:
            base[i] = clip(deseason - bs, -lim, lim) * base_rate + bs
            level[i] = clip(deseason - lv, -lim, lim) * level_rate + lv
            v0, v1, v2 = select_var[FLAT, i], select_var[DAILY, i], select_var[WEEKLY, i]
            model[i] = _select(model[i], v0, v1, v2, span, gain)
            count[i] = c
            t_prev[i] = ti
        else:
            e_day = 0.0
            e_week = 0.0
        # Profiles: what the slow level leaves, shared between the two bins around t, at a
        # rate that slows over the first days (and weeks); a series that does not learn
        # takes a zero step. They are updated after this loop.
        steps[0, i] = g_day * e_day
        steps[1, i] = g_week * e_week
    # Where every series is at the same bins (they tick together: the service), the
    # profile updates run row by row: a vectorised pass per profile row instead of a
    # scattered write per series and row.
    same = True
    for i in range(1, n):
        if d0[i] != d0[0] or w0[i] != w0[0]:
            same = False
            break
    if same:
        _update_rows(day, week, d0[0], d1[0], w0[0], w1[0], dw, ww, steps)
    else:
        _update_each(day, week, d0, d1, w0, w1, dw, ww, steps)
    return True


@kernel
def _update_each(
    day: np.ndarray,
    week: np.ndarray,
    d0: BinArray,
    d1: BinArray,
    w0: BinArray,
    w1: BinArray,
    dw: FloatArray,
    ww: FloatArray,
    steps: FloatArray,
) -> None:
    """``_update_rows`` at each series' own bins (series that tick at different times)."""
    per_hour = day.shape[0] // 24  # day bins per hour
    for i in range(steps.shape[1]):
        step_day, step_week = steps[0, i], steps[1, i]
        day[d0[i], i] += np.float32(step_day * (1.0 - dw[i]))
        day[d1[i], i] += np.float32(step_day * dw[i])
        week[w0[i], i] += np.float32(step_week * (1.0 - ww[i]))
        week[w1[i], i] += np.float32(step_week * ww[i])
        for wi, share in ((w0[i], 1.0 - ww[i]), (w1[i], ww[i])):
            moved = np.float32(step_week * share / 7.0)
            hour = wi % 24
            for d in range(7):
                week[hour + 24 * d, i] -= moved
            for b in range(hour * per_hour, (hour + 1) * per_hour):
                day[b, i] += moved


@kernel
def _update_rows(
    day: np.ndarray,
    week: np.ndarray,
    d0: int,
    d1: int,
    w0: int,
    w1: int,
    dw: FloatArray,
    ww: FloatArray,
    steps: FloatArray,
) -> None:
    """The profiles' update of one tick, where every series is at the same bins.

    What the slow level leaves (``steps``: the day's and the week's, per series) is shared
    between the two bins around t; the shares are rounded to float32 before they are
    added, as numpy did. Then what the week profile just learned in common to all days
    moves into the day profile: both profiles learn from the same residual, so a purely
    daily shape would otherwise end up split between them (the week profile learns fast
    in the first days), and the daily model, level + day, would miss the part the week
    profile took (a square daily wave was fitted at three quarters of its height). Keeping
    each hour's seven week bins at mean zero makes the split unique: the day profile holds
    the shape every day shares, the week profile only how the days differ. The weekly
    model's prediction is unchanged by the move, up to the day profile's finer bins. Each
    bin's share moves as one float32. Every cell takes its additions in the order of the
    per-series loop it replaces, so the numbers are the same.
    """
    n = steps.shape[1]
    per_hour = day.shape[0] // 24  # day bins per hour
    for i in range(n):
        day[d0, i] += np.float32(steps[0, i] * (1.0 - dw[i]))
    for i in range(n):
        day[d1, i] += np.float32(steps[0, i] * dw[i])
    for i in range(n):
        week[w0, i] += np.float32(steps[1, i] * (1.0 - ww[i]))
    for i in range(n):
        week[w1, i] += np.float32(steps[1, i] * ww[i])
    moved = np.empty(n, dtype=np.float32)
    for wi, second in ((w0, False), (w1, True)):
        for i in range(n):
            share = ww[i] if second else 1.0 - ww[i]
            moved[i] = np.float32(steps[1, i] * share / 7.0)
        hour = wi % 24
        for d in range(7):
            row = hour + 24 * d
            for i in range(n):
                week[row, i] -= moved[i]
        for b in range(hour * per_hour, (hour + 1) * per_hour):
            for i in range(n):
                day[b, i] += moved[i]


@kernel
def _restarted(rate: float, since: float, dt: float) -> float:
    """A variance ``rate`` restarted ``since`` seconds ago (not yet, or NaN: as it is): the
    mean of the residuals since then, until the rate's own memory is shorter."""
    return maximum(rate, dt / (since + dt)) if since >= 0.0 else rate


@kernel
def _rates(
    t: FloatArray,
    ok: BoolArray,
    count: CountArray,
    t_first: FloatArray,
    t_prev: FloatArray,
    dt_state: FloatArray,
    params: tuple[float, float, float, float, float, float, float, float, float, float],
    partial: bool,
) -> FloatArray:
    """Each series' sampling interval and the learning rates that follow from it, in a
    pass of its own: a loop of arithmetic only, which the compiler vectorises (its
    divisions were most of the learn pass's time, one after the other).

    Rows: the fast and slow variance rates, the slow level's and the level's rate (at
    least 1 / count while young), the day and week profiles' rates, the time since each
    series' first point, and the daily and the weekly model's fast variance rates.
    Updates ``t_first`` and ``dt_state`` (the interval since the last learned point, at
    most a day and ``GAP_RATIO`` times the interval so far, averaged in at a tenth).
    """
    level_mem, base_mem, var_mem, select_mem, day_mem, week_mem, _, _, _, day_bin = params
    n = t.shape[0]
    out = np.empty((9, n))
    for i in range(n):
        learns = ok[i]
        ti = t[i]
        tf = t_first[i]
        tf = ti if learns and tf != tf else tf
        t_first[i] = tf
        gap = ti - t_prev[i]
        old = dt_state[i]
        new_dt = minimum(gap, minimum(DAY, GAP_RATIO * old)) * 0.1 + 0.9 * old
        new_dt = gap if old != old else new_dt
        old = new_dt if learns and math.isfinite(gap) and gap > 0 else old
        dt_state[i] = old
        dt = 300.0 if old != old else old
        c = count[i] + 1.0
        young = 1.0 / maximum(count[i], 1.0)  # 1 / max(c - 1, 1): counts are whole
        span = ti - tf
        known = _nan_to_num(span)
        var_rate = maximum(minimum(1.0, dt / var_mem), young)
        out[0, i] = var_rate
        # A seasonal model's residual variance restarts once its profile has seen one whole
        # period: until then the profile had not seen the time it predicted, and its misses
        # (tens of sds through a daily wave's first day) are not the model's error. Learned
        # at a day's memory they deflated the daily model's statistic for days after it was
        # taken, and its tail learned that deflated statistic (the README, "Known defect").
        # From then on the variance is the mean of the residuals since, until it has its
        # own memory.
        out[7, i] = _restarted(var_rate, span - DAY, dt)
        out[8, i] = _restarted(var_rate, span - WEEK, dt)
        # The model choice compares shapes, which an accepted shift leaves as they were: its
        # warm-up term follows the series' age in points, which ``adapt`` does not reset
        # (a Saturday accepted as a "shift" had flipped a business-hours series to flat).
        age = known / dt + 1.0
        out[1, i] = maximum(minimum(1.0, dt / select_mem), minimum(young, 1.0 / age))
        out[2, i] = maximum(minimum(1.0, dt / base_mem), 1.0 / c)
        out[3, i] = maximum(minimum(1.0, dt / level_mem), 1.0 / c)
        g = known if partial else span
        out[4, i] = minimum(1.0, dt / day_bin) / minimum(g / DAY + 1.0, day_mem)
        out[5, i] = minimum(1.0, dt / 3600.0) / minimum(g / WEEK + 1.0, week_mem)
        out[6, i] = span
    return out
