"""The detectors' point counts are float32 (``robust.COUNT``), half the bytes of float64.

Counts are whole numbers, exact in float32 up to 2**24, so a series scores exactly as it did
with float64 counts; a checkpoint from before, which holds them as float64, resumes with
float32 counts (``ArrayState.narrow``) and goes on exactly as an engine that never stopped.
"""

from __future__ import annotations

import pickle

import numpy as np

from anomalert.detect.ensemble import Ensemble
from anomalert.detect.registry import DEFAULT_UNIVARIATE, make_univariate
from anomalert.detect.robust import COUNT

T0 = 1_766_966_400.0
N = 4


def _feed(ens: Ensemble, start: int, stop: int, rng: np.random.Generator) -> list[np.ndarray]:
    scores = []
    for k in range(start, stop):
        x = 100.0 + 10.0 * np.sin(2 * np.pi * k / 1440.0) + rng.normal(0, 2, N)
        if k == 3000:
            x[1] += 40.0  # a spike to flag
        scores.append(ens.step(np.full(N, T0 + 60.0 * k), x).score.copy())
    return scores


def _narrowed(ens: Ensemble) -> dict[str, np.dtype]:
    return {f"{d.name}.{name}": getattr(d, name).dtype for d in ens.detectors for name in d.narrow}


def test_counts_are_float32_and_a_wide_checkpoint_resumes_narrow_and_identical() -> None:
    rng = np.random.default_rng(0)
    ens = Ensemble(make_univariate(DEFAULT_UNIVARIATE, N))
    _feed(ens, 0, 2900, rng)
    assert set(_narrowed(ens)) == {
        "rolling.count",
        "rolling.step_count",
        "seasonal.count",
        "level_shift.count",
    }
    assert all(dtype == COUNT for dtype in _narrowed(ens).values())
    # A checkpoint from before: the same state with float64 counts.
    wide = pickle.loads(pickle.dumps(ens))
    for d in wide.detectors:
        for name in d.narrow:
            d.__dict__[name] = getattr(d, name).astype(np.float64)
    restored = pickle.loads(pickle.dumps(wide))
    assert all(dtype == COUNT for dtype in _narrowed(restored).values())
    assert restored.state_nbytes() == ens.state_nbytes()
    state = rng.bit_generator.state
    ahead = _feed(ens, 2900, 3100, rng)
    rng.bit_generator.state = state
    resumed = _feed(restored, 2900, 3100, rng)
    assert max(float(np.nanmax(s)) for s in ahead) > 0.99  # the spike pages
    for a, b in zip(ahead, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
