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
from anomalert.detect.kernels import clip, learning, young_rate

#: Relative floor on the scale: a constant series has no noise, so any deviation would be
#: infinitely surprising; with this floor a change of a few tenths of a percent is needed.
REL_SCALE_FLOOR = 1e-3
ABS_SCALE_FLOOR = 1e-9
#: Count a level restarts from when a shift is accepted as the new normal.
WARM_RESTART = 5.0


def scale_floor(level: FloatArray, resolution: FloatArray | None = None) -> FloatArray:
    """The smallest scale a series may claim (see ``REL_SCALE_FLOOR``).

    ``resolution`` (optional, per series) is the floor the data's own resolution sets
    (``Resolution.floor``): a series that moves in steps of 1 cannot claim a spread of
    0.0008 because it sat at 0 for a while.
    """
    floor = np.abs(level)
    floor *= REL_SCALE_FLOOR
    np.maximum(floor, ABS_SCALE_FLOOR, out=floor)
    if resolution is not None:
        np.maximum(floor, resolution, out=floor)
    return floor


def floored_sd(var: FloatArray, level: FloatArray) -> FloatArray:
    """``max(sqrt(var), scale_floor(level))``: the spread a detector divides by."""
    sd = np.sqrt(var)
    return np.maximum(sd, scale_floor(level), out=sd)


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
    sd: FloatArray | None = None,
    count_min: float | None = None,
) -> None:
    """Update ``level``/``var``/``count`` in place where ``mask`` holds.

    ``alpha`` is the level's rate, ``beta`` the variance's; both are at least 1/count while
    a series is young. Clipping starts after ``warmup`` points (``warmup >= 1``, so a
    series' first point is never clipped).

    ``sd`` is ``floored_sd(var, level)`` when the caller already has it (``observe`` of the
    same tick computed it from the same state); the clipping bound is ``k * sd``.
    ``count_min`` is ``count.min()`` when the caller already has it (one pass less).
    """
    w = learning(mask)
    if w is not True and not mask.any():
        return
    c_min = float(count.min()) if count_min is None else count_min
    c = count + 1.0
    # A series' first point becomes its level (r = 0); the rest are measured from the level.
    first = c == 1.0 if c_min == 0.0 else None
    lv = level if first is None else np.where(first, x, level)
    r = x - lv
    # Clip the innovation at k spreads once warm (the bound is infinite before).
    if sd is None:
        bound = floored_sd(var, level)
        bound *= k
    else:
        bound = sd * k
    if c_min + 1.0 <= warmup:
        np.copyto(bound, np.inf, where=c <= warmup)
    rc = clip(r, np.negative(bound), bound, out=r)
    # Rates of at least 1/count while young; scalars once no series is (see young_rate).
    a = young_rate(alpha, count, c_min)
    if 1.0 / max(c_min, 1.0) <= beta:
        b: float | FloatArray = beta
    else:
        b = np.maximum(beta, 1.0 / np.maximum(c - 1.0, 1.0))
    # Written in place so callers' arrays (detector state) are updated.
    step = a * rc
    np.add(step, lv, out=level, where=w)
    spread = np.square(rc, out=rc)
    spread -= var
    spread *= b
    np.add(spread, var, out=var, where=w)
    if first is not None:
        np.copyto(var, 0.0, where=first & mask)
    np.copyto(count, c, where=w)
