"""Flatline: a noisy series that stops moving.

Why: a request rate whose service died at 03:00 reads 0, minute after minute; at night its
usual level is a few requests a minute, and each detector judges it in one spread for the
whole day (the day's, several times the night's), so the drop never paged (the thirtieth
session's survey: 0 of 24). What does stand out is that the series stopped moving: a count
of a few a minute repeats the same value two or three points running at most, and now it
has repeated one for ten. The same holds for a gauge whose exporter froze.

So each series keeps the longest run of identical consecutive values it has shown
(``longest``: learned from every run that ended unflagged; only a week-old series is
judged, ``FLATLINE_AGE``, so its first week's nights are all learned), and a run
that grows longer than twice that, and than ``MIN_RUN``, pages once, at that point (kind
flatline; the service keeps the alert open while the value stays where it froze,
``AlertPolicy._still_broken``). Noise does not make such runs: Poisson counts of five a
minute repeat a value for at most 4-7 points in three weeks. The current run is
read off the ensemble's ring of recent values (``Ensemble.recent``, float32, ``slots``
long), so the state is one byte per series. A series that goes flat for the ring's whole
length has flatness as part of its normal (a constant, a quantised gauge, a counter too
large for float32 to see it move): its ``longest`` is the ring's length and it never pages
here. A flagged run that ends sooner teaches nothing (an incident, not the series' habit).

Page only, after the decision: the detectors learn what they learned before.
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.jit import inlined, kernel

#: The shortest run that may page, in points.
MIN_RUN = 10
#: A series judged for flatlines is a week old (seconds since its first point); until then
#: every run it shows is learned. Rare events make long runs of zeros at night (an error
#: ratio of few requests), and two days did not show their longest: in the demo's four
#: scenarios two such runs paged (13 and 17 zeros against a longest of 6 in two days), and no
#: series' run after its first week was twice its longest of that week.
FLATLINE_AGE = 7 * 86_400.0
#: A flatline's onset scores as a would-be alert ten times rarer than the threshold's (0.944
#: at the default): it pages at the default threshold and at a raised one up to 0.94.
FLATLINE_P = 0.1


class Flatline(ArrayState):
    """Per series, the longest run of identical values shown so far (``longest``)."""

    def __init__(self, n: int = 1) -> None:
        self.n = n
        self.longest = np.zeros(n, dtype=np.uint8)

    def judge(
        self,
        recent: np.ndarray,
        seen: np.ndarray,
        finite: BoolArray,
        mature: BoolArray,
        t: FloatArray,
        born: FloatArray,
    ) -> tuple[BoolArray, np.ndarray]:
        """After the ring took this tick's values: which series begin a flatline now (their
        run just became longer than their limit; only series ``mature`` and ``FLATLINE_AGE``
        past their first point, ``born``, at t: the others' runs are all learned), and each
        series' current run length (0: no value this tick). Learns the runs that ended."""
        return _judge(recent, seen, finite, mature, t, born, self.longest, MIN_RUN, FLATLINE_AGE)


@inlined
def _run_back(recent: np.ndarray, i: int, newest: int, known: int) -> int:
    """How many values of series i's ring, from the one at position ``newest`` (a count of
    points: its slot is ``newest % slots``) back over at most ``known``, repeat it."""
    slots = recent.shape[0]
    v = recent[newest % slots, i]
    k = 1
    while k < known and recent[(newest - k) % slots, i] == v:
        k += 1
    return k


@kernel
def _judge(
    recent: np.ndarray,
    seen: np.ndarray,
    finite: BoolArray,
    mature: BoolArray,
    t: FloatArray,
    born: FloatArray,
    longest: np.ndarray,
    min_run: int,
    min_age: float,
) -> tuple[BoolArray, np.ndarray]:
    """``Flatline.judge``: per series, walk back through the ring from the newest value
    while it repeats (most series stop at once), and where a run just ended, walk back
    through that one to learn its length."""
    slots = recent.shape[0]
    n = seen.shape[0]
    onset = np.zeros(n, dtype=np.bool_)
    length = np.zeros(n, dtype=np.int32)
    for i in range(n):
        if not finite[i]:
            continue
        judged = mature[i] and t[i] - born[i] >= min_age
        if seen[i] < 2 or slots < 2:
            length[i] = 1
            continue
        known = min(seen[i], slots)
        k = _run_back(recent, i, seen[i] - 1, known)
        limit = max(2 * int(longest[i]), min_run)
        if k == 1:
            # The run before this point just ended: learn it, unless it paged.
            m = _run_back(recent, i, seen[i] - 2, known - 1)
            if (m <= limit or not judged) and m > longest[i]:
                longest[i] = m
        if k >= slots:
            longest[i] = min(slots, 255)  # flat the whole ring long: part of its normal
        length[i] = k
        onset[i] = judged and k == limit + 1
    return onset, length
