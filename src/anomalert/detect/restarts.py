"""Restarts: a deployment restarts its service's processes, and their memory starts over.

Why: a process's memory (its heap, its resident set) grows over its life and falls back to
where a fresh process sits when it restarts, at every deployment or rollback. Judged as any
other series, that fall paged some minutes after the deploy ("memory_percent has shifted
below the usual 56.7"): in the demo's four scenarios 11 of the engine's 98 false alerts,
every one 0 to 22 minutes after a deployment of its own service. The engine cannot know a
restart from the values; the service is told (a change event, ``ingest.events``).

So a change event of a restarting kind (``RESTART_KINDS``) opens a window (``window``) on
the series of its service whose metric is one a restart resets (``metrics``, shell-style
patterns). A would-be alert in such a window whose value is below what was expected is
explained: its run is quiet (``Ensemble``: the page withheld after the decision, as the
weekly routine's), and stays quiet until it ends, however long after the window that is;
the detectors learn it exactly as before (held from the baselines, accepted as the new
normal after ``accept_after`` points). A rise is not explained (a leak that comes with the
new version is news), nor a fall that begins after the window, nor a run that began before
the event's time. A fall already under way when the event arrives, which began at or after
its time, is explained from then on (``StreamDetector.expect_restart``): deployment tools
often post an event once the rollout has finished, minutes after the processes restarted,
and its alert, not yet past the policy's ``notify_after``, then resolves without a page.

The windows are per slot, few and short-lived: a dict, not a per-series array (the state
budget of two kilobytes per series holds no room for them).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

import numpy as np
from pydantic import Field, field_validator

from anomalert.configbase import Duration, StrictModel
from anomalert.detect.base import BoolArray, FloatArray, IntArray
from anomalert.ingest.counters import check_patterns

__all__ = ["RESTART_KINDS", "RestartConfig", "Restarts"]

#: Change events that restart the processes of their service.
RESTART_KINDS = frozenset({"deployment", "rollback"})


class RestartConfig(StrictModel):
    """``detection.restarts``: which metrics a deployment's restart resets, and for how long
    a fall of theirs after it is the restart's."""

    #: Metric names (shell-style patterns) a restart sets back: a fresh process's memory.
    #: Empty: no fall is explained.
    metrics: tuple[str, ...] = ("*memory*", "*heap*", "*rss*", "*resident*")
    #: How long after the event a fall may begin and still be the restart's.
    window: Duration = Field(default=3600.0, gt=0.0)

    @field_validator("metrics")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_patterns(value)

    def resets(self, metric: str) -> bool:
        """Whether a restart sets this metric back."""
        return any(fnmatchcase(metric, p) for p in self.metrics)


class Restarts:
    """The open restart windows, by series slot: (start, end, held) of each, in sample
    time; ``held``: its series is in a quiet run, which keeps the window open past its end
    until the run ends."""

    def __init__(self) -> None:
        self.windows: dict[int, tuple[float, float, bool]] = {}

    def open(
        self,
        service: str,
        start: float,
        config: RestartConfig,
        series: Iterable[tuple[str, str]],
    ) -> list[int]:
        """A deployment (or rollback) of ``service`` at ``start`` restarted its processes:
        open a window of ``config.window`` on each of ``series`` (by slot: its service and
        metric) of that service whose metric a restart resets. Returns their slots."""
        slots = [
            j
            for j, (svc, metric) in enumerate(series)
            if svc == service and metric and config.resets(metric)
        ]
        self.expect(slots, start, start + config.window)
        return slots

    def expect(self, slots: Iterable[int], start: float, end: float) -> None:
        """Open a window on these slots (a later one replaces an earlier one; the same one
        again, as after a restart of the service, keeps its run)."""
        for j in slots:
            old = self.windows.get(int(j))
            held = old is not None and old[0] == start and old[1] == end and old[2]
            self.windows[int(j)] = (start, end, held)

    def mask(self, t: FloatArray, slots: IntArray | None = None) -> BoolArray | None:
        """Which series are in a window at their time ``t`` (by slot, or by position in
        ``slots``, a sorted part of them); None: none is."""
        if not self.windows:
            return None
        out = np.zeros(t.size, dtype=np.bool_)
        for j, i in self._positions(t.size, slots):
            start, end, held = self.windows[j]
            if start <= t[i] and (held or t[i] <= end):
                out[i] = True
        return out if out.any() else None

    def settle(self, t: FloatArray, quiet: BoolArray, slots: IntArray | None = None) -> None:
        """After a tick: remember whether each window's series is in a quiet run
        (``quiet``), which holds the window open past its end until the run ends; close
        the windows that ended with no such run. ``t`` and ``quiet`` as in ``mask``."""
        for j, i in self._positions(t.size, slots):
            if t[i] != t[i]:  # no sample this tick: nothing known
                continue
            start, end, _ = self.windows[j]
            if t[i] > end and not quiet[i]:
                del self.windows[j]
            else:
                self.windows[j] = (start, end, bool(quiet[i]))

    def _positions(self, size: int, slots: IntArray | None) -> list[tuple[int, int]]:
        """Each window's slot and where its series sits in the tick's arrays (of ``size``):
        at its slot, or at its position in ``slots`` (sorted), where it is there at all."""
        if slots is None:
            return [(j, j) for j in self.windows if j < size]
        keys = np.fromiter(self.windows, dtype=np.intp, count=len(self.windows))
        at = np.searchsorted(slots, keys)
        there = at < slots.size
        there[there] = slots[at[there]] == keys[there]
        return [(int(j), int(i)) for j, i in zip(keys[there], at[there], strict=True)]

    def forget(self, slots: Iterable[int]) -> None:
        """Drop the windows of retired slots (a new series takes the slot)."""
        for j in slots:
            self.windows.pop(int(j), None)
