"""Robust exponentially weighted location and scale, shared by the level-tracking detectors.

Why Huber-clipped updates: a plain EWMA is dragged by every spike; clipping each innovation
at ``k`` scales bounds how far one point can move the baseline (the streaming cousin of the
rolling median/MAD). The scale is the root mean square of clipped one-step prediction errors,
so it measures exactly what the detector divides by. During warm-up the rates are 1/count
(a running mean), so a new series needs tens of points, not hundreds, to be usable.

The per-series pieces (``robust_step``, ``floor_of``) are compiled helpers that the
detectors' kernels call once per series: one pass per tick instead of a numpy pass per
operation, with numpy's numbers (see ``jit.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.base import BoolArray, FloatArray
from anomalert.detect.jit import kernel, maximum, minimum

#: Relative floor on the scale: a constant series has no noise, so any deviation would be
#: infinitely surprising; with this floor a change of a few tenths of a percent is needed.
REL_SCALE_FLOOR = 1e-3
ABS_SCALE_FLOOR = 1e-9
#: Count a level restarts from when a shift is accepted as the new normal.
WARM_RESTART = 5.0
#: The dtype of the detectors' point counts: whole numbers, exact in float32 up to 2**24
#: (16.8 million points: 194 days at one second), past which a count stops growing, and a
#: count only sets warm-up rates (1 / count) that long since reached their floor. Half
#: the bytes of float64, in the per-series budget (``docs/measurements.md``).
COUNT = np.float32
CountArray = NDArray[np.float32]
#: Innovations are clipped at this many spreads (Huber's k) ...
HUBER_K = 3.0
#: ... once a series has more than this many points (its first point is never clipped).
WARMUP = 10.0


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


@kernel
def floor_of(level: float, resolution: float) -> float:
    """``scale_floor`` of one series' level, raised to its ``resolution`` floor (-inf where
    there is none: the same number as leaving it out, NaN included).

    Scalars only: an array argument to a helper costs a reference count in and out on
    every call, which made the detectors' loops slower than numpy's passes.
    """
    return maximum(maximum(abs(level) * REL_SCALE_FLOOR, ABS_SCALE_FLOOR), resolution)


@kernel
def huber_clip(v: float, spread: float, count: float) -> float:
    """v clipped at ``HUBER_K`` spreads, once a series has taken in more than ``WARMUP``
    points (``count`` is how many it had before v): one rule for every robust update."""
    bound = np.inf if count + 1.0 <= WARMUP else spread * HUBER_K
    return minimum(maximum(v, -bound), bound)


@kernel
def robust_step(
    level: float,
    var: float,
    count: float,
    x: float,
    sd: float,
    alpha: float,
    beta: float,
) -> tuple[float, float, float]:
    """One series' ``level``, ``var``, ``count`` after taking x in.

    ``alpha`` is the level's rate, ``beta`` the variance's; both are at least 1/count while
    the series is young. The innovation is clipped at ``HUBER_K * sd`` (``sd`` the floored
    spread of the state before x) once the series has more than ``WARMUP`` points. A series'
    first point becomes its level and its variance starts at 0.
    """
    c = count + 1.0
    first = c == 1.0
    lv = x if first else level
    rc = huber_clip(x - lv, sd, count)
    a = maximum(alpha, 1.0 / (count + 1.0))
    b = maximum(beta, 1.0 / maximum(c - 1.0, 1.0))
    new_level = a * rc + lv
    new_var = 0.0 if first else (rc * rc - var) * b + var
    return new_level, new_var, c


@kernel
def shift_levels(mask: BoolArray, delta: FloatArray, level: FloatArray, prev: FloatArray) -> None:
    """``level += where(mask, delta, 0.0)`` and the same for ``prev``, in one pass.

    (Adding 0.0 where the mask is off is kept: it turns a level of -0.0 into 0.0, as the
    numpy formulation did.)
    """
    for i in range(level.shape[0]):
        d = delta[i] if mask[i] else 0.0
        level[i] = level[i] + d
        prev[i] = prev[i] + d
