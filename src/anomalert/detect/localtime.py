"""The wall clock a series' rhythms follow: the time of day and week in a named time zone.

A business-hours service opens at 09:00 local time, which in UTC moves by an hour twice a
year where clocks change for summer. Read in UTC, its daily shape jumped an hour on the day
of the change: measured on one-minute series open 09:00-17:00 Europe/Berlin, every series
paged four times on the day of the spring change and four times the next (at both edges, as
a spike and as the level it was accepted at), and the profiles then took a week or more to
learn the new hour. Read on the local wall clock the shape does not move, so the seasonal
profiles and the routine memories (the times of day and week that misbehaved before) take
their time of day and week from ``LocalTime.wall``, while everything that measures elapsed
time (sampling intervals, ages, decays) keeps UTC seconds. On the day clocks go back, the
repeated hour is learned twice; on the day they go forward, the skipped hour is not seen.

Offsets are looked up with ``zoneinfo`` (the system's time zone database, else the pinned
``tzdata`` package) a day at a time and cached as the span of UTC seconds over which the
offset holds, so a tick costs a range check and an addition; UTC costs nothing. ``Clocks``
holds the zones of an engine's series: the default one, and any other that some series
follow (a service of their own in another market).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from anomalert.detect.base import FloatArray

#: How far apart the offset is sampled before bisecting for the exact second of a change:
#: no zone changes its clocks twice within a day.
_SCAN = 86_400.0
#: The range of UTC seconds looked up (years 2 to 9998): datetime holds years 1 to 9999.
_FIRST, _LAST = -62_104_060_800.0, 253_339_228_800.0
#: Names that mean UTC itself (no lookups at all).
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Z", "Etc/Zulu", "Zulu", "Universal", "GMT"})


def check_zone(name: str) -> str:
    """The zone's name if the time zone database knows it; ValueError naming it otherwise."""
    if name in _UTC_NAMES:
        return name
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)"
        ) from None
    return name


class LocalTime:
    """UTC seconds to the seconds a wall clock in ``zone`` shows (UTC plus its offset then),
    for the time of day and week only: wall time repeats an hour when clocks go back."""

    def __init__(self, zone: str = "UTC") -> None:
        self.zone = check_zone(zone)
        self._reset()

    def _reset(self) -> None:
        self._tz = None if self.zone in _UTC_NAMES else ZoneInfo(self.zone)
        # The span of UTC seconds [lo, hi) over which the offset is ``off``.
        self._lo, self._hi, self._off = math.inf, -math.inf, 0.0

    @property
    def is_utc(self) -> bool:
        """Whether wall time is UTC (no offset ever)."""
        return self._tz is None

    def __getstate__(self) -> dict[str, object]:
        return {"zone": self.zone}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.zone = str(state["zone"])
        self._reset()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalTime) and other.zone == self.zone

    def __hash__(self) -> int:
        return hash(self.zone)

    def __repr__(self) -> str:
        return f"LocalTime({self.zone!r})"

    def wall(self, t: FloatArray) -> FloatArray:
        """Wall-clock seconds for UTC seconds ``t`` (NaN stays NaN); ``t`` itself in UTC."""
        if self._tz is None:
            return t
        t = np.asarray(t, dtype=np.float64)
        if t.size == 0:
            return t.copy()
        lo, hi = float(np.fmin.reduce(t, axis=None)), float(np.fmax.reduce(t, axis=None))
        if not math.isfinite(lo) or not math.isfinite(hi):  # no finite time (or inf)
            finite = np.isfinite(t)
            if not finite.any():
                return t.copy()
            lo, hi = float(t[finite].min()), float(t[finite].max())
        self._within(lo)
        if hi < self._hi:
            return t + self._off
        # Series at different times across a change (a backfill): a pass per span.
        out = np.array(t, copy=True)
        todo = np.isfinite(t)
        while todo.any():
            self._within(float(t[np.argmax(todo)]))
            inside = todo & (t >= self._lo) & (t < self._hi)
            out[inside] += self._off
            todo &= ~inside
        return out

    def offset(self, t: float) -> float:
        """The zone's offset from UTC at UTC second t, in seconds (0 for UTC)."""
        if self._tz is None or not math.isfinite(t):
            return 0.0
        self._within(t)
        return self._off

    def _offset_at(self, t: float) -> float:
        assert self._tz is not None
        # Times beyond what datetime holds (years 1-9999) take the offset near its ends.
        delta = (
            datetime.fromtimestamp(min(max(t, _FIRST), _LAST), UTC).astimezone(self._tz).utcoffset()
        )
        return 0.0 if delta is None else delta.total_seconds()

    def _within(self, t: float) -> None:
        """Make the cached span the one holding t (finite)."""
        if self._lo <= t < self._hi:
            return
        off = self._offset_at(t)
        self._lo = self._change(t, off, -_SCAN)
        self._hi = self._change(t, off, _SCAN)
        self._off = off

    def _change(self, t: float, off: float, step: float) -> float:
        """Where t's span (offset ``off``) ends (step > 0: the first second after it) or
        starts (step < 0: its first second); at most about a year away (400 steps)."""
        inside = t
        for _ in range(400):
            probe = inside + step
            if self._offset_at(probe) != off:
                break
            inside = probe
        else:
            return inside  # no change within about a year: the span known so far
        # The change lies between inside (off) and probe (not off): bisect, in whole
        # seconds (zones change their clocks on a second), to the last second of the span
        # (inside) next to the first one outside it.
        a = math.floor(inside) if step > 0 else math.ceil(inside)
        b = math.ceil(probe) if step > 0 else math.floor(probe)
        while abs(b - a) > 1:
            mid = (a + b) // 2
            if self._offset_at(mid) == off:
                a = mid
            else:
                b = mid
        # Going forward the span ends where the offset changes (exclusive); going back it
        # starts at its own first second.
        return float(b) if step > 0 else float(a)


#: Per-series codes into ``Clocks.clocks`` (0: the default zone).
ZoneCodes = npt.NDArray[np.int8]
#: How many zones one engine can follow (int8 codes).
MAX_ZONES = 127


class Clocks:
    """The wall clocks of many series: a default zone (code 0) and the other zones some of
    them follow (a service in New York beside the company's Berlin default), each series
    naming its own by a one-byte code kept with its state (``Ensemble.zone``)."""

    def __init__(self, default: str = "UTC") -> None:
        self.clocks = [LocalTime(default)]

    @property
    def default(self) -> LocalTime:
        """The default zone's clock (code 0)."""
        return self.clocks[0]

    def code(self, zone: str | None) -> int:
        """The code of ``zone`` (None: the default, 0), added if new; ValueError for an
        unknown name. A zone named explicitly keeps its own code even when it is also the
        default, so a later change of the default does not move it."""
        if zone is None:
            return 0
        check_zone(zone)
        for k, clock in enumerate(self.clocks[1:], start=1):
            if clock.zone == zone:
                return k
        if len(self.clocks) > MAX_ZONES:
            raise ValueError(f"more than {MAX_ZONES} time zones in one engine")
        self.clocks.append(LocalTime(zone))
        return len(self.clocks) - 1

    def wall(self, t: FloatArray, codes: ZoneCodes | None = None) -> FloatArray:
        """Wall-clock seconds of each series at its UTC time t (``codes``: each series'
        zone; None, or one zone for all: the default's arithmetic, nothing per series)."""
        return wall_of(self.clocks, t, codes)


def wall_of(clocks: Sequence[LocalTime], t: FloatArray, codes: ZoneCodes | None) -> FloatArray:
    """``Clocks.wall`` over any list of clocks (``Ensemble`` also asks it of the clocks a
    change of zones will leave)."""
    if codes is None or len(clocks) == 1:
        return clocks[0].wall(t)
    first = int(codes[0]) if codes.size else 0
    if not (codes != first).any():
        return clocks[first].wall(t)
    out = np.array(t, dtype=np.float64, copy=True)
    for k in np.unique(codes):
        mask = codes == k
        out[mask] = clocks[int(k)].wall(out[mask])
    return out


def turn(tables: Sequence[np.ndarray], idx: np.ndarray, bins: np.ndarray) -> None:
    """Roll the columns ``idx`` of each table (bins first, series last) by ``bins`` rows
    each, in place: what series learned per time of day, moved with their clock."""
    for k in np.unique(bins[bins != 0]):
        cols = idx[bins == k]
        for table in tables:
            table[:, cols] = np.roll(table[:, cols], int(k), axis=0)
