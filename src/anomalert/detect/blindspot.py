"""A flagged run the rolling baseline's blind spot cut short goes on when the series alerts
again before that baseline can see again.

Why: flagged points are not learned, and after ``max_gap`` intervals without a learned
point the rolling baseline takes the silence for a gap in the data and has no opinion until
it has relearned its level (``rolling``). A run that the rolling baseline alone held (a
step from 80 down to 50, hours after a step from 20 up to 80 was accepted) therefore ended
after 20 points, short of ``accept_after`` (30): the points after it were learned, the
level-shift detector, which builds its evidence from learned points only, reached the
threshold eight points later, and a second run began (two runs, 50 flagged points, where
one run of 30 was due; two alerts where the second came more than ``Settings.cooldown``
points after the first). Such a run is not over: it ended because the baseline
went blind, not because the series came back. Until the rolling baseline has an opinion
again, a would-be alert on the series resumes it, counting on from where it stopped, so it
is accepted after ``accept_after`` flagged points as any other run.

Only on series whose seasonal model is flat (or that have none): where a periodic model
holds the series, measured on SMD (2026-12-06, twentieth session), resuming such runs moved
where shifts were accepted and cost VUS-PR (0.3658 -> 0.3645, AUC-PR and event precision
up a little). Keeping the rolling baseline's opinion through a held run instead, so the run
never ends, was measured in the twelfth, eighteenth and nineteenth sessions and costs SMD
event precision (0.566 -> 0.548): runs that ended short now all reach acceptance.

State: the length of the cut-short run, two bytes per series (0: none).
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray


class BlindSpot(ArrayState):
    """Per series, the length of the flagged run the rolling baseline's blind spot ended
    while that baseline has no opinion yet (0: none)."""

    def __init__(self, n: int = 1) -> None:
        self.n = n
        self.length = np.zeros(n, dtype=np.int16)

    def note(self, lengths: np.ndarray, ended: BoolArray) -> None:
        """Remember the runs that ended this tick while the rolling baseline had no opinion
        (``ended``), with their lengths; ``ensemble._decide`` resumes or forgets them."""
        self.length[ended] = np.minimum(lengths[ended], np.iinfo(np.int16).max)
