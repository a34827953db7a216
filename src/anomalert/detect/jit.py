"""Compiled per-series loops for the hot path of the detectors.

Why: a tick of the batch engine over n series was a few hundred numpy calls, each a pass
over n elements; at 10,000 series the passes, not the arithmetic, were the cost (about
1.5 M point-updates per second against the 5 M target). A compiled loop does one pass per
detector and keeps each series' numbers in registers.

Every kernel keeps the exact numbers of the numpy formulation it replaces (the same
operations in the same order, float32 state rounded where numpy rounded it), so outputs
and checkpoints are unchanged; ``error_model="numpy"`` makes a division by zero give
inf/NaN as numpy does instead of raising. Two things stay numpy calls between the passes:
exp, expm1, log1p and power (numpy's vectorised ones differ from the compiled loop's libm
in the last bit now and then). The scalar helpers below give numpy's ``maximum``,
``minimum`` and ``clip`` to the loops; Python's ``max`` and ``min`` differ on NaN and on
signed zeros. Helpers take scalars only: an array argument costs a reference count in
and out on every call, which made a loop slower than numpy's passes. ``cache=True`` keeps
the machine code beside the module (``__pycache__``), so only the first process after an
install compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

F = TypeVar("F", bound=Callable[..., Any])
#: ``maximum`` and ``minimum`` serve float64 and float32 state (profiles) alike.
Real = TypeVar("Real", float, np.float32)


#: Every kernel, in the order defined: ``engine.compile_kernels`` must reach them all.
KERNELS: list[Any] = []


def kernel(fn: F) -> F:
    """Compile ``fn`` as a no-Python, GIL-free loop with numpy's float semantics."""
    compiled = numba.njit(cache=True, nogil=True, error_model="numpy")(fn)
    KERNELS.append(compiled)
    return cast(F, compiled)


@kernel
def maximum(a: Real, b: Real) -> Real:
    """``np.maximum`` of two numbers: NaN if either is, else the larger, ``b`` when equal
    (so -0.0 and 0.0 come out as numpy's do)."""
    return a if a > b or a != a else b


@kernel
def minimum(a: Real, b: Real) -> Real:
    """``np.minimum`` of two numbers (NaN if either is, ``b`` when equal)."""
    return a if a < b or a != a else b


@kernel
def clip(a: float, low: float, high: float) -> float:
    """``np.clip`` of one number: ``minimum(maximum(a, low), high)``, as numpy defines it."""
    return minimum(maximum(a, low), high)
