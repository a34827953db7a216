"""The resolution of a series' values: the smallest step it takes, a floor on its scale.

Why: a count series that sits at 0 for hours has a robust scale of about nothing, so a
value of 1 would be hundreds of sigmas above its level, although 1 is the smallest move
such data can make at all. The data's resolution (the quantum its values move in: 1 for
counts, 0.01 for a percentage with two decimals) bounds how precise any baseline of it can
claim to be, so it floors the scale of every level-based detector: a move of a quantum or
two is never many sigmas, a burst of tens of quanta still is.

The estimate is causal and cheap (two arrays and a flag per series, a few passes per tick):

* the smallest non-zero absolute difference between consecutive values seen so far; for
  continuous data it soon becomes tiny and the floor does nothing;
* while every value so far, the one being scored included, is a whole number, the quantum
  is at most 1 (a count): so the first count off a flat zero is already judged in counts,
  while a first move to 0.05 of a rate that sat at 0 is judged as before (no floor).

It is estimated on the raw values (the ensemble's input): a deseasonalised input is no
longer on the data's grid.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.jit import kernel, minimum

#: The scale floor as a share of the quantum: one quantum is one sigma, so a count of 1-3
#: off a flat zero is 1-3 sigmas (what a Poisson count's spread of about one count near
#: its first few units says), while a burst of tens of counts is tens. (On NAB, 0.5 and 2
#: were tried too: 0.5 lets more single-count blips page, 2 starts missing real windows.)
QUANTUM_SHARE = 1.0


@kernel
def _floors_of(quantum: float, share: float) -> tuple[float, float]:
    """One series' floor from the steps alone (0 while no step was seen), and with a
    count's quantum of 1 as well."""
    step = quantum * share
    return 0.0 if np.isinf(step) else step, minimum(quantum, 1.0) * share


@kernel
def _floors(quantum: FloatArray, share: float) -> tuple[FloatArray, FloatArray]:
    """``_floors_of`` for every series."""
    n = quantum.shape[0]
    steps = np.empty(n)
    counts = np.empty(n)
    for i in range(n):
        steps[i], counts[i] = _floors_of(quantum[i], share)
    return steps, counts


@kernel
def _floor(x: FloatArray, integral: BoolArray, steps: FloatArray, counts: FloatArray) -> FloatArray:
    """The count's floor where x and every value before it are whole numbers, else the
    steps' floor."""
    n = x.shape[0]
    floor = np.empty(n)
    for i in range(n):
        floor[i] = counts[i] if integral[i] and np.rint(x[i]) == x[i] else steps[i]
    return floor


@kernel
def _learn(
    x: FloatArray,
    mask: BoolArray,
    prev: FloatArray,
    quantum: FloatArray,
    integral: BoolArray,
    share: float,
) -> tuple[bool, FloatArray, FloatArray, bool]:
    """Take the values x where ``mask`` holds, in place. Returns whether a quantum or an
    integral flag changed, and the floors of the new state (``_floors``, and whether any
    series is still all whole numbers), in the same pass: continuous data finds a new
    smallest step on some series nearly every tick."""
    n = x.shape[0]
    steps = np.empty(n)
    counts = np.empty(n)
    changed = False
    any_integral = False
    for i in range(n):
        if mask[i]:
            xi = x[i]
            step = abs(xi - prev[i])
            if step < quantum[i] and step > 0.0:  # NaN (no previous value, x missing) is not
                quantum[i] = step
                changed = True
            if integral[i] and np.rint(xi) != xi:
                integral[i] = False
                changed = True
            prev[i] = xi
        steps[i], counts[i] = _floors_of(quantum[i], share)
        any_integral |= integral[i]
    return changed, steps, counts, any_integral


class Resolution(ArrayState):
    """Per series, the smallest non-zero step between consecutive values seen so far.

    ``learn`` and ``floor`` are compiled passes (``_learn``, ``_floor``); the floors derived
    from the state are kept until a learn changes it, so ``floor`` gives the same array
    from tick to tick while nothing changed and the detectors keep what they derived
    from it.
    """

    def __init__(self, n: int = 1, share: float = QUANTUM_SHARE) -> None:
        self.n = n
        self.share = share
        self.prev = np.full(n, np.nan)
        self.quantum = np.full(n, np.inf)
        self.integral = np.ones(n, dtype=bool)  # every value so far a whole number

    def _compute_floors(self) -> tuple[FloatArray, FloatArray, bool]:
        """The floor from the steps alone, with a count's quantum of 1 as well, and whether
        any series is still all whole numbers (else the second is never used)."""
        steps, counts = _floors(self.quantum, float(self.share))
        return steps, counts, bool(self.integral.any())

    def floor(self, x: FloatArray) -> FloatArray:
        """The scale floor the resolution sets for scoring x (0 where nothing is known).

        The same array from tick to tick while no series has counts and no quantum
        changed, so the detectors keep what they derived from it.
        """
        steps, counts, any_integral = self._cached("floors", self._compute_floors)
        if not any_integral:
            return steps
        return _floor(x, self.integral, steps, counts)

    def learn(self, x: FloatArray, mask: BoolArray) -> None:
        """Take the finite values x where ``mask`` holds."""
        changed, steps, counts, any_integral = _learn(
            x, mask, self.prev, self.quantum, self.integral, float(self.share)
        )
        if changed:
            # New floors are new arrays, so the detectors notice (see ``floor``).
            self._forget()
            self._caches()["floors"] = (steps, counts, any_integral)
