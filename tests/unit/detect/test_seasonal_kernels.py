"""The scalar helpers of the seasonal kernels give numpy's numbers, bit for bit.

The compiled loops replaced numpy passes and must keep every output and checkpoint
unchanged, so each helper is checked against the numpy call it stands for on the values
where the two could part: NaN, infinities, signed zeros, negative and huge times.
"""

from __future__ import annotations

import itertools

import numpy as np

from anomalert.detect.kernels import clip
from anomalert.detect.robust import scale_floor
from anomalert.detect.seasonal import (
    _around,
    _clip,
    _interp,
    _max,
    _min,
    _mod,
    _nan_to_num,
    _scale_floor,
)

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-310, -2.5, 1e308, -1e308]


def bits(a: object) -> bytes:
    return np.asarray(a, dtype=np.float64).tobytes()


def test_min_max_clip_match_numpy_on_nan_infinities_and_signed_zeros() -> None:
    pairs = list(itertools.product(SPECIAL, SPECIAL))
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    assert bits([_max(x, y) for x, y in pairs]) == bits(np.maximum(a, b))
    assert bits([_min(x, y) for x, y in pairs]) == bits(np.minimum(a, b))
    lim = np.abs(b)
    got = [_clip(x, -h, h) for x, h in zip(a, lim, strict=True)]
    assert bits(got) == bits(clip(a, -lim, lim))


def test_nan_to_num_and_mod_match_numpy() -> None:
    t = np.array([*SPECIAL, -86_400.0, -1e-20, 86_399.999999, 1.7e9 + 0.5, -3e5, 2.0**60])
    assert bits([_nan_to_num(v) for v in t]) == bits(np.nan_to_num(t))
    clean = np.nan_to_num(t)
    for period in (86_400.0, 7 * 86_400.0):
        assert bits([_mod(v, period) for v in clean]) == bits(np.mod(clean, period))


def test_scale_floor_matches_robust_with_and_without_resolution() -> None:
    level = np.array(SPECIAL)
    res = np.array([0.0, 1.0, 1e-3, np.nan, 5.0, 0.0, 1e-12, 2.0, 0.0, 1.0, 3.0])
    assert bits([_scale_floor(v, -np.inf) for v in level]) == bits(scale_floor(level))
    got = [_scale_floor(v, r) for v, r in zip(level, res, strict=True)]
    assert bits(got) == bits(scale_floor(level, res))


def test_interp_wraps_around_as_a_modulo_does() -> None:
    for bins in (24, 96, 168):
        for pos in (0.0, 0.25, 0.5, 0.75, 1.0, bins - 0.5, bins - 0.25, float(bins), bins + 0.7):
            i0, i1, w = _interp(bins, pos)
            lo = np.floor(pos - 0.5)
            assert (i0, i1) == (int(lo) % bins, (int(lo) + 1) % bins)
            assert w == (pos - 0.5) - lo
            assert _around(bins, i0, i1) == ((i0 - 1) % bins, (i1 + 1) % bins)
