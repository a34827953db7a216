"""Flap detection: an alert that keeps firing and resolving is one problem, not many.

Each firing<->resolved transition of an alert (by fingerprint) is counted over a sliding
``window``. When a resolve would be the ``max_transitions``-th transition in that window,
the policy holds the alert open instead (annotation ``flapping=true``) and lets it go only
after ``hold`` of calm; a re-fire during the hold continues the same alert. People get
one page for a flapping signal instead of one per flap.

>>> c = FlapCounter(FlappingConfig(window=3600, max_transitions=3))
>>> [c.record("a", t) for t in (0, 600, 1200)], c.record("a", 5000)
([1, 2, 3], 1)
"""

from __future__ import annotations

from collections import deque

from pydantic import Field

from anomalert.configbase import Duration, StrictModel


class FlappingConfig(StrictModel):
    """When an alert counts as flapping and how long a flapping alert is held open."""

    window: Duration = Field(default=3600.0, gt=0)
    max_transitions: int = Field(default=4, ge=2)
    hold: Duration = 1800.0


class FlapCounter:
    """Recent transition times per fingerprint, bounded by the window."""

    def __init__(self, config: FlappingConfig) -> None:
        self.config = config
        self._times: dict[str, deque[float]] = {}

    def record(self, key: str, now: float) -> int:
        """Count a transition of ``key`` at ``now``; returns the transitions in the window."""
        times = self._times.setdefault(key, deque())
        times.append(now)
        self._expire(times, now)
        return len(times)

    def count(self, key: str, now: float) -> int:
        """Transitions of ``key`` within the window ending at ``now``."""
        times = self._times.get(key)
        if times is None:
            return 0
        self._expire(times, now)
        return len(times)

    def reaches_limit(self, count: int) -> bool:
        """Whether ``count`` transitions in the window make an alert flapping."""
        return count >= self.config.max_transitions

    def forget(self, now: float) -> None:
        """Drop fingerprints whose transitions all left the window (keeps memory bounded)."""
        for key in [k for k, times in self._times.items() if self._expire(times, now) == 0]:
            del self._times[key]

    def _expire(self, times: deque[float], now: float) -> int:
        while times and times[0] <= now - self.config.window:
            times.popleft()
        return len(times)

    def state(self) -> dict[str, list[float]]:
        """Plain state for snapshots."""
        return {k: list(v) for k, v in self._times.items()}

    def load(self, state: dict[str, list[float]]) -> None:
        """Restore what :meth:`state` returned."""
        self._times = {k: deque(v) for k, v in state.items()}
