"""A series whose noise has grown lately: its would-be alerts count in the recent noise.

Why: the seasonal detector's residual variance remembers a day (``seasonal``), and its flagged
points are not learned, so when a series' noise lastingly grows (a scrape interval shortened
on a rate metric: a rate over 15 s is twice as noisy as over 60 s; a noisier neighbour), its
statistic runs large for hours while the variance catches up, and the seasonal detector,
which holds half the error budget on a periodic series, pages on ordinary points of the new
noise. Measured (``docs/measurements.md``, thirtieth session; 24 one-minute daily series
whose noise doubles after three weeks): 41 alerts in the next 24 hours, most in the first
three, where the same series without the change raised none.

So each series keeps how large its seasonal statistic has run lately, above and below the
expectation apart: an exponentially weighted mean of the squared statistic (clipped at
``CLIP``) on each side, over about ``MEMORY`` points. Calm, each side holds about half the
model's variance in statistic units (0.5). The noise has grown when **both** sides run large
(twice the smaller over ``GATE``): an incident, a ramp or a level shift pushes one side
only, and a single spike moves one side by at most ``CLIP / MEMORY``. While it has, a would-be
alert that the seasonal detector raised is judged again with its statistic in the recent
noise (divided by the square root of the two sides' sum, the recent mean square) and the
page is withheld when it is no longer one (``Ensemble._quieten``, as the weekly routine's:
after the decision, so every detector and tail learns exactly what it learned before; a
noisier regime is taught to the baselines by their own pace, not hidden from them).

Read before it learns the tick (causal). State: two float16 per series (4 bytes).
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.jit import float_to_half, half_to_float, kernel, minimum

#: Points the recent mean square remembers (its rate is one over this).
MEMORY = 30.0
#: Squared statistics are clipped here before they are learned (5 sds).
CLIP = 25.0
#: Both sides must have run this large (twice the smaller side's mean square) for the noise
#: to count as grown; calm Gaussian noise gives about 1, with the estimate's wobble.
GATE = 1.3
#: A calm side: half the model's variance, in statistic units.
CALM = 0.5


class NoiseLevel(ArrayState):
    """Per series, the recent mean square of the seasonal statistic above and below the
    expectation (``side[0]``, ``side[1]``)."""

    series_last = ("side",)

    def __init__(self, n: int = 1) -> None:
        self.n = n
        self.side = np.full((2, n), CALM, dtype=np.float16)

    def grown(self, idx: np.ndarray) -> FloatArray:
        """The recent mean square of series ``idx`` where their noise has grown (both
        sides large), else 1 (nothing to discount)."""
        up = self.side[0, idx].astype(np.float64)
        down = self.side[1, idx].astype(np.float64)
        return np.where(2.0 * np.minimum(up, down) > GATE, np.maximum(up + down, 1.0), 1.0)

    def learn(self, stat: FloatArray, above: BoolArray) -> None:
        """Learn this tick's seasonal statistics (``above``: the value was at or above the
        expectation); a NaN statistic (no value, warming up) teaches nothing."""
        _learn(self.side.view(np.uint16), stat, above, CLIP, MEMORY)


@kernel
def _learn(
    side: np.ndarray, stat: FloatArray, above: BoolArray, clip: float, memory: float
) -> None:
    """``NoiseLevel.learn`` in one pass, on the float16 sides' bits (``side``): each side
    in float64 and rounded back, as numpy's casts did (a pass of casts each way took most of
    the detector's time: 1 ms a tick at 10,000 series)."""
    for i in range(stat.shape[0]):
        sq = minimum(stat[i] * stat[i], clip)  # a garbage value's square: inf, clipped
        if sq != sq:
            continue  # NaN: no value, warming up
        up = sq if above[i] else 0.0
        s0 = half_to_float(side[0, i])
        s1 = half_to_float(side[1, i])
        s0 += (up - s0) / memory
        s1 += (sq - up - s1) / memory
        side[0, i] = float_to_half(s0)
        side[1, i] = float_to_half(s1)
