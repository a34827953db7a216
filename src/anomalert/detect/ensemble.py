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
* a deviation that lasts ``accept_after`` points is accepted as the new normal: detectors
  are told to ``adapt`` (a deploy that changed the baseline stops alerting after a while).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import ndtr

from anomalert.detect.base import BoolArray, Detector, FloatArray, Frame, IntArray
from anomalert.detect.calibrate import TailCalibrator, score_from_p
from anomalert.detect.seasonal import SeasonalDetector

#: Default alert threshold on the calibrated score, chosen once on the development data.
DEFAULT_THRESHOLD = 0.90


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


def _shifted(frame: Frame, comp: FloatArray) -> Frame:
    """A deseasonalised detector's band, put back into the series' own units."""
    return replace(
        frame, expected=frame.expected + comp, lower=frame.lower + comp, upper=frame.upper + comp
    )


class Ensemble:
    """Calibrated combination of univariate or multivariate detectors over n series."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        threshold: float = DEFAULT_THRESHOLD,
        accept_after: int = 30,
    ) -> None:
        if not detectors:
            raise ValueError("an ensemble needs at least one detector")
        self.detectors = list(detectors)
        self.n = detectors[0].n
        self.threshold = threshold
        self.accept_after = accept_after
        self.calibrators = [TailCalibrator(n=self.n) for _ in detectors]
        self.seasonal = next((d for d in detectors if isinstance(d, SeasonalDetector)), None)
        self.run = np.zeros(self.n, dtype=np.int32)

    def step(self, t: FloatArray, x: FloatArray, learnable: BoolArray | None = None) -> Step:
        """Score the tick, then learn from what was not flagged; returns the scores.

        ``learnable`` (optional) withholds more points from learning, such as rows whose
        timestamp arrived out of order.
        """
        comp = self.seasonal.component(t) if self.seasonal is not None else None
        xs = x - comp if comp is not None else x
        inputs = [xs if d.deseasonalized else x for d in self.detectors]
        frames = [d.observe(t, xi) for d, xi in zip(self.detectors, inputs, strict=True)]
        if comp is not None:
            frames = [
                _shifted(f, comp) if d.deseasonalized else f
                for d, f in zip(self.detectors, frames, strict=True)
            ]
        ps = np.stack(
            [
                ndtr(-f.stat) if d.self_calibrated else c.p_value(f.stat)
                for d, c, f in zip(self.detectors, self.calibrators, frames, strict=True)
            ]
        )
        ps = np.where(np.isnan(ps), 1.0, ps)
        voters = np.maximum((ps < 1.0).sum(axis=0), 1)
        winner = np.argmin(ps, axis=0)
        cols = np.arange(self.n)
        p = np.minimum(ps[winner, cols] * voters, 1.0)
        score = score_from_p(p)
        finite: BoolArray = np.asarray(
            np.isfinite(x) if x.ndim == 1 else np.isfinite(x).any(axis=1)
        )
        flagged = (score >= self.threshold) & finite
        always: BoolArray = finite if learnable is None else np.asarray(finite & learnable)
        learn = always & ~flagged

        # The calibrators also see the first point of each flagged run: a deviation that
        # recurs (a sharp daily edge) must become normal, while a long incident counts once.
        onset = flagged & (self.run == 0)
        calibrate = (learn | onset) & finite
        self.run = np.where(flagged, self.run + 1, 0)
        adapted = self.run >= self.accept_after
        for det, cal, frame, xi in zip(
            self.detectors, self.calibrators, frames, inputs, strict=True
        ):
            cal.learn(frame.stat, calibrate)
            det.learn(t, xi, always if det.learns_flagged else learn)
            if adapted.any():
                det.adapt(adapted)
        self.run = np.where(adapted, 0, self.run)

        pick = [
            np.stack([getattr(f, name) for f in frames])[winner, cols]
            for name in ("kind", "expected", "lower", "upper")
        ]
        details = np.stack(
            [f.detail if f.detail is not None else np.full(self.n, np.nan) for f in frames]
        )[winner, cols]
        return Step(
            score,
            p,
            flagged,
            winner.astype(np.int8),
            pick[0].astype(np.int8),
            pick[1],
            pick[2],
            pick[3],
            details,
            adapted,
        )

    def grow(self, n: int) -> None:
        """Follow more series: new ones start untrained."""
        for d in self.detectors:
            d.grow(n)
        for c in self.calibrators:
            c.grow(n)
        self.run = np.concatenate([self.run, np.zeros(n - self.n, dtype=np.int32)])
        self.n = n

    def state_nbytes(self) -> int:
        """Bytes of state for all n series."""
        return (
            sum(d.state_nbytes() for d in self.detectors)
            + sum(c.state_nbytes() for c in self.calibrators)
            + self.run.nbytes
        )
