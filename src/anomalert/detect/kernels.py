"""Small array helpers for the per-tick hot path of the detectors.

A tick of the batch engine is a few hundred numpy calls over arrays of n series, so what it
costs is the number of passes over memory, not arithmetic. These helpers remove passes that
the plain formulation pays on every tick although they only matter on a few: a masked merge
``state = np.where(mask, new, state)`` when every series learns (the usual tick), or a
patch for warming-up series once none is. Each keeps the exact numbers of the plain
formulation: they only choose which elements are computed or kept, never how.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import BoolArray, FloatArray

#: A ufunc ``where=``: True (every element) or a mask.
Where = BoolArray | bool


def learning(mask: BoolArray) -> Where:
    """The ``where=`` that updates state in place for the series in ``mask``.

    ``np.add(a, b, out=state, where=learning(mask))`` is ``state = np.where(mask, a + b,
    state)`` without the merge pass and the temporary; on the usual tick every series
    learns and the ufunc runs unmasked.
    """
    return True if mask.all() else mask


def patch(arr: np.ndarray, value: float, where: BoolArray) -> None:
    """``arr[where] = value``, skipped when ``where`` selects nothing (the usual tick)."""
    if where.any():
        np.copyto(arr, value, where=where)


def young_rate(rate: float, count: FloatArray, count_min: float) -> float | FloatArray:
    """``np.maximum(rate, 1.0 / (count + 1.0))``: at least 1/count while a series is young.

    ``count_min`` is ``count.min()``, whose 1/(count + 1) is the largest; once even that is
    below ``rate``, every series is past its warm-up and the rate is the scalar itself (the
    same numbers, without two passes per call).
    """
    if 1.0 / (count_min + 1.0) <= rate:
        return rate
    return np.maximum(rate, 1.0 / (count + 1.0))


def clip(
    a: FloatArray,
    low: FloatArray | float,
    high: FloatArray | float,
    out: FloatArray | None = None,
) -> FloatArray:
    """``np.clip(a, low, high, out=out)`` as ``minimum(maximum(a, low), high)``.

    The definition numpy gives for clip, in two vectorised passes that take about half the
    time of its clip loop; the numbers are the same, NaN, infinities and signed zeros
    included (checked bitwise on every combination of them).
    """
    out = np.maximum(a, low, out=out)
    return np.minimum(out, high, out=out)


#: Largest block whose release still raises glibc's thresholds (DEFAULT_MMAP_THRESHOLD_MAX
#: on 64-bit systems is 32 MiB, page rounding included).
_MAX_HEAP_HINT = 31 << 20


def keep_freed_memory(n: int) -> None:
    """Let the C allocator reuse the memory a tick frees instead of returning it to the OS.

    Why: a tick over n series allocates and frees a few hundred bytes of temporaries per
    series (frames, caches). glibc's malloc gives the free top of its heap back to the OS
    as soon as it exceeds the trim threshold, which is twice the largest mmap-ed block
    freed so far (128 KB at start), so at 10,000 series every tick faulted about 850 pages
    back in: a quarter of its time. Freeing one mmap-ed block raises both thresholds to
    its size (the dynamic threshold of mallopt(3)); the block is never touched, so this
    costs an mmap/munmap pair once per engine. Other allocators just see an allocation.
    """
    size = min(1024 * n, _MAX_HEAP_HINT)
    if size > 1 << 20:
        np.empty(size, dtype=np.uint8)
