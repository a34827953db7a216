"""Robust exponentially weighted location and scale, shared by the level-tracking detectors.

Why Huber-clipped updates: a plain EWMA is dragged by every spike; clipping each innovation
at ``k`` scales bounds how far one point can move the baseline (the streaming cousin of the
rolling median/MAD). The scale is the root mean square of clipped one-step prediction errors,
so it measures exactly what the detector divides by. During warm-up the rates are 1/count
(a running mean), so a new series needs tens of points, not hundreds, to be usable.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import BoolArray, FloatArray

#: Relative floor on the scale: a constant series has no noise, so any deviation would be
#: infinitely surprising; with this floor a change of a few tenths of a percent is needed.
REL_SCALE_FLOOR = 1e-3
ABS_SCALE_FLOOR = 1e-9
#: Count a level restarts from when a shift is accepted as the new normal.
WARM_RESTART = 5.0


def scale_floor(level: FloatArray) -> FloatArray:
    """The smallest scale a series may claim (see ``REL_SCALE_FLOOR``)."""
    return np.maximum(np.abs(level) * REL_SCALE_FLOOR, ABS_SCALE_FLOOR)


def robust_update(
    level: FloatArray,
    var: FloatArray,
    count: FloatArray,
    x: FloatArray,
    mask: BoolArray,
    alpha: float,
    beta: float,
    k: float = 3.0,
    warmup: int = 10,
) -> None:
    """Update ``level``/``var``/``count`` in place where ``mask`` holds.

    ``alpha`` is the level's rate, ``beta`` the variance's; both are at least 1/count while
    a series is young. Clipping starts after ``warmup`` points.
    """
    if not mask.any():
        return
    c = count + 1.0
    first = c == 1.0
    lv = np.where(first, x, level)
    r = x - lv
    sd = np.sqrt(var)
    bound = np.where(c > warmup, k * np.maximum(sd, scale_floor(lv)), np.inf)
    rc = np.clip(r, -bound, bound)
    a = np.maximum(alpha, 1.0 / c)
    b = np.maximum(beta, 1.0 / np.maximum(c - 1.0, 1.0))
    new_level = lv + a * rc
    new_var = np.where(first, 0.0, var + b * (rc * rc - var))
    # Written in place so callers' arrays (detector state) are updated.
    np.copyto(level, new_level, where=mask)
    np.copyto(var, new_var, where=mask)
    np.copyto(count, c, where=mask)
