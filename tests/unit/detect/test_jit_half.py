"""float16 state read and written by compiled loops (``jit.half_to_float``,
``jit.float_to_half``): bit for bit numpy's casts, so a loop over float16 state keeps the
numbers (and checkpoints) the numpy passes gave."""

from __future__ import annotations

import warnings

import numba
import numpy as np

from anomalert.detect.jit import float_to_half, half_to_float
from anomalert.detect.noiselevel import CLIP, MEMORY, NoiseLevel


@numba.njit
def _to_half(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = float_to_half(x[i])


@numba.njit
def _from_half(h: np.ndarray, out: np.ndarray) -> None:
    for i in range(h.size):
        out[i] = half_to_float(h[i])


ALL_HALVES = np.arange(65536, dtype=np.uint16)


def _numpy_half_bits(x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow to inf
        return x.astype(np.float16).view(np.uint16)


def _our_half_bits(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.size, dtype=np.uint16)
    _to_half(x, out)
    return out


def test_every_float16_reads_as_numpy_casts_it() -> None:
    ours = np.empty(ALL_HALVES.size)
    _from_half(ALL_HALVES, ours)
    theirs = ALL_HALVES.view(np.float16).astype(np.float64)
    np.testing.assert_array_equal(ours.view(np.uint64), theirs.view(np.uint64))  # NaNs too


def test_every_float16_is_written_back_as_itself() -> None:
    values = ALL_HALVES.view(np.float16).astype(np.float64)
    np.testing.assert_array_equal(_our_half_bits(values), ALL_HALVES)


def test_ties_and_their_neighbours_round_as_numpy_rounds() -> None:
    """Halfway between two float16s (exact in float64) rounds to the even one; a float64
    step either side rounds to the nearer. Subnormals, the overflow edge at 65,520 and the
    underflow to zero included."""
    halves = ALL_HALVES.view(np.float16).astype(np.float64)
    finite = np.unique(halves[np.isfinite(halves)])
    mids = (finite[:-1] + finite[1:]) / 2.0
    edges = np.array([65504.0, 65519.99, 65520.0, 65536.0, 1e300, 1e-320, 2.0**-25, 2.0**-26])
    values = np.concatenate([mids, finite, edges, -edges])
    values = np.concatenate([values, np.nextafter(values, np.inf), np.nextafter(values, -np.inf)])
    np.testing.assert_array_equal(_our_half_bits(values), _numpy_half_bits(values))


def test_random_values_and_bit_patterns_round_as_numpy_rounds() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.normal(0.0, 1.0, 100_000),
            np.exp(rng.uniform(-40.0, 12.0, 100_000)) * rng.choice([-1.0, 1.0], 100_000),
            rng.integers(0, 2**64, 100_000, dtype=np.uint64).view(np.float64),  # NaNs, infs
            np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan]),
        ]
    )
    np.testing.assert_array_equal(_our_half_bits(values), _numpy_half_bits(values))


def _numpy_learn(level: NoiseLevel, stat: np.ndarray, above: np.ndarray) -> None:
    """``NoiseLevel.learn`` as numpy passes, before it was one compiled loop."""
    with np.errstate(over="ignore"):
        sq = np.minimum(stat * stat, CLIP)
    up = np.where(above, sq, 0.0)
    side = level.side.astype(np.float64)
    side[0] += (up - side[0]) / MEMORY
    side[1] += (sq - up - side[1]) / MEMORY
    np.copyto(level.side, side, casting="same_kind", where=np.isfinite(sq))


def test_the_noise_level_learns_as_the_numpy_passes_did() -> None:
    """Heavy-tailed statistics over scales from 1e-5 to 20, missing ones, garbage values,
    and series stuck at 0 (their sides decay into the subnormals)."""
    rng = np.random.default_rng(1)
    n = 2_000
    ours, theirs = NoiseLevel(n), NoiseLevel(n)
    scale = np.exp(rng.uniform(-12.0, 3.0, n))
    for _ in range(1_500):
        stat = rng.standard_t(3, n) * scale
        stat[rng.random(n) < 0.05] = np.nan
        stat[rng.random(n) < 0.002] = np.inf
        stat[rng.random(n) < 0.002] = 1e200
        stat[:20] = 0.0
        above = rng.random(n) < 0.5
        _numpy_learn(theirs, stat, above)
        ours.learn(stat, above)
        np.testing.assert_array_equal(ours.side.view(np.uint16), theirs.side.view(np.uint16))
    assert ours.side[0, 0] < np.finfo(np.float16).smallest_normal
