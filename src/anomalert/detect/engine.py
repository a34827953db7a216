"""The batch engine: many series per tick, state in arrays, one call per tick.

It is the composition of the two ensembles: one over n univariate series and, when series
come in groups of equal width (one service's metrics, one file's columns), one over the
groups for the multivariate detectors. A tick takes the values of every series at once; a
series with nothing new this tick passes NaN and is neither scored nor changed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from anomalert.detect.base import BoolArray, FloatArray
from anomalert.detect.ensemble import DEFAULT_THRESHOLD, MIN_AGE, Ensemble, Step
from anomalert.detect.localtime import Clocks, check_zone
from anomalert.detect.registry import (
    DEFAULT_MULTIVARIATE,
    DEFAULT_UNIVARIATE,
    make_multivariate,
    make_univariate,
)


@dataclass(frozen=True)
class Settings:
    """What the engine runs; the defaults are the precision-first product defaults."""

    univariate: tuple[str, ...] = DEFAULT_UNIVARIATE
    multivariate: tuple[str, ...] = DEFAULT_MULTIVARIATE
    threshold: float = DEFAULT_THRESHOLD
    accept_after: int = 30
    #: Seconds a series must have been followed before it may alert (``Ensemble``).
    min_age: float = MIN_AGE
    #: Rows of quiet needed before a new alert may fire (one episode, one alert).
    cooldown: int = 20
    seed: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    #: The time zone whose wall clock the series' days and weeks follow (an IANA name):
    #: business hours that open at 09:00 local time stay at 09:00 when clocks change.
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        check_zone(self.timezone)


@dataclass(frozen=True)
class Tick:
    """One tick's result: per series, and per group when groups exist."""

    series: Step
    groups: Step | None


class Episodes:
    """One alert per anomaly episode: a flag fires only after ``cooldown`` quiet ticks.

    A burst of high points, or high points with short gaps, is one incident to the person
    paged; every consumer of the engine's flags (``detect``, the demo) decides alerts this way.
    """

    def __init__(self, n: int, cooldown: int) -> None:
        self.cooldown = cooldown
        self.last = np.full(n, -np.inf)

    def fire(self, k: int, flagged: BoolArray) -> BoolArray:
        """Which of tick k's flags start a new episode (and so raise an alert)."""
        fire: BoolArray = flagged & (k - self.last > self.cooldown)
        self.last = np.where(flagged, k, self.last)
        return fire


def episode_starts(flagged: BoolArray, cooldown: int) -> BoolArray:
    """``Episodes.fire`` over whole histories at once: ``flagged`` is (series, ticks) and
    the result marks the flags that start an episode, as firing tick by tick would (for
    callers that have every tick's flags before deciding, such as ``detect`` on one-column
    files)."""
    flagged = np.asarray(flagged, dtype=bool)
    ticks = np.arange(flagged.shape[-1])
    # Per flag, the tick of the series' previous flag (-inf before its first).
    last = np.where(flagged, ticks, -np.inf)
    previous = np.maximum.accumulate(last, axis=-1)
    previous = np.concatenate([np.full((*flagged.shape[:-1], 1), -np.inf), previous[..., :-1]], -1)
    starts: BoolArray = flagged & (ticks - previous > cooldown)
    return starts


class BatchEngine:
    """Follow n series (and optional equal-width groups of them) tick by tick."""

    def __init__(
        self, n: int, settings: Settings | None = None, groups: np.ndarray | None = None
    ) -> None:
        self.settings = settings or Settings()
        s = self.settings
        self.n = n
        # Each ensemble its own clocks: a change of the default zone moves each one's series
        # (``Ensemble.use_local_time`` does nothing where the default is already the new one).
        self.series = Ensemble(
            make_univariate(s.univariate, n),
            s.threshold,
            s.accept_after,
            min_age=s.min_age,
            local_time=Clocks(s.timezone),
        )
        self.groups = groups
        self.group = None
        if groups is not None and groups.size and s.multivariate:
            g, dim = groups.shape
            self.group = Ensemble(
                make_multivariate(s.multivariate, g, dim, s.seed),
                s.threshold,
                s.accept_after,
                min_age=s.min_age,
                local_time=Clocks(s.timezone),
            )

    def step(
        self,
        t: FloatArray,
        x: FloatArray,
        learnable: BoolArray | None = None,
        restarting: BoolArray | None = None,
    ) -> Tick:
        """Score every series at its time t, then learn from what may be learned;
        ``restarting``: the series whose process just restarted (``restarts``)."""
        series = self.series.step(t, x, learnable, restarting)
        groups = None
        if self.group is not None and self.groups is not None:
            gx = x[self.groups]
            gt = t[self.groups[:, 0]]
            gl = None if learnable is None else learnable[self.groups].all(axis=1)
            groups = self.group.step(gt, gx, gl)
        return Tick(series, groups)

    def use_timezone(self, zone: str) -> None:
        """Follow the days and weeks of another default time zone; what was learned moves
        with the clock (``Ensemble.use_local_time``)."""
        self.settings = replace(self.settings, timezone=zone)
        self.series.use_local_time(zone)
        if self.group is not None:
            self.group.use_local_time(zone)

    def set_zones(self, idx: np.ndarray, zones: Sequence[str | None]) -> None:
        """Series ``idx`` follow the wall clocks of ``zones`` (None: the default zone's),
        not the groups: a group's clock is the default's (``Ensemble.set_zones``)."""
        self.series.set_zones(idx, zones)

    def take(self, idx: np.ndarray) -> BatchEngine:
        """An engine following only series ``idx`` (``Ensemble.take``), to step apart and
        ``put`` back; engines without groups only (a group's columns are series of its own
        ensemble, not taken with them)."""
        if self.group is not None:
            raise ValueError("an engine with groups is stepped whole")
        part = copy.copy(self)
        part.series = self.series.take(idx)
        part.n = part.series.n
        return part

    def put(self, idx: np.ndarray, part: BatchEngine) -> None:
        """Write back the state of series ``idx`` from ``part`` (made by ``take(idx)``)."""
        self.series.put(idx, part.series)

    def state_nbytes(self) -> int:
        """All state bytes (univariate and multivariate)."""
        total = self.series.state_nbytes()
        if self.group is not None:
            total += self.group.state_nbytes()
        return total


def compile_kernels() -> None:
    """Run every detector's compiled loops once, so that their machine code is cached.

    Why: numba compiles a kernel at its first call (about 20 s for all of them on a small
    machine) and keeps the result beside its module. ``make`` runs this once after
    installing, so the first ``anomalert detect``, service start or test does not pay it
    (nor each test worker again). A loop is compiled per argument types, and the
    ensemble's take tuples as long as its detector list: the default set, the service's
    (with the forecast), every univariate detector, and a group's multivariate set each
    run, and an isolation forest is grown. So do series that tick together and series that
    do not (different loops), a seasonal model switch, the tail as reports read it, the
    grouping of a file's columns, and a part of the service's engine taken apart and
    written back (a loop per item size).
    """
    from anomalert.detect.combine import ColumnRedundancy
    from anomalert.detect.forest import grow_forest
    from anomalert.detect.registry import DEFAULT_UNIVARIATE, SERVICE_UNIVARIATE, UNIVARIATE

    n = 4
    groups = np.arange(n).reshape(2, 2)
    for univariate in (DEFAULT_UNIVARIATE, SERVICE_UNIVARIATE, tuple(UNIVARIATE)):
        engine = BatchEngine(n, Settings(univariate=univariate), groups=groups)
        for k in range(3):
            t = np.full(n, 60.0 * k)
            engine.step(t, np.arange(n, dtype=float))
            engine.step(t + 1.0 + np.arange(n), np.arange(n, dtype=float))
        for det in engine.series.detectors:
            det.shift_input(np.ones(n, dtype=np.bool_), np.zeros(n))
        engine.series.tails.tail()
    alone = BatchEngine(n, Settings(univariate=SERVICE_UNIVARIATE))
    some = np.arange(2, dtype=np.intp)
    alone.put(some, alone.take(some))
    columns = ColumnRedundancy(n=1, width=2, every=1, min_rows=0)
    for k in range(2):
        columns.learn(np.array([[float(k), float(-k)]]))
    square = np.arange(8, dtype=np.float32).reshape(4, 2)
    grow_forest(square, 2, 4, 0).scores(square)
