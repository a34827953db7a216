"""The scalar helpers of the seasonal kernels give numpy's numbers, bit for bit.

The compiled loops replaced numpy passes and must keep every output and checkpoint
unchanged, so each helper is checked against the numpy call it stands for on the values
where the two could part: NaN, infinities, signed zeros, negative and huge times.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.seasonal import (
    _around,
    _interp,
    _mod,
    _nan_to_num,
)

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-310, -2.5, 1e308, -1e308]


def bits(a: object) -> bytes:
    return np.asarray(a, dtype=np.float64).tobytes()


def test_nan_to_num_and_mod_match_numpy() -> None:
    t = np.array([*SPECIAL, -86_400.0, -1e-20, 86_399.999999, 1.7e9 + 0.5, -3e5, 2.0**60])
    assert bits([_nan_to_num(v) for v in t]) == bits(np.nan_to_num(t))
    clean = np.nan_to_num(t)
    for period in (86_400.0, 7 * 86_400.0):
        assert bits([_mod(v, period) for v in clean]) == bits(np.mod(clean, period))


def test_interp_wraps_around_as_a_modulo_does() -> None:
    for bins in (24, 96, 168):
        for pos in (0.0, 0.25, 0.5, 0.75, 1.0, bins - 0.5, bins - 0.25, float(bins), bins + 0.7):
            i0, i1, w = _interp(bins, pos)
            lo = np.floor(pos - 0.5)
            assert (i0, i1) == (int(lo) % bins, (int(lo) + 1) % bins)
            assert w == (pos - 0.5) - lo
            assert _around(bins, i0, i1) == ((i0 - 1) % bins, (i1 + 1) % bins)
