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

#: The scale floor as a share of the quantum: one quantum is one sigma, so a count of 1-3
#: off a flat zero is 1-3 sigmas (what a Poisson count's spread of about one count near
#: its first few units says), while a burst of tens of counts is tens. (On NAB, 0.5 and 2
#: were tried too: 0.5 lets more single-count blips page, 2 starts missing real windows.)
QUANTUM_SHARE = 1.0


class Resolution(ArrayState):
    """Per series, the smallest non-zero step between consecutive values seen so far."""

    def __init__(self, n: int = 1, share: float = QUANTUM_SHARE) -> None:
        self.n = n
        self.share = share
        self.prev = np.full(n, np.nan)
        self.quantum = np.full(n, np.inf)
        self.integral = np.ones(n, dtype=bool)  # every value so far a whole number

    def _floors(self) -> tuple[FloatArray, FloatArray, bool]:
        """The floor from the steps alone, with a count's quantum of 1 as well, and whether
        any series is still all whole numbers (else the second is never used)."""
        return self._cached("floors", self._compute_floors)

    def _compute_floors(self) -> tuple[FloatArray, FloatArray, bool]:
        steps = self.quantum * self.share
        np.copyto(steps, 0.0, where=np.isinf(steps))
        counts = np.minimum(self.quantum, 1.0)
        counts *= self.share
        return steps, counts, bool(self.integral.any())

    def _refloor(self, finer: BoolArray | None, integral_changed: bool) -> None:
        """Bring the cached floors up to date after a learn, or drop them.

        Continuous data finds a new smallest step on some series nearly every tick: the
        floors of those few series are recomputed (the same operations, on a gather)
        instead of every series'. The floors are new arrays, so the detectors notice.
        """
        old: tuple[FloatArray, FloatArray, bool] | None = self._caches().get("floors")
        self._forget()
        if old is None:
            return
        steps, counts, any_integral = old
        if finer is not None:
            idx = np.flatnonzero(finer)
            quantum = self.quantum[idx]
            new_steps = quantum * self.share
            np.copyto(new_steps, 0.0, where=np.isinf(new_steps))
            steps = steps.copy()
            steps[idx] = new_steps
            new_counts = np.minimum(quantum, 1.0)
            new_counts *= self.share
            counts = counts.copy()
            counts[idx] = new_counts
        if integral_changed:
            any_integral = bool(self.integral.any())
        self._caches()["floors"] = (steps, counts, any_integral)

    def floor(self, x: FloatArray) -> FloatArray:
        """The scale floor the resolution sets for scoring x (0 where nothing is known).

        The same array from tick to tick while no series has counts and no quantum
        changed, so the detectors keep what they derived from it.
        """
        steps, counts, any_integral = self._floors()
        if not any_integral:
            return steps
        whole = np.round(x) == x
        whole &= self.integral
        return np.where(whole, counts, steps)

    def learn(self, x: FloatArray, mask: BoolArray) -> None:
        """Take the finite values x where ``mask`` holds."""
        step = x - self.prev
        np.abs(step, out=step)
        finer = step < self.quantum  # NaN (no previous value, or x missing) is not
        finer &= step > 0.0
        everything = bool(mask.all())
        if not everything:
            finer &= mask
        finer_any = bool(finer.any())
        if finer_any:
            np.copyto(self.quantum, step, where=finer)
        integral_changed = False
        if self._floors()[2]:
            whole = np.round(x) == x
            if not everything:
                whole |= ~mask
            if not whole.all():
                self.integral &= whole
                integral_changed = True
        if finer_any or integral_changed:
            self._refloor(finer if finer_any else None, integral_changed)
        np.copyto(self.prev, x, where=mask)
