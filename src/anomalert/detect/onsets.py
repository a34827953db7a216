"""What the first point of a series' latest flagged run taught the tails: capped when the
run is accepted, a ceiling once it ends short of that.

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

A run that ends short of acceptance (a spike) keeps its onset learned whole: a spike that
comes back must stop paging. But one spike is no such pattern yet, and learned whole it
deafened the series: on a calm one-minute series, after one 30σ spike no spike under 20σ
paged an hour, a day or a week later (found on 2026-12-07, thirty-third session;
``tests/unit/detect/test_onset_ceiling.py``), while 8σ pages on the same series without
it. So when such a run ends, its memory keeps, per row, a ceiling instead of the onset: the
statistic that the tail without the onset calls one in ``1 / ONSET_P`` (its rate floored as
``p_value`` floors it). Until the series' next run, a statistic past its row's ceiling has a
p-value of at most ``ONSET_P``, falling further as the statistic grows (``beyond``), whatever
the spike taught the tail; under the ceiling the tail stands as it learned. A spike that comes
back pages once more and becomes normal: the second run's ceiling is the tail's with the
first spike in it. A ceiling is of the statistics under the seasonal model it was found
with: a series whose model changes forgets it (a ceiling found on a ten-second weekday
series' second day, under the daily model, paged its second Monday's 09:00 edge once the
model had fallen back to flat and its level-shift tail had grown: p 9e-4 on that tail,
``test_weekday_business_hours.py``).

Why a ceiling and not the onset capped (the thirty-third and thirty-fourth sessions measured
both): a capped onset leaves a thinner tail under the ceiling too, where the file
combination reads a column's moderate deviations against its other columns, and SMD's
two-column false events rose (event precision 0.574 -> 0.560-0.561 capped at once or at the
run's end, Nezha's likely origin 16 -> 15 of 24). With the ceiling, below it nothing
changes. Only where the tail has learned ``CEILING_MIN_WEIGHT`` points or more and the
series is ``CEILING_MIN_AGE`` old (a younger tail is mostly the prior's guess, too thin for
a one-in-10^8 claim: on Nezha's hours-long pods the ceilings paged their fault-free
neighbours, origin 16 -> 15, quiet pods 50 -> 49; in SMD's first days they moved the later
scores enough to cost AUC-PR 0.414 -> 0.410).

Periodic series keep ceilings too (since 2026-12-07, thirty-sixth session; until then only
series without a period did, as the cap). Without them one 30σ spike at noon on a
daily-seasonal one-minute series left it deaf: a 12σ spike paged on none of six series an
hour later and on two a week later, against six of six on the series without the first
spike; with them six, four and six of six an hour, a day and a week later. The cost, on
SMD: two more false events (a 17.5σ spike and a 54σ drop, on columns an earlier spike had
deafened), event precision 0.582 -> 0.578, recall unchanged, AUC-PR 0.4144 -> 0.4141; NAB,
the demo and Nezha unchanged.

Nothing is learned for a series during its flagged run (held-back points teach no tail), so
the onset can be taken out exactly when the run is accepted, or left out of the ceiling's
tail when it ends. State: one float32 per tail row and series (12 bytes for the default
three rows): the onset during a run, the ceiling after it (NaN: none).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anomalert.detect.base import ArrayState, BoolArray, FloatArray
from anomalert.detect.calibrate import Float32Array, IndexArray, TailCalibrator
from anomalert.detect.jit import kernel

RunArray = NDArray[np.int32]

#: An accepted change's first point teaches the tails at most the statistic that their fit
#: without it calls one in 10^8 (a score of 0.99): at 1e-6 or 1e-8 a 15σ spike two hours
#: after a 30σ step pages, at 1e-10 it does not on every series.
ONSET_P = 1e-8
#: The least weight (points learned, decayed) of a row's tail for a ceiling: at 1,000 NAB as
#: is gains a window without a false alarm and Nezha is unchanged; at 3,000 NAB is unchanged.
CEILING_MIN_WEIGHT = 1000.0
#: The least age (seconds since a series' first point) for a ceiling: the engine's default
#: ``min_age``, as a constant, so that a series' scores do not depend on when it may page.
CEILING_MIN_AGE = 2 * 86_400.0


@kernel
def _reaching(stats: FloatArray, ceiling: Float32Array, run: RunArray) -> IndexArray:
    """The series not in a run where some row's statistic reaches its ceiling (NaN compares
    False): one pass, nothing allocated on the usual tick."""
    rows, n = ceiling.shape
    found = 0
    for i in range(n):
        if run[i] == 0:
            for r in range(rows):
                if stats[r, i] >= ceiling[r, i]:
                    found += 1
                    break
    out = np.empty(found, dtype=np.intp)
    k = 0
    for i in range(n if found else 0):
        if run[i] == 0:
            for r in range(rows):
                if stats[r, i] >= ceiling[r, i]:
                    out[k] = i
                    k += 1
                    break
    return out


class OnsetMemory(ArrayState):
    """Per tail row and series, the statistic the series' current flagged run taught at its
    onset, or outside a run the ceiling its last one left (NaN: none kept)."""

    series_last = ("stat",)

    #: False for a memory pickled before it kept ceilings between runs: it holds the last
    #: run's onset there (``Ensemble`` clears those on load).
    ceilings: bool = False

    def __init__(self, n: int = 1, rows: int = 1) -> None:
        self.n = n
        self.rows = rows
        self.stat = np.full((rows, n), np.nan, dtype=np.float32)
        self.ceilings = True

    def remember(self, stats: FloatArray, onset: BoolArray) -> None:
        """Keep the first ``rows`` rows of this tick's statistics where a run begins."""
        with np.errstate(over="ignore"):  # beyond float32: inf, learned as MAX_EXCESS
            self.stat[:, onset] = stats[: self.rows, onset]

    def settle(self, tails: TailCalibrator, ended: BoolArray, own_caps: BoolArray) -> None:
        """The ``ended`` series' runs ended short of acceptance this tick (nothing learned
        since their onsets): keep, instead of each row's onset, its ceiling (see the
        module); NaN where the onset taught the row nothing or its tail is too young."""
        idx = np.flatnonzero(ended & ~np.isnan(self.stat).all(axis=0))
        if idx.size == 0:
            return
        stat = self.stat[:, idx].astype(np.float64)
        level, over = tails.excess_without(
            stat, idx, ONSET_P, own_caps[idx], floored=True, min_weight=CEILING_MIN_WEIGHT
        )
        with np.errstate(over="ignore"):  # beyond float32: inf, no ceiling reached
            self.stat[:, idx] = np.where(over > 0.0, tails.z0 + level, np.nan)

    def beyond(
        self,
        stats: FloatArray,
        p: FloatArray,
        run: RunArray,
        periodic: BoolArray,
        tails: TailCalibrator,
    ) -> FloatArray:
        """``p`` (rows, n), the p-values of ``tails`` for ``stats``, at most ``ONSET_P`` where
        a statistic reaches its row's ceiling on a series not in a ``run``, and falling
        beyond it as the tail falls: ``ONSET_P * p(stat) / p(ceiling)``, so that a larger
        statistic still ranks as the more surprising. ``periodic``: the series' shape caps,
        as ``TailCalibrator.p_value`` takes them."""
        idx = _reaching(stats, self.stat, run)
        if idx.size == 0:
            return p
        ceiling = self.stat[:, idx].astype(np.float64)
        at_ceiling = tails.take(idx).p_value(ceiling, self.rows, periodic[idx])
        sub = p[:, idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            falling = ONSET_P * sub / np.maximum(at_ceiling, 1e-300)
        out = p.copy()
        out[:, idx] = np.where(stats[: self.rows, idx] >= ceiling, np.minimum(sub, falling), sub)
        return out

    def forget(self, mask: BoolArray) -> None:
        """Keep nothing for the masked series: their tails were reset or shrunk (their
        onsets are no longer in them), their run was accepted, or their ceilings no longer
        hold (a run ended too young, the model changed)."""
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
