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
and out on every call, which made a loop slower than numpy's passes; a helper that must
take one is inlined into its callers (``inlined``). float16 state is read and written
through its bits (``half_to_float``, ``float_to_half``: numba has no float16). ``cache=True``
keeps the machine code beside the module (``__pycache__``), so only the first process after
an install compiles. (The cache is checked against each module's own file only: after
editing a helper, delete the ``*.nbi``/``*.nbc`` files of the modules that call it.)
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


def inlined(fn: F) -> F:
    """``kernel`` for a helper that takes an array, inlined into the kernels that call it
    (in Numba's IR): called, each call paid the array's reference count in and out (the
    flatline kernel, walking back through the ring twice per series, ran 2.5 times
    slower). Not in ``KERNELS``: it is only ever compiled as part of its callers."""
    compiled = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn)
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


@kernel
def half_to_float(h: int) -> float:
    """The value of a float16 given by its bits (numba reads no float16 arrays: a loop
    reads them through a ``uint16`` view); exact, as numpy's cast."""
    b = np.uint64(h)
    sign = (b & np.uint64(0x8000)) << np.uint64(48)
    e = (b >> np.uint64(10)) & np.uint64(0x1F)
    m = b & np.uint64(0x3FF)
    if e == 0:  # zero and the subnormals: m * 2**-24, exact
        v = float(m) * 5.9604644775390625e-08
        return -v if sign else v
    if e == 31:  # inf, NaN
        bits = sign | np.uint64(0x7FF0000000000000) | (m << np.uint64(42))
    else:
        bits = sign | ((e + np.uint64(1008)) << np.uint64(52)) | (m << np.uint64(42))
    return np.uint64(bits).view(np.float64)


@kernel
def float_to_half(x: float) -> np.uint16:
    """The bits of the float16 nearest ``x`` (ties to even; past 65,504 inf), as numpy's
    cast rounds (``npy_doublebits_to_halfbits``: the same steps on the float64's bits).
    Checked against numpy on every float16, the midpoints between them and their
    neighbours, and millions of random values (``tests/unit/detect/test_jit_half.py``)."""
    d = np.float64(x).view(np.uint64)
    sign = np.uint16((d >> np.uint64(48)) & np.uint64(0x8000))
    exp = d & np.uint64(0x7FF0000000000000)
    sig = d & np.uint64(0x000FFFFFFFFFFFFF)
    if exp >= np.uint64(0x40F0000000000000):  # inf, NaN, or past the largest float16
        if exp == np.uint64(0x7FF0000000000000) and sig != 0:
            nan = np.uint16(0x7C00 + (sig >> np.uint64(42)))
            return sign + (nan + np.uint16(1) if nan == 0x7C00 else nan)
        return sign + np.uint16(0x7C00)
    if exp <= np.uint64(0x3F00000000000000):  # a subnormal float16 or zero
        if exp < np.uint64(0x3E60000000000000):
            return sign
        e = exp >> np.uint64(52)
        sig = (np.uint64(0x0010000000000000) + sig) << (e - np.uint64(998))
        if (sig & np.uint64(0x003FFFFFFFFFFFFF)) != np.uint64(0x0010000000000000):
            sig += np.uint64(0x0010000000000000)
        return sign + np.uint16(sig >> np.uint64(53))
    # A significand rounded up past its top carries into the exponent (30 into inf).
    h_exp = np.uint16((exp - np.uint64(0x3F00000000000000)) >> np.uint64(42))
    if (sig & np.uint64(0x000007FFFFFFFFFF)) != np.uint64(0x0000020000000000):
        sig += np.uint64(0x0000020000000000)
    return sign + h_exp + np.uint16(sig >> np.uint64(42))
