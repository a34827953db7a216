"""Turn a detector's raw surprise into a score whose meaning is the same on every series.

Why: a 4σ residual is rare on a calm series and routine on a bursty one, so a fixed cut on
raw statistics pages too often on some series and never on others. Following the
peaks-over-threshold idea of extreme value theory (Siffer et al., KDD 2017, "SPOT"), each
series keeps, per detector, the rate at which its statistic exceeds ``z0`` and the first
two moments of the excess above it; the tail above ``z0`` is a generalised Pareto whose
shape and scale come from those moments, so the probability of a value this surprising is

    p(stat) = rate * (1 + shape * (stat - z0) / scale) ** (-1 / shape)     (capped at 1)

(exponential when the shape is 0). A bursty series (tweets, ad clicks) earns a heavy tail
and must deviate much further before it pages than a calm one.

The estimates start from a Gaussian prior worth ``prior_weight`` points, decay with a
half-life of ``half_life`` learned points, and are only fed points the caller did not flag,
so an incident does not fatten the tail it is judged against. ``scale`` has a floor: a tail
learned from a few calm weeks must not become so thin that the first small wobble pages.
The shape is capped (``max_shape``) so that a very bursty series can still page at all.

The score is ``1 - p ** 0.25``: p = 1e-4 (one point in 10,000 of the series' own normal
behaviour) maps to 0.90, p = 1e-6 to 0.97, and p = 0.5 to 0.16.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray, FloatArray

SCORE_POWER = 0.25


def score_from_p(p: FloatArray) -> FloatArray:
    """Map tail probabilities to scores in [0, 1] (NaN stays NaN)."""
    return 1.0 - np.power(np.clip(p, 0.0, 1.0), SCORE_POWER)


def p_from_score(score: float) -> float:
    """The tail probability a score stands for (inverse of ``score_from_p``)."""
    return float((1.0 - score) ** (1.0 / SCORE_POWER))


class TailCalibrator(ArrayState):
    """Per-series generalised-Pareto tail model of one detector's statistic."""

    def __init__(
        self,
        n: int = 1,
        z0: float = 2.0,
        prior_rate: float = 0.0455,
        prior_scale: float = 0.45,
        prior_weight: float = 200.0,
        half_life: float = 20_000.0,
        min_scale: float = 0.4,
        max_shape: float = 0.25,
    ) -> None:
        self.n = n
        self.z0 = z0
        self.prior_rate = prior_rate
        self.prior_scale = prior_scale
        self.prior_weight = prior_weight
        self.half_life = half_life
        self.min_scale = min_scale
        self.max_shape = max_shape
        self.decay = np.float32(0.5 ** (1.0 / half_life))
        self.weight = np.full(n, prior_weight, dtype=np.float32)
        self.exceed = np.full(n, prior_weight * prior_rate, dtype=np.float32)
        self.excess = np.full(n, prior_weight * prior_rate * prior_scale, dtype=np.float32)
        # Second moment of the excess; the exponential prior has variance scale**2.
        self.excess_sq = np.full(
            n, prior_weight * prior_rate * 2 * prior_scale**2, dtype=np.float32
        )

    def p_value(self, stat: FloatArray) -> FloatArray:
        """Probability, under this series' own history, of a statistic at least this large."""
        rate = self.exceed / self.weight
        shape, scale = self.tail()
        y = stat - self.z0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            heavy = rate * np.power(
                np.maximum(1.0 + shape * y / scale, 1e-12), -1.0 / np.maximum(shape, 1e-6)
            )
            light = rate * np.exp(-y / scale)
            p = np.where(shape > 1e-3, heavy, light)
        return np.minimum(np.where(np.isnan(stat), np.nan, p), 1.0)

    def tail(self) -> tuple[FloatArray, FloatArray]:
        """Generalised Pareto shape and scale of the excess, by the method of moments.

        The shape is held in [0, ``max_shape``]: never lighter than exponential (a tail that
        looks bounded after a calm month is not), never so heavy that nothing can page.
        """
        k = np.maximum(self.exceed, 1e-9)
        m = self.excess / k
        v = np.maximum(self.excess_sq / k - m * m, 1e-12)
        ratio = m * m / v
        shape = np.clip(0.5 * (1.0 - ratio), 0.0, self.max_shape)
        scale = np.maximum(0.5 * m * (1.0 + ratio), self.min_scale)
        return shape, scale

    def learn(self, stat: FloatArray, mask: BoolArray) -> None:
        """Fold the statistics of unflagged, finite points into the tail estimate."""
        m = mask & np.isfinite(stat)
        if not m.any():
            return
        d = self.decay
        s = np.where(m, stat, 0.0)
        self.weight = np.where(m, self.weight * d + 1.0, self.weight).astype(np.float32)
        self.exceed = np.where(m, self.exceed * d + (s > self.z0), self.exceed).astype(np.float32)
        over = np.maximum(s - self.z0, 0.0)
        self.excess = np.where(m, self.excess * d + over, self.excess).astype(np.float32)
        self.excess_sq = np.where(m, self.excess_sq * d + over * over, self.excess_sq).astype(
            np.float32
        )
