"""The alerts the engine raises on a block of ticks, as detection tests count them."""

from __future__ import annotations

import numpy as np

from anomalert.detect.engine import BatchEngine


def alert_onsets(
    t: np.ndarray, x: np.ndarray, engine: BatchEngine | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Step ``x`` (ticks, series) at times ``t`` (ticks,) through ``engine`` (a default
    engine if None) and return the (tick, series) indices of every alert: the first point
    of each flagged run, as a pager sees it."""
    n = x.shape[1]
    engine = engine or BatchEngine(n)
    flagged = np.zeros(x.shape, dtype=bool)
    for k in range(t.size):
        flagged[k] = engine.step(np.full(n, t[k]), x[k]).series.flagged
    before = np.vstack([np.zeros((1, n), dtype=bool), flagged[:-1]])
    ticks, series = np.nonzero(flagged & ~before)
    return ticks, series
