"""One calibrated score per point out of several detectors, and the decision to alert.

Each detector's statistic goes through its own per-series tail calibrator (``calibrate``),
giving a probability under that series' normal behaviour. The ensemble takes the most
surprising detector and corrects for having asked several (Bonferroni: p times the number
of detectors with an opinion), so the score keeps one meaning, "how rare is this for this
series", whatever the detector mix. Once a series has a period, the seasonal detector is the
one that models it and holds half of that error budget (a weighted Bonferroni): with equal
shares, a missing business-hours plateau, 6σ off the weekly model, scored just under the
threshold, and every unflagged minute of it then taught the seasonal baseline and its tail
that the gap was normal. Then it decides what the detectors may learn:

* points at or above the alert threshold are not learned (no baseline poisoning), but the
  first point of each flagged run does teach the calibrators how big deviations get;
* the statistic of a detector that builds up over a change (``Detector.accumulates``: the
  level shift's) teaches its tail only once ``PROBATION`` calm points of its own have
  followed it. The points of a shift before it pages are the shift itself: learned at once,
  at full weight, they taught the tail that shifts were normal while the statistic was
  still climbing, and a lasting 20σ shift days after a one-off spike never paged;
* detectors that know nothing of seasons see the values with the seasonal detector's
  current shape removed (a decomposition: detect on the residual), so a daily edge is not
  a jump to them once the period is known;
* a would-be alert as surprising as what recently happened around the same time of day
  is routine (``routine``: the nightly cron spike), and so is one at a time of the week
  where the series deviated until the deviation was accepted a week or more earlier, or
  blipped on two of the four earlier weeks (``WeeklyRoutine``: a weekday-only service's
  Saturday morning, a weekly job); that one silences the page only, after the decision,
  so the detectors learn the weekly shape as before;
* the first time a series' seasonal detector takes a richer model, what was learned while
  the season was scored as noise stops weighing: the seasonal tail goes back to the prior
  (leaving the flat model) or counts as a prior only (daily to weekly); the routine memory
  is held at two alerts' worth, since the new model does not know the shape's edges yet;
* a deviation that lasts ``accept_after`` points is accepted as the new normal: detectors
  are told to ``adapt`` (a deploy that changed the baseline stops alerting after a while).
  On a series with a period the seasonal detector first learns the run's points (each
  series keeps its last ``accept_after`` values, ``recent``): a recurring shape the model
  had not learned yet (the first weekends of a weekday-only plateau) reached no profile,
  and paged every week.
  A flagged run holds while p stays within ``HOLD`` times the threshold's, so a point of
  an incident that happens to look a little calmer is neither learned nor ends the count;
* going back, an hour to a day after such an acceptance, to the level the series left
  (``returns``: the deploy rolled back) is accepted at once: it alerts at its first point
  and every detector restarts on it, instead of holding a run the rolling baseline, blind
  after ``max_gap`` intervals without a learned point, could not finish (it paged twice:
  a drop, then a level shift);
* on a series without a period, an accepted run's first point is capped in the tails
  (``onsets``: a step to a new normal is no sample of the series' deviations, and learned
  whole it hid a 15σ spike for hours after the step); on any series, a run that ends
  short of acceptance (a spike) leaves a ceiling, the statistic the tail without its
  onset calls one in 10^8, past which a statistic pages until the series' next run (one
  30σ spike, learned whole, had deafened a calm series to anything under 20σ for weeks);
  and a run that the rolling baseline's blind spot cut short resumes if the series alerts
  again before that baseline sees again (``blindspot``: one run, accepted as any other,
  instead of a second alert);
* on a series with a period, the rolling and seasonal levels restart where the accepted
  run sat (or, going back, at the level left) instead of catching up from the old level,
  which swelled the spreads for hours (and left a weekday-only series' weekly model
  fitting worse for weeks); a held point that the day's shape brought back to the series
  is a silent return (``returns``);
* a noisy series that stops moving (a request rate that reads 0 since its service died at
  night, judged by every detector in a spread of the whole day) pages once, at the onset
  of its flatline (``flatline``: a run of one value past twice the longest it has shown),
  and a fall of a memory metric right after its service's deployment restarted it does
  not page (``restarts``); both after the decision, the detectors learning as before;
* a series alerts only once it is ``mature``: more than ``min_history`` points and
  ``min_age`` (two days) since its first. Before, its would-be alerts are held back from
  learning all the same, but not flagged: its daily shape and tails are still guesses.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from anomalert.detect.base import ArrayState, BoolArray, Detector, FloatArray, Frame, IntArray
from anomalert.detect.blindspot import BlindSpot
from anomalert.detect.calibrate import SCORE_POWER, TailCalibrator, p_from_score, score_from_p
from anomalert.detect.flatline import FLATLINE_P, Flatline
from anomalert.detect.jit import kernel
from anomalert.detect.localtime import Clocks, LocalTime, ZoneCodes, wall_of
from anomalert.detect.memory import keep_freed_memory
from anomalert.detect.noiselevel import NoiseLevel
from anomalert.detect.onsets import CEILING_MIN_AGE, OnsetMemory
from anomalert.detect.resolution import Resolution
from anomalert.detect.returns import ReturnMemory, Returns, ShapeMove
from anomalert.detect.rolling import RollingDetector
from anomalert.detect.routine import RoutineMemory, WeeklyRoutine
from anomalert.detect.seasonal import FLAT, SeasonalDetector
from anomalert.model import Kind

#: A point at or above its expectation, as the detectors' frames tell it.
_SPIKE = int(Kind.SPIKE)
_FLATLINE = int(Kind.FLATLINE)
#: How much less surprising (log10 p) a fall after its series' restart is: no page at all.
RESTART_DISCOUNT = 300.0
#: Default alert threshold on the calibrated score, chosen once on the development data.
DEFAULT_THRESHOLD = 0.90
#: A flagged run goes on while p stays within this factor of the threshold's p-value.
HOLD = 5.0
#: The tails remember at least two weeks, however fast a series is sampled (seconds; the
#: sampling interval is the seasonal detector's). Counted in points only (20,000, two weeks
#: at one minute), a ten-second series' tails remembered 2.3 days: by each Saturday they
#: had forgotten the last weekend's misfits, and a weekday-only series paged at its
#: weekend edges, 26 times in seven weeks over six series; none remembering two weeks.
TAIL_MIN_SPAN = 14 * 86_400.0
#: Points of its own without a would-be alert that must follow a point of a series before
#: an accumulating detector's tail learns it (``Detector.accumulates``). A clear shift pages
#: within a few points, so a few are enough; 30 or 60 measured about the same on NAB and
#: SMD, and a longer probation makes the tail lag further behind a real change of the noise.
#: Counted per series, on its own points: counted in engine ticks, a service whose senders
#: each post a part of the series (one remote_write request per exporter) ran a series'
#: probation out on the other senders' batches before its own next point came, and a
#: batch could only be scored as a tick over every series followed (``Ensemble.take``).
PROBATION = 6
#: A series pages only once it is two days old (seconds since its first finite point):
#: the earliest its seasonal detector can take a daily model (``seasonal._select``: two
#: periods). Until 2026-12-05 (twelfth session) a day: on its second day a series with a
#: daily shape was still scored by the flat model, which reads the shape as deviations; a
#: business-hours square wave paged at both edges, every series, and daily-wave noise
#: raised 1.85 alerts per 10,000 that day. Two days cost nothing measured on NAB (its
#: probation covers them) or SMD (its machines' training days come before the test).
MIN_AGE = 2 * 86_400.0
#: The seasonal detector's tail keeps a lighter shape cap, 0.30 (the others: 0.35, see
#: ``calibrate``), on a periodic series. There its statistic is a residual from a model of
#: the series' own shape, and part of the heavy excesses it learns are the model's early
#: misfits (a daily edge before the profile knew it), not the series' noise; at 0.35 a
#: missing business-hours plateau, 6σ off the weekly model, scored 0.895 instead of paging
#: at its first minute. On a series without a period its statistic is a residual from a
#: flat level, as the rolling baseline's, and its heavy excesses are the series' own noise:
#: there it takes the common cap. With 0.25 everywhere, Student-t(3) noise (a tail of
#: shape 1/3) raised 0.99 alerts per 10,000 points after a series' first 2,000, most of
#: them won by the seasonal detector; 0.80 since (``benchmarks/noise.py``). The periodic cap
#: was 0.25 until 2026-12-04 (tenth session): on Student-t(3) noise around a daily wave the
#: cap bound, the seasonal row's p-values fell below 1e-4 about three times as often as
#: they said even after three weeks, and the noise raised 2.44 alerts per 10,000; at 0.30,
#: 2.19 (still over the budget: see the README, "Known defect"), NAB 28 -> 23 false alarms
#: for the same 46 windows, SMD event precision 0.537 -> 0.557.
SEASONAL_MAX_SHAPE = 0.30
#: When a series first takes a richer seasonal model, its routine memory is held at this
#: many alerts' worth of surprise (see ``Ensemble._follow_model_switch``).
ROUTINE_CAP_ALERTS = 2.0


@dataclass(frozen=True)
class Step:
    """The ensemble's view of one tick over n series."""

    score: FloatArray
    p: FloatArray
    flagged: BoolArray
    #: Old enough to alert (``Ensemble.min_history`` points and ``min_age`` seconds): other
    #: decisions on the score (a file's rows, the service's alert policy) follow it too.
    mature: BoolArray
    winner: IntArray
    kind: IntArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    detail: FloatArray
    adapted: BoolArray


#: ``learnable`` when every series may learn (``_decide`` takes an empty mask as none).
_NO_MASK = np.zeros(0, dtype=np.bool_)
_NO_VALUES = np.zeros(0)
_NO_LENGTHS = np.zeros(0, dtype=np.int16)


def _floats(a: np.ndarray) -> FloatArray:
    """``a`` as a contiguous float64 array (itself when it is one already)."""
    return np.ascontiguousarray(a, dtype=np.float64)


@kernel
def _most_surprising(
    calibrated: FloatArray,
    own: FloatArray,
    row_of: np.ndarray,
    p_threshold: float,
    seasonal: int,
    periodic: BoolArray,
) -> tuple[FloatArray, IntArray, np.ndarray]:
    """Per series: the smallest p-value over its share of the error budget (at most 1),
    which detector won, and the would-be alerts (p at or below ``p_threshold``).

    Detector d's p-values are row ``row_of[d]`` of ``calibrated`` (the fitted rows) or,
    past them, of ``own`` (the self-calibrated ones); NaN is no opinion. With m detectors of
    an opinion each holds 1 / m of the budget (Bonferroni), except on a ``periodic`` series
    whose detector ``seasonal`` (-1: none) has one: it holds half, the other m - 1 share the
    rest (a weighted Bonferroni, as valid). A detector wins where it is strictly below
    every earlier one, so the first of equal ones wins, as ``argmin``.
    """
    n = calibrated.shape[1]
    fitted = calibrated.shape[0]
    voters = np.zeros(n, dtype=np.int8)
    lead = np.zeros(n, dtype=np.bool_)
    for d in range(row_of.size):
        r = row_of[d]
        p = calibrated[r] if r < fitted else own[r - fitted]
        for i in range(n):
            voters[i] += p[i] < 1.0
        if d == seasonal:
            for i in range(n):
                lead[i] = periodic[i] and p[i] < 1.0
    # Each series' factor (the inverse of a detector's share): the seasonal detector's and
    # every other one's, equal unless the seasonal detector leads.
    lead_factor = np.empty(n)
    other_factor = np.empty(n)
    for i in range(n):
        m = float(max(voters[i], 1))
        weighted = lead[i] and voters[i] >= 2
        lead_factor[i] = 2.0 if weighted else m
        other_factor[i] = 2.0 * (m - 1.0) if weighted else m
    best = np.full(n, np.inf)
    winner = np.zeros(n, dtype=np.int8)
    # A pass per detector, without a branch on the data: which detector is least calm is a
    # coin flip from series to series (a branch would mispredict), and the passes vectorise.
    for d in range(row_of.size):
        r = row_of[d]
        p = calibrated[r] if r < fitted else own[r - fitted]
        factor = lead_factor if d == seasonal else other_factor
        label = np.int8(d)
        for i in range(n):
            v = p[i] * factor[i]
            b = best[i]
            winner[i] = label if v < b else winner[i]
            best[i] = b if b < v or v != v else v  # fmin(b, v)
    candidates = np.empty(n, dtype=np.intp)
    found = 0
    for i in range(n):
        q = best[i]
        q = q if q < 1.0 or q != q else 1.0
        best[i] = q
        candidates[found] = i
        found += int(q <= p_threshold)
    return best, winner, candidates[:found].copy()


@kernel
def _decide(
    score: FloatArray,
    p: FloatArray,
    finites: BoolArray,
    learnable: BoolArray,
    run: np.ndarray,
    seen: np.ndarray,
    t: FloatArray,
    born: FloatArray,
    threshold: float,
    hold: float,
    min_history: int,
    min_age: float,
    accept_after: int,
    x: FloatArray,
    recent: np.ndarray,
    blind: np.ndarray,
    rolling: FloatArray,
) -> tuple[
    BoolArray, BoolArray, BoolArray, BoolArray, BoolArray, BoolArray, bool, np.ndarray, bool
]:
    """The score (``score`` holds p ** SCORE_POWER and becomes 1 minus it, in place) and
    what each series may alert and learn, in one pass.

    ``finites``: which series have a finite value; ``learnable`` is empty or withholds
    more series from learning. ``run`` and ``seen`` advance in place;
    a run that reached ``accept_after`` (adapted) restarts at 0. Each finite value ``x``
    goes into the ring ``recent`` (rows: a series' last points by ``seen``; no rows: no
    ring), so an accepted run can be learned after the fact. ``blind`` (``BlindSpot.length``,
    or empty) holds the runs the rolling baseline's blind spot cut short: one goes on where
    the series alerts while the rolling baseline's statistic (``rolling``) is still NaN, and
    is forgotten once it is not (``blindspot``).

    A series is ``mature`` once it has more than ``min_history`` finite points and is at
    least ``min_age`` seconds past its first one (``born``, set here). A would-be alert past
    the ``min_history``-th point is held back from learning, as an alert is, but it is
    ``flagged`` (alerted) only on a mature series: a young series' would-be alerts are
    learned as an old one's alerts would be, so growing up changes nothing but the paging.

    Returns flagged, mature, always (finite and learnable), learn (always and not held
    back), calibrate (learn, or the first point of a held run), adapted, and whether any
    is; then, per series, -1 where a flagged run begins, the length of a run that ended
    short of acceptance, 0 elsewhere (``runs``), and whether any is not 0.
    """
    n = score.size
    flagged = np.empty(n, dtype=np.bool_)
    mature = np.empty(n, dtype=np.bool_)
    always = np.empty(n, dtype=np.bool_)
    learn = np.empty(n, dtype=np.bool_)
    calibrate = np.empty(n, dtype=np.bool_)
    adapted = np.empty(n, dtype=np.bool_)
    runs = np.empty(n, dtype=np.int32)
    any_adapted = False
    any_runs = False
    every = learnable.size == 0
    slots = recent.shape[0]
    resumes = blind.size > 0
    # Bitwise on booleans and products for the updates: no branch on the data.
    for i in range(n):
        finite = finites[i]
        s = 1.0 - score[i]
        score[i] = s
        # Hysteresis: a series in a flagged run stays flagged while its p-value is within
        # ``HOLD`` times the threshold's.
        running = run[i]
        if resumes and blind[i] > 0:  # rare: no cost to the branch predictor
            seeing = rolling[i] == rolling[i]
            if s >= threshold and not seeing:
                running = blind[i]
            if s >= threshold or seeing:
                blind[i] = 0
        flag = (s >= threshold) | ((running > 0) & (p[i] <= hold))
        seen[i] += finite
        if finite and slots:
            recent[(seen[i] - 1) % slots, i] = x[i]
        enough = finite & (seen[i] > min_history)
        flag &= enough
        keep = finite & (True if every else learnable[i])
        first = born[i]
        born[i] = t[i] if finite & (first != first) else first
        old = enough & (t[i] - born[i] >= min_age)
        flagged[i] = flag & old
        mature[i] = old
        always[i] = keep
        learn[i] = keep & ~flag
        calibrate[i] = (keep & ~flag) | (flag & (running == 0))  # or a run's onset
        length = (running + 1) * flag
        done = length >= accept_after
        adapted[i] = done
        run[i] = length * (1 - done)
        any_adapted |= done
        # -1 at an onset, the lost length where a run ended without being accepted.
        runs[i] = running * ((running > 0) & ~flag) - (flag & (running == 0))
        any_runs |= runs[i] != 0
    return flagged, mature, always, learn, calibrate, adapted, any_adapted, runs, any_runs


@kernel
def _pick(
    winner: IntArray,
    flagged: BoolArray,
    comp: FloatArray,
    shifted: BoolArray,
    expected: tuple[FloatArray, ...],
    lower: tuple[FloatArray, ...],
    upper: tuple[FloatArray, ...],
    kind: tuple[IntArray, ...],
    detail: tuple[FloatArray, ...],
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, FloatArray]:
    """Per series, the shown detector's band (plus ``comp`` where ``shifted``: a
    deseasonalised detector's band, put back into the series' own units), kind and detail.

    The shown detector is the winner where a series is flagged and the first one elsewhere.
    """
    n = winner.size
    out_expected = np.empty(n)
    out_lower = np.empty(n)
    out_upper = np.empty(n)
    # The first detector's everywhere (vectorised copies), then the few flagged series
    # another detector won.
    if shifted[0]:
        for i in range(n):
            out_expected[i] = expected[0][i] + comp[i]
            out_lower[i] = lower[0][i] + comp[i]
            out_upper[i] = upper[0][i] + comp[i]
    else:
        out_expected[:] = expected[0]
        out_lower[:] = lower[0]
        out_upper[:] = upper[0]
    out_kind = kind[0].copy()
    out_detail = detail[0].copy()
    for i in range(n):
        d = winner[i]
        if not flagged[i] or d == 0:
            continue
        e, lo, up = expected[d][i], lower[d][i], upper[d][i]
        if shifted[d]:
            e, lo, up = e + comp[i], lo + comp[i], up + comp[i]
        out_expected[i] = e
        out_lower[i] = lo
        out_upper[i] = up
        out_kind[i] = kind[d][i]
        out_detail[i] = detail[d][i]
    return out_expected, out_lower, out_upper, out_kind, out_detail


def _tell_returns(
    back: Returns,
    flagged: BoolArray,
    comp: FloatArray | None,
    expected: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    kind: IntArray,
    detail: FloatArray,
) -> None:
    """Make the flagged returns' band, kind and detail say where the series went back to, in
    place: a level shift back to the level it left (in its own units: plus the seasonal
    shape now), within that level's three spreads, the detail the minutes since the shift
    it undoes was accepted (``reason.explain`` words it). The winning detector's own band
    is the shifted level, so its reason read as a new drop ("25.8σ below the usual 80")
    where the series had gone back to a normal it knew.
    """
    told = np.flatnonzero(back.found & flagged)
    level = back.level[told] + (0.0 if comp is None else comp[told])
    band = 3.0 * back.spread[told]
    expected[told] = level
    lower[told] = level - band
    upper[told] = level + band
    kind[told] = int(Kind.LEVEL_SHIFT)
    detail[told] = back.minutes[told]


def _noise_level(seasonal: SeasonalDetector | None, n: int) -> NoiseLevel | None:
    """The recent noise of univariate series the seasonal detector models (theirs is the
    statistic whose variance lags a noisier regime by a day)."""
    if seasonal is None or seasonal.multivariate:
        return None
    return NoiseLevel(n=n)


def _return_memory(
    detectors: Sequence[Detector], n: int
) -> tuple[RollingDetector | None, ReturnMemory | None]:
    """The rolling baseline the levels left at accepted shifts are read from, and an empty
    memory of them for ``n`` series (neither without a rolling baseline)."""
    rolling = next((d for d in detectors if isinstance(d, RollingDetector)), None)
    return rolling, None if rolling is None else ReturnMemory(n=n)


@kernel
def _turn_probation(
    pending: np.ndarray, slot: np.ndarray, moving: BoolArray, arriving: FloatArray
) -> np.ndarray:
    """Move the probation ring of each ``moving`` series on by one point: returns the
    statistics that served their probation (NaN for the other series, and where nothing is
    due) and puts ``arriving`` in their place."""
    size, rows, n = pending.shape
    due = np.full((rows, n), np.nan, dtype=np.float32)
    for i in range(n):
        if moving[i]:
            k = slot[i]
            for j in range(rows):
                due[j, i] = pending[k, j, i]
                pending[k, j, i] = arriving[j, i]
            slot[i] = (k + 1) % size
    return due


class Ensemble:
    """Calibrated combination of univariate or multivariate detectors over n series."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        threshold: float = DEFAULT_THRESHOLD,
        accept_after: int = 30,
        routine: bool = True,
        min_history: int = 120,
        min_age: float = MIN_AGE,
        local_time: Clocks | None = None,
    ) -> None:
        if not detectors:
            raise ValueError("an ensemble needs at least one detector")
        if not min_age >= 0.0:  # NaN too: no series would ever be old enough
            raise ValueError(f"min_age: expected seconds >= 0, got {min_age}")
        self.detectors = list(detectors)
        self.n = detectors[0].n
        self.threshold = threshold
        self.accept_after = accept_after
        self._index_rows()
        # One row per detector, calibrated together (see ``TailCalibrator``), in ``_rows``
        # order; the seasonal detector's row with its own shape cap.
        row_caps = (
            None
            if self._seasonal_d < 0
            else {int(self._row_of[self._seasonal_d]): SEASONAL_MAX_SHAPE}
        )
        self.tails = TailCalibrator(
            n=self.n, rows=len(self.detectors), row_caps=row_caps, min_span=TAIL_MIN_SPAN
        )
        # The statistics of the accumulating detectors' rows on probation (see ``PROBATION``):
        # each series' ring of its last PROBATION points, ``probation_slot`` the slot its next
        # point takes, which holds that of PROBATION points ago (NaN: nothing to learn, or
        # withdrawn by a would-be alert since).
        self.pending = self._no_pending(self.n)
        self.probation_slot = np.zeros(self.n, dtype=np.uint8)
        # What each series' current flagged run taught the fitted rows at its onset.
        self.onsets = OnsetMemory(n=self.n, rows=self._fitted)
        self.seasonal = next((d for d in detectors if isinstance(d, SeasonalDetector)), None)
        # The wall clocks of the series' times of day and week (``localtime``): the seasonal
        # profiles' and the routine memories'; each series' zone by its code (0: the
        # default zone). Elapsed time stays in UTC seconds.
        self.local_time = local_time or Clocks()
        self.zone = np.zeros(self.n, dtype=np.int8)
        if self.seasonal is not None:
            self.seasonal.local_time = self.local_time
        # The richest seasonal model each series has used so far.
        self.richest = np.zeros(self.n, dtype=np.int8)
        self.run = np.zeros(self.n, dtype=np.int32)
        # Each series' last ``accept_after`` values, the newest at ``(seen - 1) % accept_after``,
        # so the seasonal detector can learn a run once it is accepted
        # (``_learn_accepted_run``). float32 is enough: no detector claims a scale under a
        # thousandth of a series' level (``robust.REL_SCALE_FLOOR``), 16,000 times float32's
        # relative precision.
        self.recent = self._no_recent(self.n)
        # Points seen per series, and the time of its first finite one: a series with less
        # history than ``min_history`` points or ``min_age`` seconds is scored but may not
        # alert yet (its baselines and tails are still guesses).
        self.min_history = min_history
        self.seen = np.zeros(self.n, dtype=np.int32)
        self.min_age = min_age
        self.born = np.full(self.n, np.nan)
        self.routine = RoutineMemory(n=self.n) if routine else None
        self.weekly = WeeklyRoutine(n=self.n) if routine else None
        # Series in a flagged run that the weekly memory made routine: not paged.
        self.quiet = np.zeros(self.n, dtype=np.bool_)
        # The level each series left at its last accepted shift, read off the rolling
        # baseline: going back to it is a return, not a new anomaly (``returns``).
        self.rolling, self.returns = _return_memory(self.detectors, self.n)
        self.blind = None if self.rolling is None else BlindSpot(n=self.n)
        # The resolution of each series' raw values floors the detectors' scales (counts
        # near zero); multivariate detectors scale their features their own way.
        self.resolution = None if self.detectors[0].multivariate else Resolution(n=self.n)
        # How large each series' seasonal statistic has run lately (``noiselevel``).
        self.noise = _noise_level(self.seasonal, self.n)
        # The longest run of identical values each series has shown (``flatline``).
        self.flatline = None if self.detectors[0].multivariate else Flatline(n=self.n)
        keep_freed_memory(self.n)

    def step(
        self,
        t: FloatArray,
        x: FloatArray,
        learnable: BoolArray | None = None,
        restarting: BoolArray | None = None,
    ) -> Step:
        """Score the tick, then learn from what was not flagged; returns the scores.

        ``learnable`` (optional) withholds more points from learning, such as rows whose
        timestamp arrived out of order. ``restarting`` (optional): the series whose process
        was just restarted (``restarts``), where a fall is explained.
        """
        if self.resolution is not None:
            floor = self.resolution.floor(x)
            for d in self.detectors:
                d.use_resolution(floor)
        if self.seasonal is not None:
            self.seasonal.use_zones(self.zone)
        comp = self.seasonal.component(t) if self.seasonal is not None else None
        xs = x - comp if comp is not None else x
        inputs = [xs if d.deseasonalized else x for d in self.detectors]
        frames = [d.observe(t, xi) for d, xi in zip(self.detectors, inputs, strict=True)]
        stats = np.stack([frames[i].stat for i in self._order])
        p, winner, candidates = self._most_surprising(stats)
        # What the series' recent noise explains (read before it learns this tick).
        extra = self._in_recent_noise(stats, p, candidates)
        if self.noise is not None:
            seasonal = frames[self._seasonal_d]
            self.noise.learn(_floats(seasonal.stat), seasonal.kind == _SPIKE)
        if self.routine is not None and candidates.size:
            weekly = self._discount_routine(t, p, candidates)
            extra = weekly if extra is None else extra + weekly
        if restarting is not None and candidates.size:
            fell = self._fell_after_restart(restarting, x, candidates, winner, frames, comp)
            extra = fell if extra is None else extra + fell
        # The weekly memory, the recent noise and a restart quieten runs after the decision
        # (``_quieten``), which needs to know which series were in a run before it; most
        # ticks have nothing to quieten.
        running = None
        if (extra is not None and extra.any()) or self.quiet.any():
            running = self.run > 0
        # score_from_p without its clip: p is already in [0, 1]; ``_decide`` takes it from 1.
        score = np.power(p, SCORE_POWER)
        finite: BoolArray = np.asarray(
            np.isfinite(x) if x.ndim == 1 else np.isfinite(x).any(axis=1)
        )
        # The calibrators also see the first point of each flagged run: a deviation that
        # recurs (a sharp daily edge) must become normal, while a long incident counts once.
        # A flagged run holds while p is within ``HOLD`` times the threshold's, so one calmer
        # point inside an incident neither teaches the baselines the incident nor restarts
        # the count towards accepting a lasting shift as the new normal.
        flagged, mature, always, learn, calibrate, adapted, any_adapted, runs, any_runs = _decide(
            score,
            p,
            finite,
            _NO_MASK if learnable is None else np.asarray(learnable, dtype=np.bool_),
            self.run,
            self.seen,
            _floats(t),
            self.born,
            self.threshold,
            HOLD * self._p_threshold,
            self.min_history,
            self.min_age,
            self.accept_after,
            _floats(x) if self.recent.shape[0] else _NO_VALUES,
            self.recent,
            self.blind.length if self.blind is not None else _NO_LENGTHS,
            stats[self._rolling_row] if self.blind is not None else _NO_VALUES,
        )
        # ``accepted``: the shifts accepted as a new normal, returns (also ``adapted``) not.
        back, accepted = (
            (None, adapted)
            if self.returns is None
            else self._take_returns(_floats(t), xs, always & ~learn & mature, calibrate, adapted)
        )
        if back is not None:
            any_adapted = True
            flagged &= ~back.silent
        if any_runs:
            aged = _floats(t) - self.born >= CEILING_MIN_AGE  # NaN (no point yet): False
            self._follow_runs(runs, stats, finite & ~adapted, aged)
        models = self.seasonal.model.copy() if self.seasonal is not None else None
        self._learn_tails(stats, calibrate, always & ~learn, finite)
        if any_adapted:
            periodic = self._periodic()
            self.onsets.cap(self.tails, accepted & mature & ~periodic, periodic)
            self.onsets.forget(adapted)
        for det, xi in zip(self.detectors, inputs, strict=True):
            det.learn(t, xi, always if det.learns_flagged else learn)
            if any_adapted:
                if det is self.seasonal and models is not None:
                    self._learn_accepted_run(t, accepted & (models != FLAT))
                det.adapt(adapted)
        if any_adapted and models is not None:
            self._restart_levels(comp, models != FLAT, accepted & mature, back)
        if self.weekly is not None:
            if flagged.any():  # most ticks: nothing to extend, no clock to read
                self.weekly.extend(self.local_time.wall(t, self.zone), flagged)
            if any_adapted:
                self.weekly.mark_lasting(accepted)
        if running is not None:
            none = np.zeros(candidates.size)
            flagged = self._quieten(
                flagged, p, score, candidates, none if extra is None else extra, running
            )
        # A noisy series that stopped moving pages at the onset of its flatline (after the
        # decision, as the discounts above: learning is unchanged).
        flat = None
        if self.flatline is not None:
            onset, flat_run = self.flatline.judge(
                self.recent, self.seen, finite, mature, _floats(t), self.born
            )
            onset &= ~flagged
            if onset.any():
                flat = onset
                flagged = flagged | flat
                p[flat] = np.minimum(p[flat], self._p_threshold * FLATLINE_P)
                score[flat] = score_from_p(p[flat])
        if self.resolution is not None:
            self.resolution.learn(x, always)
        if models is not None and comp is not None:
            self._follow_model_switch(t, comp, models)

        # The band and kind come from the detector that flagged a point, so the reason and
        # the chart agree where it matters; every calm point shows the first detector's
        # (the rolling baseline's), so a chart of recent points draws one steady band
        # instead of hopping between whichever detector happened to be least calm.
        nan = np.full(self.n, np.nan)
        expected, lower, upper, kind, detail = _pick(
            winner,
            flagged,
            nan if comp is None else comp,
            np.array([comp is not None and d.deseasonalized for d in self.detectors]),
            tuple(_floats(f.expected) for f in frames),
            tuple(_floats(f.lower) for f in frames),
            tuple(_floats(f.upper) for f in frames),
            tuple(np.ascontiguousarray(f.kind, dtype=np.int8) for f in frames),
            tuple(nan if f.detail is None else _floats(f.detail) for f in frames),
        )
        if back is not None:
            _tell_returns(back, flagged, comp, expected, lower, upper, kind, detail)
        if flat is not None:
            kind[flat] = _FLATLINE
            detail[flat] = flat_run[flat]
        return Step(
            score, p, flagged, mature, winner, kind, expected, lower, upper, detail, adapted
        )

    def _take_returns(
        self,
        t: FloatArray,
        xs: FloatArray,
        held: BoolArray,
        calibrate: BoolArray,
        adapted: BoolArray,
    ) -> tuple[Returns | None, BoolArray]:
        """Find the series back at the level they left when their last shift was accepted
        (``returns``), among this tick's ``held`` points (of series old enough to alert:
        see ``returns`` for why not the young), and make each an acceptance: it
        still alerts where it was to, its run ends, its statistics teach no tail (the way
        back is as large as the shift, not noise), and every detector restarts on it.
        Remembers the level each series that is accepting a shift now leaves (a return is
        no shift: what it leaves is no level to go back to). Updates ``calibrate`` and
        ``adapted`` in place; returns the returns, with what their reasons tell (None: no
        series went back), and the shifts accepted (``adapted`` without the returns).
        """
        assert self.returns is not None and self.rolling is not None
        back = self.returns.back(t, xs, held, self._shape_moves(t, held)) if held.any() else None
        if back is None or not back.found.any():
            back, accepted = None, adapted
        else:
            calibrate &= ~back.found
            adapted |= back.found
            self.run[back.found] = 0
            accepted = adapted & ~back.found
        if accepted.any():
            level, spread = self.rolling.baseline()
            self.returns.remember(accepted, t, level, spread)
        return back, accepted

    def _shape_moves(self, t: FloatArray, held: BoolArray) -> ShapeMove | None:
        """For the ``held`` series with a period that remember a level left, how far their
        raw value and their seasonal component moved since their previous point (the
        previous value from ``recent``, which holds this tick's already), to tell a series
        that stayed put while its day's shape moved back to it (``returns``); None if no
        series is asked."""
        assert self.returns is not None and self.rolling is not None
        if self.seasonal is None or self.recent.shape[0] == 0:
            return None
        idx = np.flatnonzero(held & self._periodic() & np.isfinite(self.returns.level))
        if idx.size == 0:
            return None
        slots = self.recent.shape[0]
        now = self.recent[(self.seen[idx] - 1) % slots, idx].astype(np.float64)
        before = self.recent[(self.seen[idx] - 2) % slots, idx].astype(np.float64)
        raw, shape = np.full(self.n, np.nan), np.full(self.n, np.nan)
        raw[idx] = np.abs(now - before)
        shape[idx] = self.seasonal.shape_step(idx, t)
        return ShapeMove(raw, shape, self.rolling.level.copy())

    def _restart_levels(
        self,
        comp: FloatArray | None,
        periodic: BoolArray,
        accepted: BoolArray,
        back: Returns | None,
    ) -> None:
        """Restart the rolling baseline's and the seasonal detector's levels where the new
        normal sits, on the series with a period that just accepted a shift (the median of
        the run's values, ``recent``, less the seasonal component now) or went back (the
        level they left), instead of at the old level (``adapt``'s warm restart).

        Why: from the old level the levels caught up point by point and swelled the spreads
        for hours, so a 15σ spike two hours after an accepted step scored 0.83-0.86 on a
        daily series (0.999 without the step); the slow level, a day's memory, held the old
        level all day. Restarted where the run sat, the spike pages at 60-300 minutes; SMD:
        event precision 0.566 -> 0.570 (two false events fewer), recall 0.595 -> 0.590 (one
        event, caught at 0.9004 before), AUC-PR 0.4125 -> 0.4139, VUS-PR 0.3659 -> 0.3678.
        Series with a period only: on a young business-hours square wave still on the flat
        model, the morning rise, no longer swelling the spreads, paged at 09:00 (eighteenth
        session); series without one have their onset capped instead (``onsets``). A run
        that took part of the day's shape away (a plateau that dropped out at 11:00) moves
        the levels by the plateau too; its evening edge is a silent return (``returns``).

        So does a run that began at an edge of the day's shape (a weekday-only series'
        first Saturday on the daily model). From the twenty-second session to the
        twenty-third (2026-12-06) such a run kept the warm restart, as a change of the
        day's shape rather than of its level, to keep one third-week missing plateau paging
        (0.922 against 0.899 restarted); over three sets of 12 series that plateau pages on
        9 of 36 warm-restarted and 0 of 36 restarted, one series' luck either way. But
        after that warm restart the weekly model fitted worse for weeks (residual sd 4.55
        in week 3 and 3.64 in week 5 against 3.8 and 3.05, noise 2), and a weekday-only
        series' missing business day (15σ) paged on 3, 7 and 28 of 36 series in its
        fourth, fifth and sixth week; restarted where the run sat, on 5, 35 and 36. SMD: one
        labelled event more, one false event fewer (``docs/measurements.md``, twenty-third
        session).
        """
        if self.seasonal is None or self.rolling is None or comp is None:
            return
        level = np.full(self.n, np.nan)
        idx = np.flatnonzero(accepted & periodic)
        if idx.size and self.recent.shape[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a ring of NaN: no median
                run = np.nanmedian(self.recent[:, idx].astype(np.float64), axis=0)
            level[idx] = run - comp[idx]
        if back is not None:
            went = back.found & periodic
            level[went] = back.level[went]
        mask = np.isfinite(level)
        if mask.any():
            self.seasonal.restart_at(mask, level)
            self.rolling.restart_at(mask, level)

    def _learn_accepted_run(self, t: FloatArray, periodic: BoolArray) -> None:
        """The seasonal detector learns the run just accepted on the series with a period
        (``SeasonalDetector.learn_run``): the series' last ``accept_after`` points, all
        flagged, are in ``recent``."""
        assert self.seasonal is not None
        idx = np.flatnonzero(periodic)
        if idx.size == 0 or self.recent.shape[0] == 0:
            return
        slots = self.recent.shape[0]
        # Oldest first: the slot after the newest point's is the oldest of the ring.
        order = (self.seen[idx][None, :] + np.arange(slots)[:, None]) % slots
        values = self.recent[order, idx[None, :]]
        self.seasonal.learn_run(idx, _floats(t), values)

    def _no_recent(self, n: int) -> np.ndarray:
        """An empty ring (NaN: nothing to learn) of ``accept_after`` points per series, or
        none without a seasonal detector."""
        rows = self.accept_after if self.seasonal is not None else 0
        return np.full((rows, n), np.nan, dtype=np.float32)

    def _no_pending(self, n: int) -> np.ndarray:
        return np.full((PROBATION, self._accumulating.size, n), np.nan, dtype=np.float32)

    def _periodic(self) -> BoolArray:
        """The series whose seasonal model has a period (none without a seasonal detector):
        their seasonal row takes its own shape cap (``SEASONAL_MAX_SHAPE``), and an accepted
        run's onset is not capped nor a cut-short run resumed (``onsets``, ``blindspot``)."""
        if self.seasonal is None:
            return np.zeros(self.n, dtype=np.bool_)
        return np.asarray(self.seasonal.model != FLAT)

    def _follow_runs(
        self, runs: np.ndarray, stats: FloatArray, mask: BoolArray, aged: BoolArray
    ) -> None:
        """Keep what the runs that began this tick taught the tails at their onset
        (``onsets``: ``runs`` -1); for the runs that ended short of acceptance, keep their
        ceilings instead on ``aged`` series (``onsets``), and remember those that ended
        while the rolling baseline had no opinion (``blindspot``: ``runs`` their length), on
        the ``mask``ed series without a period."""
        onset = runs < 0
        if onset.any():
            self.onsets.remember(stats, onset)
        ended = runs > 0
        if not ended.any():
            return
        periodic = self._periodic()
        if self.blind is not None:
            self.blind.note(runs, ended & np.isnan(stats[self._rolling_row]) & mask & ~periodic)
        settle = ended & aged
        self.onsets.settle(self.tails, settle, periodic)
        self.onsets.forget(ended & ~settle)

    def _learn_tails(
        self, stats: FloatArray, calibrate: BoolArray, held: BoolArray, finite: BoolArray
    ) -> None:
        """Teach the calibrators this tick's statistics (``calibrate``), holding those of the
        accumulating rows on probation; ``held`` marks this tick's would-be alerts (and the
        points of a held run), which withdraw every statistic still on probation; a point
        (``finite``) moves its series' probation on by one.

        A run's onset is learned at once on every row, as before: a recurring spike must
        still teach its size from its first time.
        """
        rows = self._accumulating
        interval = None if self.seasonal is None else self.seasonal.dt
        if rows.size == 0:
            self.tails.learn(stats, calibrate, interval)
            return
        # ``stats`` is this tick's own array: the accumulating rows learn only onsets now.
        waiting = stats[rows]
        stats[rows] = np.where(calibrate & held, waiting, np.nan)
        self.tails.learn(stats, calibrate, interval)
        if held.any():
            self.pending[:, :, held] = np.nan
        due = _turn_probation(
            self.pending,
            self.probation_slot,
            finite,
            np.where(calibrate & ~held, waiting, np.nan),
        )
        everyone = np.ones(self.n, dtype=np.bool_)  # NaN marks what is not to be learned
        for j, row in enumerate(rows):
            self.tails.learn_row(int(row), due[j].astype(np.float64), everyone, interval)

    def _follow_model_switch(self, t: FloatArray, comp: FloatArray, models: IntArray) -> None:
        """Keep the deseasonalised input continuous, and the seasonal tail fresh, when a
        series' seasonal model changes.

        When the seasonal detector adopts (or drops) a period, the shape subtracted from the
        values jumps by the whole profile; the level detectors would see that as a level
        shift in their input. They are told the offset instead and move their levels with it.

        A series that climbs (or falls) by more than its step noise every point
        (``RollingDetector.drifting``: a running total, a ramp) also has them relearn its
        input at warm-up speed, as after an accepted shift (``adapt``), the first time it
        takes a richer model: what they read is no longer the same series, not only moved.
        The day profile holds the slow level's lag behind the climb at each time of day, so
        from the switch the input climbs at another pace, and the rolling level, whose
        spread had learned the old lag, mispredicted it more every point: a running total of
        orders paged at the switch on every seed at five and fifteen minutes (12 of 12), a
        perfect ramp (a clock, an index) at five minutes ("11.7σ beyond its usual
        point-to-point change"); now none (``tests/unit/detect/test_model_switch_restart.py``,
        docs/measurements.md "Twenty-seventh session"). Only such series:
        restarting every series that takes a model cost SMD two events and two false ones
        and the demo two false alerts while it gained NAB a window. Only the first time: a
        series whose model flips back and forth keeps what it knows of the shape's input.
        """
        assert self.seasonal is not None
        switched = self.seasonal.model != models
        if not switched.any():
            return
        # The first time a series takes a richer model, the seasonal statistic becomes
        # lighter-tailed than the one its row's tail was learned on (a square daily wave
        # scored as flat, weekends scored as weekdays). Leaving the flat model, the tail
        # goes back to the prior: what the flat model found surprising (the daily edges of
        # the first days, tens of sigmas each) says nothing of the seasonal residual, and
        # even a prior's weight of it holds the tail at its heaviest shape for weeks. From
        # the daily to the weekly model the old tail is a fair first guess: it stays, but
        # counts as a prior, so the new one replaces it within days instead of the
        # half-life (two weeks at one-minute resolution). Only the first time: a series that
        # drops a model and takes it back has a tail learned under it already.
        # The routine memory is held at two alerts' worth (it was cleared here until
        # 2026-12-05): the times of day that kept surprising are the daily shape, which a
        # newly taken model does not know yet (a day profile learns over a week, and the
        # edge points it would learn from were flagged), so clearing it paged a one-minute
        # business-hours series at both edges for two more days
        # (``tests/unit/detect/test_business_hours_edges.py``); kept whole, the edges'
        # surprise as scored by the flat model (hundreds of sigmas) hid a missing plateau at
        # the same time of day two weeks later. Two alerts' worth, not one: the finer the
        # sampling, the more surprising an edge's first points (at one, ten-second series
        # still paged on their third day); with the memory's three-day half-life it is under
        # one alert's worth within three days.
        # A ceiling is of the statistics under the model it was found with (``onsets``).
        self.onsets.forget(switched & (self.run == 0))
        richer = self.seasonal.model > self.richest
        from_flat = richer & (self.richest == FLAT)
        np.maximum(self.richest, self.seasonal.model, out=self.richest)
        # A series that climbs by more than its step noise every point (a running total, a
        # ramp) relearns its deseasonalised input the first time (see the docstring).
        restart = None
        if richer.any():
            if self.rolling is not None:
                drifting = richer & self.rolling.drifting()
                restart = drifting if drifting.any() else None
            row = self._row_of[self.detectors.index(self.seasonal)]
            self.tails.shrink(richer & ~from_flat, self.tails.prior_weight, row)
            self.tails.reset(from_flat, row)
            self.onsets.forget(richer)  # no longer what the seasonal row holds
            cap = -ROUTINE_CAP_ALERTS * np.log10(self._p_threshold)
            if self.routine is not None:
                self.routine.cap(richer, cap)
            if self.weekly is not None:
                # Leaving the flat model, its episodes are its misreadings of the daily
                # shape (both edges of each of the first days) and are forgotten: held at
                # two alerts' worth they outweighed, and outlived, a first Saturday's.
                self.weekly.clear(from_flat)
                self.weekly.cap(richer & ~from_flat, cap)
        delta = np.where(switched, comp - self.seasonal.component(t), 0.0)
        for det in self.detectors:
            if det.deseasonalized:
                det.shift_input(switched, delta)
                if restart is not None:
                    det.adapt(restart)

    def _in_recent_noise(
        self, stats: FloatArray, p: FloatArray, candidates: np.ndarray
    ) -> FloatArray | None:
        """How much less surprising each would-be alert is with the seasonal statistic
        counted in the series' recent noise, where that noise has grown (``noiselevel``),
        in surprise units (log10 p); None where nothing is to be judged again.

        The other detectors' statistics stand as they are (theirs follow a noisier regime
        within minutes): a would-be alert that one of them raises stays one.
        """
        if self.noise is None or candidates.size == 0:
            return None
        grown = self.noise.grown(candidates)
        hit = grown > 1.0
        if not hit.any():
            return None
        row = int(self._row_of[self._seasonal_d])
        idx = candidates[hit]
        judged = stats[:, idx]  # a copy (fancy indexing): only the series judged again
        judged[row] /= np.sqrt(grown[hit])
        again, _, _ = self._most_surprising(judged, idx)
        extra = np.zeros(candidates.size)
        extra[hit] = np.log10(np.maximum(again, 1e-300) / np.maximum(p[idx], 1e-300))
        return np.maximum(extra, 0.0)

    def _fell_after_restart(
        self,
        restarting: BoolArray,
        x: FloatArray,
        candidates: np.ndarray,
        winner: IntArray,
        frames: list[Frame],
        comp: FloatArray | None,
    ) -> FloatArray:
        """Per would-be alert, the discount that makes it no page (surprise units) where its
        series is ``restarting`` and its value is below what the detector that raised it
        expected (its seasonal component added back where it judged without it), 0
        elsewhere; ``_quieten`` applies it (``restarts``: a restarted process's memory)."""
        out = np.zeros(candidates.size)
        for k in np.flatnonzero(restarting[candidates]):
            i, d = int(candidates[k]), int(winner[candidates[k]])
            expected = float(frames[d].expected[i])
            if comp is not None and self.detectors[d].deseasonalized:
                expected += float(comp[i])
            if x[i] < expected:
                out[k] = RESTART_DISCOUNT
        return out

    def _quieten(
        self,
        flagged: BoolArray,
        p: FloatArray,
        score: FloatArray,
        candidates: np.ndarray,
        extra: FloatArray,
        running: BoolArray,
    ) -> BoolArray:
        """Apply the weekly memory's, the recent noise's and a restart's discounts
        (``extra``, in surprise units beyond the daily memory's, per candidate) to the
        p-values and scores, in place, and return the flags without the runs they explained
        (``running``: the series in a flagged run before this tick).

        Why after the decision, not before it as the daily memory's: what the weekly memory
        makes routine is a weekly shape the week profile has not caught up with yet, and the
        detectors must learn it exactly as they learned it before, as an alert held back
        from the baselines and accepted after ``accept_after`` points (a run the profile
        learns after the fact). Made routine before the decision, a Saturday morning was
        learned as calm points by every detector and tail (no run held it back), and a
        missing weekday plateau, 15σ off, no longer paged in its third week: its first
        minute's p-value was 1.2e-4 instead of 3.7e-5 (the threshold's is 1e-4). So only
        the page goes, as for a young series: a run whose would-be alerts the weekly memory
        made routine is quiet (``quiet``) through its held points too, until a would-be
        alert it does not explain. The recent noise (``noiselevel``) is the same kind: a
        noisier regime the seasonal variance has not caught up with yet, which it must learn
        at its own pace.
        """
        discounted = candidates[extra > 0.0]
        if discounted.size:
            p[discounted] = np.minimum(p[discounted] * np.power(10.0, extra[extra > 0.0]), 1.0)
            score[discounted] = score_from_p(p[discounted])
        loud = np.zeros(self.n, dtype=np.bool_)
        loud[candidates] = p[candidates] <= self._p_threshold
        # A run starts quiet unless its first would-be alert is unexplained; once loud it
        # stays loud (one page per run, as before), and an unflagged point ends it.
        self.quiet = np.where(running, self.quiet, True) & ~loud & flagged
        return flagged & ~self.quiet

    def _discount_routine(self, t: FloatArray, p: FloatArray, candidates: np.ndarray) -> FloatArray:
        """Discount, in place, would-be alerts (``candidates``) as surprising as this time's
        recent routine.

        The memory is read before it learns this tick (causal), and it learns the raw
        surprise of every would-be alert, flagged or not: "this time alerted lately" (see
        ``routine``). Returns how much more the weekly memory discounts each candidate
        (surprise units), which ``_quieten`` applies after the decision.
        """
        assert self.routine is not None
        raw = p[candidates]
        tc = self.local_time.wall(t[candidates], self.zone[candidates])
        routine = self.routine.routine(tc, candidates)
        p[candidates] = np.minimum(raw * np.power(10.0, routine), 1.0)
        surprise = -np.log10(np.maximum(raw, 1e-300))
        self.routine.learn(tc, surprise, candidates)
        if self.weekly is None:
            return np.zeros(candidates.size)
        weekly = np.maximum(self.weekly.routine(tc, candidates) - routine, 0.0)
        self.weekly.learn(tc, surprise, candidates)
        return weekly

    @property
    def _p_threshold(self) -> float:
        return p_from_score(self.threshold)

    def _most_surprising(
        self, stats: FloatArray, idx: np.ndarray | None = None
    ) -> tuple[FloatArray, IntArray, np.ndarray]:
        """Per series: the smallest p-value over its share of the error budget (Bonferroni,
        the seasonal detector holding half on a periodic series; at most 1), which detector
        won, and which series are would-be alerts. ``idx``: ``stats`` holds the columns of
        those series only (each series' p-value is its own tails' alone).

        The same as stacking the weighted p-values (NaN as 1) and taking ``argmin`` (the
        first of equal ones); see the kernel ``_most_surprising``. The detectors that
        calibrate themselves give ndtr(-stat) (scipy's, one call over their rows).
        """
        periodic, tails = self._periodic(), self.tails
        if idx is not None:
            periodic, tails = periodic[idx], tails.take(idx)
        # The seasonal row's lighter cap only where it models a period (SEASONAL_MAX_SHAPE).
        calibrated = tails.p_value(stats[: self._fitted], self._fitted, periodic)
        # Past the ceiling a one-off spike left (``onsets``), a statistic pages.
        onsets, run = (
            (self.onsets, self.run) if idx is None else (self.onsets.take(idx), self.run[idx])
        )
        calibrated = onsets.beyond(stats, calibrated, run, periodic, tails)
        own = ndtr(-stats[self._fitted :])
        return _most_surprising(
            calibrated, own, self._row_of, self._p_threshold, self._seasonal_d, periodic
        )

    def _index_rows(self) -> None:
        """Derive, once, the detector of each calibrator row, how many rows are fitted, and
        each detector's row (they change only with the detector list).

        Detectors that calibrate themselves come last: their rows learn (they always have)
        but are never fitted or turned into p-values.
        """
        fitted = [i for i, d in enumerate(self.detectors) if not d.self_calibrated]
        rest = [i for i, d in enumerate(self.detectors) if d.self_calibrated]
        self._order = fitted + rest
        self._fitted = len(fitted)
        self._row_of = np.array(
            [self._order.index(i) for i in range(len(self.detectors))], dtype=np.intp
        )
        # The calibrator rows of the detectors whose statistic builds up over a change.
        self._accumulating = np.array(
            [self._row_of[i] for i, d in enumerate(self.detectors) if d.accumulates],
            dtype=np.intp,
        )
        # The seasonal detector's index (-1: none), which holds half the budget on a
        # periodic series.
        self._seasonal_d = next(
            (i for i, d in enumerate(self.detectors) if isinstance(d, SeasonalDetector)), -1
        )
        # The rolling baseline's row (-1: none), whose blind spot can cut a run short.
        rolling = [i for i, d in enumerate(self.detectors) if isinstance(d, RollingDetector)]
        self._rolling_row = int(self._row_of[rolling[0]]) if rolling else -1

    def _rows(self) -> tuple[list[int], int]:
        """The detector of each calibrator row, and how many rows are fitted."""
        return self._order, self._fitted

    def __setstate__(self, state: dict[str, object]) -> None:
        # A checkpoint written before the resolution estimate existed resumes with a fresh one.
        self.__dict__.update(state)
        self._index_rows()
        if "local_time" not in state:
            # From before times of day followed a time zone: UTC, as they did.
            self.local_time = Clocks()
            self.zone = np.zeros(self.n, dtype=np.int8)
            seasonal = self.__dict__.get("seasonal")
            if seasonal is not None:
                seasonal.local_time = self.local_time
        # One written with a calibrator per detector resumes with them stacked, as they were.
        calibrators = self.__dict__.pop("calibrators", None)
        if isinstance(calibrators, list):
            self.tails = TailCalibrator.stacked([calibrators[i] for i in self._rows()[0]])
        if "richest" not in state:
            seasonal = self.__dict__.get("seasonal")
            self.richest = (
                np.array(seasonal.model, dtype=np.int8)
                if seasonal is not None
                else np.zeros(self.n, dtype=np.int8)
            )
        if "born" not in state:
            # A checkpoint from before the first-days rule: its series that have started
            # are past their first days as far as anyone can tell.
            self.min_age = MIN_AGE
            seen = np.asarray(self.__dict__["seen"])
            self.born = np.where(seen > 0, -np.inf, np.nan)
        if "resolution" not in state:
            multivariate = self.detectors[0].multivariate
            self.resolution = None if multivariate else Resolution(n=self.n)
        if "recent" not in state:
            # A checkpoint from before accepted runs were learned: nothing to learn yet.
            self.recent = self._no_recent(self.n)
        if "weekly" not in state:
            # A checkpoint from before the weekly memory: no episodes remembered yet.
            routine = self.__dict__.get("routine")
            self.weekly = None if routine is None else WeeklyRoutine(n=self.n)
            self.quiet = np.zeros(self.n, dtype=np.bool_)
        if "returns" not in state:
            # A checkpoint from before returns were known: no shift remembered yet.
            self.rolling, self.returns = _return_memory(self.detectors, self.n)
        if "onsets" not in state:
            # A checkpoint from before onsets were kept: none remembered, so a run going on
            # is accepted with its onset learned whole, as it was then.
            self.onsets = OnsetMemory(n=self.n, rows=self._fitted)
        elif not self.onsets.ceilings:
            # Outside a run it held the last run's onset, no ceiling: none kept until the
            # series' next run ends.
            self.onsets.stat[:, self.run == 0] = np.nan
            self.onsets.ceilings = True
        if "blind" not in state:
            self.blind = None if self.rolling is None else BlindSpot(n=self.n)
        if not self.tails.min_span:
            # Calibrators from before the two weeks' memory: their moments carry over.
            self.tails.min_span = TAIL_MIN_SPAN
        if "noise" not in state:
            # A checkpoint from before the recent noise was kept: calm so far.
            self.noise = _noise_level(self.__dict__.get("seasonal"), self.n)
        if "flatline" not in state:
            # A checkpoint from before flatlines: no run learned yet (learned as they end).
            self.flatline = None if self.detectors[0].multivariate else Flatline(n=self.n)
        if "pending" not in state:
            # A checkpoint from before the probation: nothing is waiting.
            self.pending = self._no_pending(self.n)
        if "probation_slot" not in state:
            # From before each series counted its own probation: every series' ring turned
            # with the engine's ticks, so all stand where the engine's count left them.
            ticks = int(self.__dict__.pop("ticks", 0))
            self.probation_slot = np.full(self.n, ticks % PROBATION, dtype=np.uint8)

    def clock_of(self, j: int) -> LocalTime:
        """Series j's wall clock (for the hour its reasons name)."""
        return self.local_time.clocks[int(self.zone[j])]

    def set_zones(self, idx: np.ndarray, zones: Sequence[str | None]) -> None:
        """Series ``idx`` follow the wall clocks of ``zones`` (one per series; None: the
        default zone's) from now on; ValueError for an unknown name. What they learned on
        their old clocks moves with them (``_move_clocks``)."""
        code = {zone: self.local_time.code(zone) for zone in set(zones)}
        codes = np.array([code[zone] for zone in zones], dtype=np.int8)
        self._move_clocks(np.asarray(idx), codes, self.local_time.clocks)

    def use_local_time(self, zone: str) -> None:
        """Make ``zone`` the default zone (the service's config changed between runs): the
        series on the default clock move to it with what they learned."""
        new = LocalTime(zone)
        if new == self.local_time.default:
            return
        idx = np.flatnonzero(self.zone == 0)
        clocks = [new, *self.local_time.clocks[1:]]
        self._move_clocks(idx, np.zeros(idx.size, dtype=np.int8), clocks)
        self.local_time.clocks[0] = new

    def _move_clocks(self, idx: np.ndarray, codes: ZoneCodes, clocks: list[LocalTime]) -> None:
        """Series ``idx`` take the zones ``codes`` (into ``clocks``, the clocks after the
        change). Their profiles and routine memories turn by the difference between the old
        and the new clock's offsets at the latest time each series was seen (at its first
        where no seasonal detector keeps that): kept where they were, a business-hours shape
        learned in UTC would sit an hour or two off the new clock and page at both edges
        for days."""
        if idx.size == 0:
            return
        seen = self.seasonal.t_prev if self.seasonal is not None else self.born
        now = seen[idx]
        before = self.local_time.wall(now, self.zone[idx])
        shift = np.nan_to_num(wall_of(clocks, now, codes) - before)
        self.zone[idx] = codes
        moved = shift != 0.0
        if moved.any():
            for memory in (self.seasonal, self.routine, self.weekly):
                if memory is not None:
                    memory.move_clock(idx[moved], shift[moved])

    def _parts(self) -> list[ArrayState]:
        """Every component that keeps state per series in arrays (``ArrayState``)."""
        optional = (
            self.routine,
            self.weekly,
            self.resolution,
            self.returns,
            self.blind,
            self.noise,
            self.flatline,
        )
        return [*self.detectors, self.tails, self.onsets, *(p for p in optional if p is not None)]

    def take(self, idx: np.ndarray) -> Ensemble:
        """A copy following only series ``idx`` (their state copied), to step apart: a batch
        deep in a few series (one series' backlog) ticks over those alone, not over every
        series followed, and ``put`` writes them back. Stepping the part is stepping the
        whole with no point for the others: a series without a point this tick is not
        changed by it (its probation too counts its own points only)."""
        idx = np.asarray(idx, dtype=np.intp)
        part = copy.copy(self)
        taken: dict[int, Any] = {id(whole): whole.take(idx) for whole in self._parts()}
        for name, value in vars(self).items():
            if id(value) in taken:
                setattr(part, name, taken[id(value)])
        part.detectors = [taken[id(d)] for d in self.detectors]
        for name in self._untrained(0):
            setattr(part, name, np.take(getattr(self, name), idx, axis=-1))
        part.n = int(idx.size)
        return part

    def put(self, idx: np.ndarray, part: Ensemble) -> None:
        """Write back the state of series ``idx`` from ``part`` (made by ``take(idx)``)."""
        idx = np.asarray(idx, dtype=np.intp)
        for whole, piece in zip(self._parts(), part._parts(), strict=True):
            whole.put(idx, piece)
        for name in self._untrained(0):
            getattr(self, name)[..., idx] = getattr(part, name)

    def reset(self, idx: np.ndarray) -> None:
        """Series ``idx`` start again untrained, as if just grown: a slot freed by a series
        that stopped reporting is taken by a new one (``StreamDetector.retire``)."""
        idx = np.asarray(idx, dtype=np.intp)
        if idx.size == 0:
            return
        for part in self._parts():
            part.put(idx, part.clone(n=idx.size))
        for name, fresh in self._untrained(idx.size).items():
            getattr(self, name)[..., idx] = fresh

    def _untrained(self, k: int) -> dict[str, np.ndarray]:
        """The ensemble's own per-series arrays (series on the last axis) for k new series:
        what ``grow`` appends and ``reset`` writes back."""
        return {
            "run": np.zeros(k, dtype=np.int32),
            "seen": np.zeros(k, dtype=np.int32),
            "richest": np.zeros(k, dtype=np.int8),
            "quiet": np.zeros(k, dtype=np.bool_),
            "zone": np.zeros(k, dtype=np.int8),
            "born": np.full(k, np.nan),
            "pending": self._no_pending(k),
            "probation_slot": np.zeros(k, dtype=np.uint8),
            "recent": self._no_recent(k),
        }

    def grow(self, n: int) -> None:
        """Follow more series: new ones start untrained."""
        for part in self._parts():
            part.grow(n)
        for name, fresh in self._untrained(n - self.n).items():
            setattr(self, name, np.concatenate([getattr(self, name), fresh], axis=-1))
        self.n = n
        keep_freed_memory(n)

    def state_nbytes(self) -> int:
        """Bytes of state for all n series: every component's and the ensemble's own
        arrays (the same lists ``take``, ``put`` and ``grow`` go by)."""
        parts = sum(part.state_nbytes() for part in self._parts())
        return parts + sum(getattr(self, name).nbytes for name in self._untrained(0))
