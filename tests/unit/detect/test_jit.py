"""The compiled loops' scalar helpers give numpy's numbers, bit for bit.

The kernels call ``jit.maximum``/``minimum``/``clip`` once per series in place of numpy's
array passes; a helper that differed on NaN, infinities or signed zeros would change
scores and checkpoints only on the rare series that hit those values.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from anomalert.detect.jit import clip, maximum, minimum

SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-9, 5e-324, 1e308, -2.5]


def bits(a: object, dtype: type = np.float64) -> bytes:
    return np.asarray(a, dtype=dtype).tobytes()


def test_maximum_minimum_and_clip_are_numpys_on_every_special_pair() -> None:
    pairs = list(itertools.product(SPECIAL, SPECIAL))
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    assert bits([maximum(x, y) for x, y in pairs]) == bits(np.maximum(a, b))
    assert bits([minimum(x, y) for x, y in pairs]) == bits(np.minimum(a, b))
    lim = np.abs(b)
    got = [clip(x, -h, h) for x, h in zip(a, lim, strict=True)]
    assert bits(got) == bits(np.clip(a, -lim, lim))


def test_maximum_and_minimum_keep_float32_values_float32() -> None:
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-45, 3e38, -2.5]
    pairs = list(itertools.product(special, special))
    a = np.array([p[0] for p in pairs], dtype=np.float32)
    b = np.array([p[1] for p in pairs], dtype=np.float32)
    got = [maximum(x, y) for x, y in zip(a, b, strict=True)]
    assert bits(got, np.float32) == bits(np.maximum(a, b), np.float32)
    got = [minimum(x, y) for x, y in zip(a, b, strict=True)]
    assert bits(got, np.float32) == bits(np.minimum(a, b), np.float32)


def test_the_warm_up_compiles_every_kernel(tmp_path: Path) -> None:
    """``make`` runs ``compile_kernels`` once after installing so that no first run pays
    for compiling; a kernel it does not reach would be compiled at its first use instead.

    In a fresh process with an empty cache (a kernel loaded from the cache does not load
    the helpers compiled into it, so only a real compile shows every kernel).
    """
    code = (
        "from anomalert.detect.engine import compile_kernels\n"
        "from anomalert.detect.jit import KERNELS\n"
        "compile_kernels()\n"
        "print(sorted(k.py_func.__qualname__ for k in KERNELS if not k.signatures))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
