"""One calibrated score per point out of several detectors, and the decision to alert.

Each detector's statistic goes through its own per-series tail calibrator (``calibrate``),
giving a probability under that series' normal behaviour. The ensemble takes the most
surprising detector and corrects for having asked several (Bonferroni: p times the number
of detectors with an opinion), so the score keeps one meaning, "how rare is this for this
series", whatever the detector mix. Then it decides what the detectors may learn:

* points at or above the alert threshold are not learned (no baseline poisoning), but the
  first point of each flagged run does teach the calibrators how big deviations get;
* detectors that know nothing of seasons see the values with the seasonal detector's
  current shape removed (a decomposition: detect on the residual), so a daily edge is not
  a jump to them once the period is known;
* a would-be alert as surprising as what recently happened around the same time of day
  is routine (``routine``: the nightly cron spike);
* the first time a series' seasonal detector takes a richer model, what was learned while
  the season was scored as noise stops weighing: the seasonal tail goes back to the prior
  (leaving the flat model) or counts as a prior only (daily to weekly), and the routine
  memory is cleared;
* a deviation that lasts ``accept_after`` points is accepted as the new normal: detectors
  are told to ``adapt`` (a deploy that changed the baseline stops alerting after a while).
  A flagged run holds while p stays within ``HOLD`` times the threshold's, so a point of
  an incident that happens to look a little calmer is neither learned nor ends the count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from anomalert.detect.base import BoolArray, Detector, FloatArray, IntArray
from anomalert.detect.calibrate import SCORE_POWER, TailCalibrator, p_from_score
from anomalert.detect.kernels import keep_freed_memory
from anomalert.detect.resolution import Resolution
from anomalert.detect.routine import RoutineMemory
from anomalert.detect.seasonal import FLAT, SeasonalDetector

#: Default alert threshold on the calibrated score, chosen once on the development data.
DEFAULT_THRESHOLD = 0.90
#: A flagged run goes on while p stays within this factor of the threshold's p-value.
HOLD = 5.0


@dataclass(frozen=True)
class Step:
    """The ensemble's view of one tick over n series."""

    score: FloatArray
    p: FloatArray
    flagged: BoolArray
    winner: IntArray
    kind: IntArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    detail: FloatArray
    adapted: BoolArray


#: Frame fields the ensemble reports for the winning detector.
_BAND = ("expected", "lower", "upper")


class _Picker:
    """Takes, per series, the winning detector's value of a frame field.

    Starts from the first detector's array and overwrites the series each other detector
    won (found once per tick): about one pass per field plus the others' share, where
    stacking copies every array first and a masked copy (or ``np.choose``) pays for a
    mispredicted branch per series on a random mix of winners.

    ``shift`` (per detector, or None) is added to that detector's values: a deseasonalised
    detector's band, put back into the series' own units.
    """

    def __init__(self, winner: IntArray, shift: list[FloatArray | None]) -> None:
        self.won = [np.flatnonzero(winner == i) for i in range(1, len(shift))]
        self.shift = shift
        self.shift_won = [
            s if s is None else s[idx] for s, idx in zip(shift[1:], self.won, strict=True)
        ]

    def __call__(self, arrays: list[np.ndarray], shifted: bool = False) -> np.ndarray:
        """The winner's element of ``arrays`` per series (shifted if asked)."""
        shift = self.shift if shifted else [None] * len(arrays)
        out = np.empty(
            arrays[0].shape, np.result_type(*arrays, *(s for s in shift if s is not None))
        )
        if shift[0] is None:
            out[...] = arrays[0]
        else:
            np.add(arrays[0], shift[0], out=out)
        for a, idx, s in zip(arrays[1:], self.won, self.shift_won, strict=True):
            if idx.size:
                values = a[idx]
                if shifted and s is not None:
                    values = values + s
                out[idx] = values
        return out


class Ensemble:
    """Calibrated combination of univariate or multivariate detectors over n series."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        threshold: float = DEFAULT_THRESHOLD,
        accept_after: int = 30,
        routine: bool = True,
        min_history: int = 120,
    ) -> None:
        if not detectors:
            raise ValueError("an ensemble needs at least one detector")
        self.detectors = list(detectors)
        self.n = detectors[0].n
        self.threshold = threshold
        self.accept_after = accept_after
        # One row per detector, calibrated together (see ``TailCalibrator``), in ``_rows``
        # order.
        self.tails = TailCalibrator(n=self.n, rows=len(self.detectors))
        self._index_rows()
        self.seasonal = next((d for d in detectors if isinstance(d, SeasonalDetector)), None)
        # The richest seasonal model each series has used so far.
        self.richest = np.zeros(self.n, dtype=np.int8)
        self.run = np.zeros(self.n, dtype=np.int32)
        # Points seen per series: a series with less history than ``min_history`` is scored
        # but may not alert yet (its baselines and tails are still guesses).
        self.min_history = min_history
        self.seen = np.zeros(self.n, dtype=np.int32)
        self.routine = RoutineMemory(n=self.n) if routine else None
        # The resolution of each series' raw values floors the detectors' scales (counts
        # near zero); multivariate detectors scale their features their own way.
        self.resolution = None if self.detectors[0].multivariate else Resolution(n=self.n)
        keep_freed_memory(self.n)

    def step(self, t: FloatArray, x: FloatArray, learnable: BoolArray | None = None) -> Step:
        """Score the tick, then learn from what was not flagged; returns the scores.

        ``learnable`` (optional) withholds more points from learning, such as rows whose
        timestamp arrived out of order.
        """
        if self.resolution is not None:
            floor = self.resolution.floor(x)
            for d in self.detectors:
                d.use_resolution(floor)
        comp = self.seasonal.component(t) if self.seasonal is not None else None
        xs = x - comp if comp is not None else x
        inputs = [xs if d.deseasonalized else x for d in self.detectors]
        frames = [d.observe(t, xi) for d, xi in zip(self.detectors, inputs, strict=True)]
        stats = np.stack([frames[i].stat for i in self._order])
        p, voters, winner = self._most_surprising(stats)
        p *= voters
        np.minimum(p, 1.0, out=p)
        if self.routine is not None:
            self._discount_routine(t, p)
        # score_from_p without its clip: p is already in [0, 1].
        score = np.power(p, SCORE_POWER)
        np.subtract(1.0, score, out=score)
        finite: BoolArray = np.asarray(
            np.isfinite(x) if x.ndim == 1 else np.isfinite(x).any(axis=1)
        )
        flagged = score >= self.threshold
        if self.run.any():
            # Hysteresis: a series in a flagged run stays flagged while its p-value is within
            # ``HOLD`` times the threshold's, so one calmer point inside an incident neither
            # teaches the baselines the incident nor restarts the count towards accepting a
            # lasting shift as the new normal.
            flagged |= (self.run > 0) & (p <= HOLD * self._p_threshold)
        flagged &= finite
        self.seen += finite
        flagged &= self.seen > self.min_history
        always: BoolArray = finite if learnable is None else np.asarray(finite & learnable)
        learn = always & ~flagged

        # The calibrators also see the first point of each flagged run: a deviation that
        # recurs (a sharp daily edge) must become normal, while a long incident counts once.
        onset = flagged & (self.run == 0)
        calibrate = (learn | onset) & finite
        self.run += 1  # the length of each series' flagged run, 0 when not flagged
        self.run *= flagged
        adapted = self.run >= self.accept_after
        any_adapted = bool(adapted.any())
        models = self.seasonal.model.copy() if self.seasonal is not None else None
        self.tails.learn(stats, calibrate)
        for det, xi in zip(self.detectors, inputs, strict=True):
            det.learn(t, xi, always if det.learns_flagged else learn)
            if any_adapted:
                det.adapt(adapted)
        if any_adapted:
            self.run[adapted] = 0
        if self.resolution is not None:
            self.resolution.learn(x, always)
        if models is not None and comp is not None:
            self._follow_model_switch(t, comp, models)

        # The band and kind come from the detector that flagged a point, so the reason and
        # the chart agree where it matters; every calm point shows the first detector's
        # (the rolling baseline's), so a chart of recent points draws one steady band
        # instead of hopping between whichever detector happened to be least calm.
        shown = winner * flagged
        pick = _Picker(
            shown,
            [comp if comp is not None and d.deseasonalized else None for d in self.detectors],
        )
        band = [pick([getattr(f, name) for f in frames], shifted=True) for name in _BAND]
        kind = pick([f.kind for f in frames]).astype(np.int8, copy=False)
        details = [f.detail for f in frames]
        if all(d is None for d in details):
            detail = np.full(self.n, np.nan)
        else:
            nan = np.full(self.n, np.nan)
            detail = pick([d if d is not None else nan for d in details])
        return Step(score, p, flagged, winner, kind, band[0], band[1], band[2], detail, adapted)

    def _follow_model_switch(self, t: FloatArray, comp: FloatArray, models: IntArray) -> None:
        """Keep the deseasonalised input continuous, and the seasonal tail fresh, when a
        series' seasonal model changes.

        When the seasonal detector adopts (or drops) a period, the shape subtracted from the
        values jumps by the whole profile; the level detectors would see that as a level
        shift in their input. They are told the offset instead and move their levels with it.
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
        # drops a model and takes it back has a tail learned under it already, and clearing
        # the routine memory at every flip would page on a daily job again each time.
        richer = self.seasonal.model > self.richest
        from_flat = richer & (self.richest == FLAT)
        np.maximum(self.richest, self.seasonal.model, out=self.richest)
        if richer.any():
            row = self._row_of[self.detectors.index(self.seasonal)]
            self.tails.shrink(richer & ~from_flat, self.tails.prior_weight, row)
            self.tails.reset(from_flat, row)
            if self.routine is not None:
                # The times of day that kept surprising were the daily shape, now modelled
                # (the 09:00 edge of a business-hours series scored as flat).
                self.routine.forget(richer)
        delta = np.where(switched, comp - self.seasonal.component(t), 0.0)
        for det in self.detectors:
            if det.deseasonalized:
                det.shift_input(switched, delta)

    def _discount_routine(self, t: FloatArray, p: FloatArray) -> None:
        """Discount, in place, would-be alerts as surprising as this time's recent routine.

        The memory is read before it learns this tick (causal), and it learns the raw
        surprise of every point worth remembering, flagged or not (see ``routine``).
        """
        assert self.routine is not None
        candidates = np.flatnonzero(p <= self._p_threshold)
        raw = p.copy() if candidates.size else p
        if candidates.size:
            routine = self.routine.routine(t[candidates], candidates)
            p[candidates] = np.minimum(p[candidates] * np.power(10.0, routine), 1.0)
        memo = candidates  # only would-be alerts are remembered: "this time alerted lately"
        if memo.size:
            self.routine.learn(t[memo], -np.log10(np.maximum(raw[memo], 1e-300)), memo)

    @property
    def _p_threshold(self) -> float:
        return p_from_score(self.threshold)

    def _most_surprising(self, stats: FloatArray) -> tuple[FloatArray, IntArray, IntArray]:
        """Per series: the smallest p-value, how many detectors had an opinion, and which won.

        The same as stacking the p-values (NaN as 1) and taking ``argmin`` (the first of
        equal ones), but as a running minimum: ``argmin`` over a short first axis costs more
        than all the rest of the ensemble. A detector wins where it is strictly below every
        earlier one, so the winner is the last detector that lowered the running minimum.
        """
        best: FloatArray | None = None
        voters = np.zeros(self.n, dtype=np.int8)
        winner = np.zeros(self.n, dtype=np.int8)
        calibrated = self.tails.p_value(stats[: self._fitted], self._fitted)
        for i, d in enumerate(self.detectors):
            row = self._row_of[i]
            p = ndtr(-stats[row]) if d.self_calibrated else calibrated[row]
            below = p < 1.0  # NaN (no opinion) is not below
            voters += below
            if best is None:
                best = np.fmin(p, 1.0)  # p <= 1: only NaN becomes 1
                continue
            lower = p < best
            np.fmin(best, p, out=best)
            np.maximum(winner, lower.view(np.int8) * np.int8(i), out=winner)
        assert best is not None
        np.maximum(voters, 1, out=voters)
        return best, voters, winner

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
        self._row_of = [self._order.index(i) for i in range(len(self.detectors))]

    def _rows(self) -> tuple[list[int], int]:
        """The detector of each calibrator row, and how many rows are fitted."""
        return self._order, self._fitted

    def __setstate__(self, state: dict[str, object]) -> None:
        # A checkpoint written before the resolution estimate existed resumes with a fresh one.
        self.__dict__.update(state)
        self._index_rows()
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
        if "resolution" not in state:
            multivariate = self.detectors[0].multivariate
            self.resolution = None if multivariate else Resolution(n=self.n)

    def grow(self, n: int) -> None:
        """Follow more series: new ones start untrained."""
        for d in self.detectors:
            d.grow(n)
        self.tails.grow(n)
        if self.routine is not None:
            self.routine.grow(n)
        if self.resolution is not None:
            self.resolution.grow(n)
        self.run = np.concatenate([self.run, np.zeros(n - self.n, dtype=np.int32)])
        self.seen = np.concatenate([self.seen, np.zeros(n - self.n, dtype=np.int32)])
        self.richest = np.concatenate([self.richest, np.zeros(n - self.n, dtype=np.int8)])
        self.n = n
        keep_freed_memory(n)

    def state_nbytes(self) -> int:
        """Bytes of state for all n series."""
        return (
            sum(d.state_nbytes() for d in self.detectors)
            + self.tails.state_nbytes()
            + self.run.nbytes
            + self.seen.nbytes
            + self.richest.nbytes
            + (self.routine.state_nbytes() if self.routine is not None else 0)
            + (self.resolution.state_nbytes() if self.resolution is not None else 0)
        )
