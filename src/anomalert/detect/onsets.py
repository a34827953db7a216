"""What the first point of a series' latest flagged run taught the tails, until that run is
accepted.

Why: the tails learn the first point of every flagged run (``ensemble``: a deviation that
recurs, a sharp daily edge, must become normal, while a long incident counts once). When the
run turns out to be a change of level that lasts and is accepted as the new normal (a deploy
that moved latency from 20 to 80 ms for good), its first point was no sample of how far the
series strays from its normal: it was the step from one normal to the next. Learned whole,
one 30σ step among a thousand small exceedances holds the moment fit's shape at its cap for
the tails' two-week half-life, and a 15σ spike two hours after the deploy scored 0.85 and
did not page (0.999 on the same series without the step; found on 2026-12-05,
``tests/unit/detect/test_spike_after_shift.py``). When such a run is accepted, its onset is
capped (``TailCalibrator.cap_learned``) at the statistic that the tail without it calls one
in ``1 / ONSET_P``: it still says the series moved far (a level that keeps changing still
fattens its tails, one step at a time), but one step no longer decides the tail's shape.

Only on series whose seasonal model is flat (or that have none), and old enough to alert.
On a periodic series the same cap, measured on 2026-12-06 (twentieth session), raised the
demo's false alerts (alert precision 0.445 -> 0.426) and cost SMD AUC-PR and VUS-PR (0.4125
-> 0.4095, 0.3658 -> 0.3640). The demo's deploys and feature flags move daily-seasonal
metrics, and (as the eighteenth session found for the onset withdrawn whole) the tails their
onsets fattened held moderate daytime deviations under the threshold. The eighteenth and
nineteenth sessions withdrew the onset whole instead; on flat series it cost SMD event
precision (0.566 -> 0.559): a three-valued column's way back to 0 paged, which the capped
onset keeps hiding. Withdrawn or capped at once on every run's onset, instead of on
acceptance, a weekly job's third week paged again (its tail no longer learned the job in two
weeks). The cost: shifts that keep recurring on a series without a period page a little
more often, since their onsets teach the tails one capped step at a time (a level flipping
between 20 and 80 every three hours: 12-16 alerts per series over three days instead of
10-14; ``docs/measurements.md``).

Nothing is learned for a series during its flagged run (held-back points teach no tail), so
the onset can be taken out exactly when the run is accepted. State: one float32 per tail row
and series (12 bytes for the default three rows).
"""

from __future__ import annotations

import numpy as np

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.calibrate import TailCalibrator

#: An accepted change's first point teaches the tails at most the statistic that their fit
#: without it calls one in 10^8 (a score of 0.99): at 1e-6 or 1e-8 a 15σ spike two hours
#: after a 30σ step pages, at 1e-10 it does not on every series.
ONSET_P = 1e-8


class OnsetMemory(ArrayState):
    """Per tail row and series, the statistic the series' current flagged run taught at its
    onset (NaN: none kept)."""

    series_last = ("stat",)

    def __init__(self, n: int = 1, rows: int = 1) -> None:
        self.n = n
        self.rows = rows
        self.stat = np.full((rows, n), np.nan, dtype=np.float32)

    def remember(self, stats: FloatArray, onset: BoolArray) -> None:
        """Keep the first ``rows`` rows of this tick's statistics where a run begins."""
        with np.errstate(over="ignore"):  # beyond float32: inf, learned as MAX_EXCESS
            self.stat[:, onset] = stats[: self.rows, onset]

    def forget(self, mask: BoolArray) -> None:
        """The masked series' tails were reset or shrunk: their onsets are no longer in them."""
        self.stat[:, mask] = np.nan

    def cap(self, tails: TailCalibrator, accepted: BoolArray, own_caps: BoolArray) -> None:
        """Cap the onsets of the runs just ``accepted`` in ``tails`` (see the module), with
        each series' shape caps as ``TailCalibrator.p_value`` takes them (``own_caps``)."""
        idx = np.flatnonzero(accepted)
        if idx.size == 0:
            return
        stat = self.stat[:, idx].astype(np.float64)
        self.stat[:, idx] = np.nan
        tails.cap_learned(stat, idx, ONSET_P, own_caps[idx])
