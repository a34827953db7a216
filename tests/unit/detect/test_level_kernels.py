"""The compiled scale floor of the detectors gives numpy's numbers, bit for bit.

The detectors' kernels call ``robust.floor_of`` once per series in place of
``scale_floor``'s array passes; a helper that differs on NaN, infinities or signed zeros
would change scores and checkpoints only on the rare series that hit those values.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.robust import floor_of, scale_floor

_SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-9, 5e-324, 1e6]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def test_floor_of_is_scale_floor_with_and_without_a_resolution() -> None:
    level = np.array(_SPECIAL * len(_SPECIAL))
    resolution = np.repeat(_SPECIAL, len(_SPECIAL))
    alone = np.array([floor_of(float(v), -np.inf) for v in level])
    np.testing.assert_array_equal(_bits(alone), _bits(scale_floor(level)))
    raised = np.array(
        [floor_of(float(v), float(r)) for v, r in zip(level, resolution, strict=True)]
    )
    np.testing.assert_array_equal(_bits(raised), _bits(scale_floor(level, resolution)))
