"""Below z0 the tail model says nothing, and a statistic of 0 is never a surprise.

Known bug (strict xfail): the tail's extrapolation below z0 can stay near the rate whatever
the statistic. A nearly constant column (SMD machine-1-2 c35: 0, and 0.5 one row in 200)
jumps by millions of its tiny scale now and then, so its tail has a scale near 1e7 and every
flat row gets p close to the rate (1e-4 to 5e-4, falling as the rate decays): 18 of SMD's
false events are two such columns "unusual at the same time" at 0. Bridging p log-linearly
from 1 at a statistic of 0 to the rate at z0 fixes it (checked: NAB and the noise figures
unchanged), but on SMD the file-level combination leans on those flat-row p-values: they
act as a floor that masks moderate two-column evidence, and without it AUC-PR fell 0.406 ->
0.377 and VUS-PR 0.356 -> 0.334 (event precision 0.505 -> 0.371, or 0.542 with the row
calibration at 2e-4). It has not landed; see the session notes. Measured again on
2026-12-04 (tenth session), after the row combination began to count every column with a
value and to join the multivariate evidence by Stouffer's method (p = max(model, rate **
(stat / z0)) below z0): NAB unchanged, SMD AUC-PR 0.411 -> 0.393, VUS-PR 0.365 -> 0.354,
event precision 0.537 -> 0.469, recall 0.590 -> 0.670. Still not the way.
"""

from __future__ import annotations

import numpy as np
import pytest

from anomalert.detect.calibrate import TailCalibrator

FLAT_ROW_BUG = (
    "calibrate: below z0 the tail's extrapolation keeps p near the rate on a tail with a huge "
    "scale, so a flat row of a nearly constant column reads as 1 in a few thousand"
)


def _nearly_constant_column(points: int = 20_000, every: int = 400) -> TailCalibrator:
    """A column that sits at one value and now and then jumps by millions of its tiny
    scale (SMD machine-1-2 c35: 0, and 0.5 one row in 200): statistics of 0, and excesses
    of about 1e8 now and then."""
    rng = np.random.default_rng(3)
    cal = TailCalibrator(n=1)
    everything = np.ones(1, dtype=bool)
    for k in range(points):
        s = 1e8 * rng.uniform(0.5, 2.0) if k % every == every - 1 else 0.0
        cal.learn(np.array([s]), everything)
    return cal


@pytest.mark.xfail(strict=True, reason=FLAT_ROW_BUG)
def test_a_flat_row_of_a_nearly_constant_column_is_not_rare() -> None:
    cal = _nearly_constant_column()
    scale = cal.tail()[1]
    rate = float(cal.exceed[0] / cal.weight[0])
    assert scale[0] > 1e7 and rate < 5e-3  # the fit that makes every flat row rare
    stats = np.array([0.0, 0.5, 1.0, 1.5, 1.99, 2.0, 2.5, 1e3, 1e7, 1e8, 1e9])
    p = np.array([float(cal.p_value(np.array([s]))[0]) for s in stats])
    assert p[0] == 1.0
    assert p[2] >= np.sqrt(rate) * 0.999  # halfway to z0, halfway to the rate (in log)
    assert np.all(np.diff(p) <= 0.0), p  # never more surprising for a smaller statistic
    assert p[5] <= rate * 1.001  # from z0 on, the tail as before
    assert p[-1] < 1e-4  # and a jump far beyond the usual ones is still rare


def test_below_z0_a_sound_tail_keeps_its_own_extrapolation() -> None:
    """Gaussian statistics: below z0, p is the fitted generalised Pareto's (exponential
    where the shape is 0). A fix of the bug above must keep this: on a sound tail the
    bridge is the smaller p-value everywhere below z0, so it must change nothing."""
    rng = np.random.default_rng(4)
    cal = TailCalibrator(n=200)
    everything = np.ones(200, dtype=bool)
    for _ in range(3000):
        cal.learn(np.abs(rng.standard_normal(200)), everything)
    shape32, scale32 = cal.tail()
    shape, scale = shape32.astype(np.float64), scale32.astype(np.float64)
    rate = (cal.exceed / cal.weight).astype(np.float64)
    heavy = shape > 1e-3
    assert 0 < heavy.sum() < 200  # both branches are checked
    for s in (0.0, 0.3, 1.0, 1.7, 1.99):
        d = s - cal.z0
        pareto = (1.0 + np.where(heavy, shape, 1.0) * d / scale) ** (
            -1.0 / np.where(heavy, shape, 1.0)
        )
        tail = np.where(heavy, pareto, np.exp(-d / scale))
        expected = np.minimum(rate * tail, 1.0)
        np.testing.assert_allclose(cal.p_value(np.full(200, s)), expected, rtol=1e-5)
