"""Going back to the level a series left when its last shift was accepted is not a new
anomaly: the series is back to a normal it knows.

Why: a deviation that lasts ``accept_after`` points is accepted as the new normal (a deploy
that changed latency for good), and the detectors restart on the new level. When, hours
later, the series goes back (the deploy is rolled back), every detector has learned the new
level and the way back reads as a drop or a spike as large as the shift was. Until
2026-12-05 (eighteenth session) it paged twice: only the rolling baseline held the way back
as a flagged run, went blind after ``max_gap`` intervals without a learned point (held-back
points are not learned), the run ended short of ``accept_after``, and the level-shift
detector, whose level still said "shifted", learned the old level point by point and paged
again 27-31 minutes after the step back (``tests/unit/detect/test_step_back_pages_once.py``).

What a series keeps: the level and spread its rolling baseline held when its last shift was
accepted (flagged points are not learned, so during the run that is the level before it),
and when. A would-be alert between ``RETURN_AFTER`` and ``RETURN_WITHIN`` after that
acceptance, within ``RETURN_SIGMAS`` spreads of that level, on a series old enough to alert,
is a return: it alerts, once (the way back is news too), and every detector accepts it at
once, as after a lasting shift, instead of holding a run it cannot finish. Its alert says
where the series went back to (``Returns``: the level, its spread, and the minutes since the
acceptance; ``Ensemble`` puts them in the alert's band and detail, ``reason.explain`` words
them), not the winning detector's band, which is the shifted level. A return used is
forgotten. Not on a young series: before a series has a daily model its business-hours
plateau reads as a shift accepted every morning and a return every evening, and restarting
the detectors each evening kept the day profile from learning the edges (a clean one-minute
square wave paged at 09:00 on its third day, ``tests/unit/detect/test_business_hours_edges.py``).

Why the window: a shift that ends within the hour after it was accepted was an episode, and
its end is part of it as SMD labels it (a machine's excursion of one to four hours, labelled
whole, whose way back the detectors still score as unusual); a rollback comes after the new
level held for a while. After a day the new level is the established normal, and going back
to last week's level (traffic falling to what it was before a launch) is a change again.
What it cost and gave is in ``docs/measurements.md`` (eighteenth session).

A series with a period can also come back without moving: when the accepted run took away
part of the day's shape (a business-hours plateau that dropped out at 11:00 and stayed
out), the run ends at the shape's next edge, where the model's expectation moves back to
the series (at 17:00 the usual evening drop meets a series that stayed at its night level).
Accepted shifts on such series restart the levels where the run sat (``Ensemble``), so
that edge read as a 15-27σ jump and paged (six of six one-minute series, twenty-second
session; ``tests/unit/detect/test_restart_levels.py``). A held point of a series whose raw value
moved by at most ``RETURN_SIGMAS`` spreads since its previous point while its seasonal
component moved by at least that much (``ShapeMove``), and which the move left nearer the
level it left than its level now, is such a return: accepted at once like the others, but
``silent`` (no alert; its end is the run's end, not news). A rollback moves the series
itself and alerts as before.

State: 12 bytes per series (two float32 and the time in float32 minutes since the epoch,
exact to two minutes until 2033, as ``routine.WeeklyRoutine`` keeps its times).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray, FloatArray

#: How far from the level it left a value may be, in that level's spreads, to be back.
RETURN_SIGMAS = 4.0
#: A return counts from this long after the shift was accepted (seconds)...
RETURN_AFTER = 3600.0
#: ...until this long after it.
RETURN_WITHIN = 86_400.0


class Returns(NamedTuple):
    """The series back at the level they left (``found``) and, for those (NaN elsewhere),
    what the alert's reason says: that level and its spread, in the units it was taken in,
    and the minutes since the shift it undoes was accepted."""

    found: BoolArray
    level: FloatArray
    spread: FloatArray
    minutes: FloatArray
    silent: BoolArray  # found where the day's shape moved, not the series: no alert


class ReturnMemory(ArrayState):
    """Per series, the level left at its last accepted shift, its spread, and when."""

    def __init__(self, n: int = 1) -> None:
        self.n = n
        self.level = np.full(n, np.nan, dtype=np.float32)
        self.spread = np.full(n, np.nan, dtype=np.float32)
        self.left_at = np.full(n, np.nan, dtype=np.float32)  # minutes since the epoch

    def remember(
        self, accepted: BoolArray, t: FloatArray, level: FloatArray, spread: FloatArray
    ) -> None:
        """The ``accepted`` series just took a new normal at ``t``, leaving ``level``."""
        np.copyto(self.level, level, where=accepted, casting="unsafe")
        np.copyto(self.spread, spread, where=accepted, casting="unsafe")
        np.copyto(self.left_at, t / 60.0, where=accepted, casting="unsafe")

    def back(
        self, t: FloatArray, x: FloatArray, held: BoolArray, shape: ShapeMove | None = None
    ) -> Returns:
        """Which of the ``held`` series (would-be alerts, or points of a held run) are back
        near the level they left, within the window after leaving it, and where that level
        was and when they left it; those are forgotten. With ``shape``, also those the day's
        shape brought back (``silent``: see the module).

        ``x`` is in the units the level was taken in (the rolling baseline's input).
        """
        since = t - 60.0 * self.left_at.astype(np.float64)
        with np.errstate(invalid="ignore"):
            window = held & (since >= RETURN_AFTER) & (since <= RETURN_WITHIN)
            near = np.abs(x - self.level) <= RETURN_SIGMAS * self.spread
            silent = np.zeros_like(window)
            if shape is not None:
                bound = RETURN_SIGMAS * self.spread
                silent = (
                    window
                    & (shape.raw_step <= bound)
                    & (shape.shape_step >= bound)
                    & (np.abs(x - self.level) < np.abs(x - shape.level_now))
                )
            found = (window & near) | silent
            back = Returns(
                found,
                np.where(found, self.level, np.nan),
                np.where(found, self.spread, np.nan),
                np.where(found, since / 60.0, np.nan),
                silent,
            )
        self.level[found] = np.nan
        return back


class ShapeMove(NamedTuple):
    """What tells a series that stayed put while its day's shape moved (NaN: not asked):
    how far its raw value and its seasonal component moved since its previous point, and
    its level now (the rolling baseline's, in the units of ``back``'s ``x``)."""

    raw_step: FloatArray
    shape_step: FloatArray
    level_now: FloatArray
