"""One member of a group unlike its peers: a pod slower than its siblings from its first minutes.

Why: each series' own baseline learns what that series does, so a pod that is slow from
the moment it starts (a bad rollout, a bad node) teaches its baseline that slow is normal;
and a series alerts only once it is ``min_age`` (two days) old. In Kubernetes every deploy
replaces the pods, and the ``pod`` label with them: with a deploy a day no pod's series is
ever two days old, and none of them can page on its own. Its peers can judge it at once:
the same metric of the same deployment on the other pods, at the same time (what Datadog
calls an outlier monitor).

A group is the series with the same metric and the same labels but the member labels (the
first of ``by`` a series carries names the member: ``pod``, ``node``, ``host``,
``instance``; none of them splits a group, since a pod's ``instance`` is its address and its
``node`` where it runs; nor do the labels in ``ignore``, such as ``pod_template_hash``, which
changes with each rollout; ``container`` does: an app beside its sidecar is no peer). It
is judged once ``min_members`` members report within ``max_lag`` of its newest value. At
each point a member's deviation is its value minus the group's median, in units
of the group's recent MAD, or this tick's where larger (as a Gaussian sd; floored at the
smallest difference the values show, so members reporting counts do not page on a
difference of one; a group split in halves has no outlier), clipped at ``CLIP`` so one
wild point cannot stand for a lasting difference. Each member keeps its offset (its
mean deviation so far) and a smoothed deviation (over ``memory`` points), and two questions
are asked (Bonferroni over the two):

* is its offset unusual among how members differ, and is it still apart there now?
  Against a Gaussian of the spread of established members' offsets (at least
  ``MIN_BETWEEN``) plus the doubt a few points leave, once the member has shown
  ``memory`` points: a pod slow from birth pages within minutes, a pod minutes old is
  judged by what its predecessors taught. Not a learned tail: it would be learned from a
  few members seen for hours each, and one bad pod left running fattened it for every
  pod after (bad pods 6σ off at birth then paged on 1 of 8);
* has its smoothed deviation moved away from the group beyond its offset? Against the
  group's tail (``calibrate``) of its members' own noise: a pod that was fine and went
  bad (going back towards the group is no outlier).

An outlier is a few members: where more than one in ``CROWD`` stand on the same side at
least half as far, the group has split (a release rolled to half the pods) and none is
paged; nor are the old pods of a rollout its new ones took over. A member flagged for
``accept_after`` points is accepted: its offset starts again where it stands, and it
pages again only if it moves further (a node of another kind, a canary left on
purpose); accepted offsets do not teach the group how members differ. Values
compared are what the engine follows: a counter's rate (a pod that gets no traffic while
its siblings are busy is apart). The shared cause that moves every member at once is no
peer outlier (the median moves with them): it is each series' own detectors' business.

A group alerts once it is ``min_age`` old and has learned ``MIN_POINTS`` member points,
whatever its members' ages. Pure noise (20 groups of 12 pods, each pod with an offset of
its own, all pods replaced every six hours, five days): 0.04, 0.10, 0.11 and 0.16 alerts
per 10,000 member points for Gaussian, Student-t(3), Poisson and lognormal noise; a pod
born 6σ off (Gaussian noise) paged 5 minutes after its birth, 7 times of 7 (3σ off: 4 of
7, 5-30 minutes); a release twice as slow rolled one pod every five minutes paged its
first new pod at five minutes and no old pod (the variants tried on the way:
``docs/measurements.md``, "Twenty-ninth session").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from scipy.special import ndtr

from anomalert.configbase import Duration, StrictModel
from anomalert.detect.calibrate import TailCalibrator, score_from_p
from anomalert.detect.reason import fmt

#: Member points a group learns before it alerts.
MIN_POINTS = 1000
#: Member points the usual spread and distance are averaged over, at most.
SPREAD_MEMORY = 5000.0
#: The band drawn around the expected value, in spreads (the MAD as a Gaussian sd).
BAND = 3.0
#: A member's deviation counts at most this many spreads a point: one wild point moves the
#: smoothed deviation by at most CLIP / memory, a lasting difference by up to CLIP.
CLIP = 5.0
#: At most one member in this many may stand out together (at least one): more on the same
#: side, at least half as far, and the group has split.
CROWD = 6
#: The MAD of Gaussian values times this is their sd.
NORMAL_MAD = 1.4826
#: The smallest usual square of a smoothed deviation (a group whose members never differ).
MIN_SQUARE = 1e-4
#: The least spread of members' offsets counted (a square, in spreads of the values): a
#: group whose pods happen to agree closely must not page a pod for an offset of one MAD
#: (with the offsets' own spread, 12 of 4,608 churned pods paged for offsets of 3-4 sds
#: of it, p 4e-5 against the Gaussian; a pod 3 noise sds off still reads 5 sds).
MIN_BETWEEN = 0.25
#: A member's offset is its mean deviation over at most this many points.
OFFSET_MEMORY = 1440.0
#: Points after which a member's offset counts as known (it teaches the group's spreads).
ESTABLISHED = 100.0
#: Settled member points a group's spreads need before its tail learns.
SETTLED = 500.0
#: Ticks the group's MAD is averaged over: a smooth unit that still follows the day.
MAD_TICKS = 30.0

IntArray = NDArray[np.intp]
#: The label that tells a member's peer alert from its own series' alerts.
PEERS_LABEL = "detector"


class PeerConfig(StrictModel):
    """``detection.peers``: which series are peers, and how a member is judged against them."""

    #: Judge members against their peers at all.
    enabled: bool = True
    #: Labels that name a member of a group: the first one a series carries names it, and
    #: none of them splits a group (a pod's ``instance`` is its address, its ``node`` where
    #: it runs).
    by: tuple[str, ...] = ("pod", "node", "host", "instance")
    #: Labels that do not split a group (they change with every rollout).
    ignore: tuple[str, ...] = ("pod_template_hash", "controller_revision_hash")
    #: Members reporting within ``max_lag`` needed before anyone is judged.
    min_members: int = Field(default=3, ge=3)
    #: Points a member's deviation from its peers is averaged over.
    memory: float = Field(default=5.0, ge=1.0)
    #: How far a member's latest value may be from the group's newest to count.
    max_lag: Duration = Field(default=120.0, gt=0.0)


@dataclass
class Verdict:
    """One member's point judged against its peers (those at or above ``report_above``)."""

    slot: int
    #: The point's time and value.
    t: float
    x: float
    score: float
    #: The group's median at this tick, the centre of the peers' band.
    expected: float
    lower: float
    upper: float
    peers: int
    mature: bool


#: Per slot: what a new (or retired) slot holds, and its dtype.
SLOT_STATE: dict[str, tuple[float, type]] = {
    "group": (-1, np.int64),  # its group (-1: none)
    "t": (-np.inf, np.float64),  # latest time and value
    "x": (np.nan, np.float64),
    "dev": (np.nan, np.float64),  # smoothed deviation
    "offset": (0.0, np.float64),  # mean deviation so far (or accepted)
    "age": (0.0, np.float64),  # points learned
    "accepted": (False, np.bool_),  # offset accepted after an alert
    "run": (0, np.int64),  # flagged run
    "watched": (False, np.bool_),  # an open peer alert: every point reported
}
#: Per group: the initial value, and its dtype.
GROUP_STATE: dict[str, tuple[float, type]] = {
    "size": (0, np.int64),  # members
    "born": (np.nan, np.float64),  # first time judged
    "mad": (0.0, np.float64),  # recent MAD of the members' values
    "ticks": (0.0, np.float64),  # ticks judged
    "within": (0.0, np.float64),  # usual square of a member's smoothed deviation from its offset
    "between": (0.0, np.float64),  # usual square of a member's offset
    "settled": (0.0, np.float64),  # established member points learned
    "quantum": (np.inf, np.float64),  # the smallest difference from the median seen
    "learned": (0.0, np.float64),  # member points learned
}


class Peers:
    """Groups of the stream's series by slot (``StreamDetector``'s index), and their verdicts.

    State lives in arrays, per slot (``SLOT_STATE``) and per group (``GROUP_STATE``, grown in
    doubling chunks as groups appear), so a tick is array operations whatever the number of
    groups: a service whose every series names its one instance has a group per series.
    """

    # Per slot (``SLOT_STATE``).
    group: NDArray[np.int64]
    t: NDArray[np.float64]
    x: NDArray[np.float64]
    dev: NDArray[np.float64]
    offset: NDArray[np.float64]
    age: NDArray[np.float64]
    accepted: NDArray[np.bool_]
    run: NDArray[np.int64]
    watched: NDArray[np.bool_]
    # Per group (``GROUP_STATE``).
    size: NDArray[np.int64]
    born: NDArray[np.float64]
    mad: NDArray[np.float64]
    ticks: NDArray[np.float64]
    within: NDArray[np.float64]
    between: NDArray[np.float64]
    settled: NDArray[np.float64]
    quantum: NDArray[np.float64]
    learned: NDArray[np.float64]

    def __init__(
        self,
        config: PeerConfig | None = None,
        capacity: int = 64,
        threshold: float = 0.9,
        accept_after: int = 30,
        min_age: float = 2 * 86_400.0,
        report_above: float = 0.5,
    ) -> None:
        self.config = config or PeerConfig()
        self.threshold = threshold
        self.accept_after = accept_after
        self.min_age = min_age
        self.report_above = report_above
        self.keys: list[tuple[object, ...]] = []
        self.by_key: dict[tuple[object, ...], int] = {}
        self.members: list[list[int]] = []
        self.slots = 0
        self.grow(capacity)
        self.room = 0
        self._room(8)
        self.tails = TailCalibrator(n=self.room)

    def _room(self, room: int) -> None:
        """Group arrays for at least ``room`` groups (doubling)."""
        if room <= self.room:
            return
        room = max(room, 2 * self.room)
        for name, (fill, dtype) in GROUP_STATE.items():
            extra: np.ndarray = np.full(room - self.room, fill, dtype=dtype)
            old: np.ndarray = getattr(self, name, np.zeros(0, dtype=dtype))
            setattr(self, name, np.concatenate([old, extra]))
        if hasattr(self, "tails"):
            self.tails.grow(room)
        self.room = room

    # -- membership ------------------------------------------------------------------------

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` slots (the stream's registry grew)."""
        extra = capacity - self.slots
        if extra <= 0:
            return
        for name, (fill, dtype) in SLOT_STATE.items():
            old: np.ndarray = getattr(self, name, np.zeros(0, dtype=dtype))
            setattr(self, name, np.concatenate([old, np.full(extra, fill, dtype=dtype)]))
        self.slots = capacity

    def join(self, slot: int, metric: str, labels: Mapping[str, str]) -> None:
        """Put a new series (in ``slot``) in its group, if it names a member."""
        if not self.config.enabled:
            return
        member = next((name for name in self.config.by if name in labels), None)
        if member is None:
            return
        skip = {*self.config.by, *self.config.ignore}
        key = (metric, member, *sorted((k, v) for k, v in labels.items() if k not in skip))
        g = self.by_key.get(key)
        if g is None:
            g = self.by_key[key] = len(self.keys)
            self.keys.append(key)
            self.members.append([])
            self._room(g + 1)
        self.members[g].append(slot)
        self.size[g] += 1
        self._reset([slot])
        self.group[slot] = g

    @property
    def judged(self) -> int:
        """Groups with ``min_members`` members or more (for ``anomalert_peer_groups``)."""
        return int(np.count_nonzero(self.size[: len(self.keys)] >= self.config.min_members))

    def member_of(self, slot: int, labels: Mapping[str, str]) -> str:
        """How a member is named in words: ``pod checkout-7d9f`` (its member label)."""
        g = int(self.group[slot])
        member = str(self.keys[g][1]) if g >= 0 else ""
        return f"{member} {labels.get(member, '')}".strip()

    def leave(self, slots: Sequence[int]) -> None:
        """Take retired slots out of their groups (a group keeps what it learned)."""
        for slot in slots:
            g = int(self.group[slot])
            if g >= 0:
                self.members[g].remove(slot)
                self.size[g] -= 1
        self._reset(slots)

    def _reset(self, slots: Sequence[int]) -> None:
        idx = np.asarray(list(slots), dtype=np.intp)
        for name, (fill, _) in SLOT_STATE.items():
            getattr(self, name)[idx] = fill

    # -- scoring ---------------------------------------------------------------------------

    def tick(self, idx: IntArray, t: NDArray[np.float64], x: NDArray[np.float64]) -> list[Verdict]:
        """Judge the members among slots ``idx`` at their times ``t`` and values ``x`` (one
        each, in the order of ``idx``); learn from those not flagged."""
        cfg = self.config
        g_all = self.group[idx]
        keep = g_all >= 0
        keep[keep] = self.size[g_all[keep]] >= cfg.min_members
        keep &= np.isfinite(x)
        idx = idx[keep]
        if idx.size == 0:
            return []
        self.t[idx], self.x[idx] = t[keep], x[keep]
        g_of = self.group[idx]
        touched = np.unique(g_of)
        # Each touched group's members with a value within max_lag of the group's newest.
        newest = np.full(self.room, -np.inf)
        np.maximum.at(newest, g_of, self.t[idx])
        members = np.flatnonzero(np.isin(self.group[: self.slots], touched))
        members = members[np.abs(self.t[members] - newest[self.group[members]]) <= cfg.max_lag]
        g_m = self.group[members]
        count = np.bincount(g_m, minlength=self.room)
        median = _medians(g_m, self.x[members], count)
        mad = _medians(g_m, np.abs(self.x[members] - median[g_m]), count)
        judged = touched[count[touched] >= cfg.min_members]
        if judged.size == 0:
            return []
        self.born[judged] = np.where(np.isnan(self.born[judged]), newest[judged], self.born[judged])
        # Deviations count in the group's recent MAD (about the last MAD_TICKS ticks, as a
        # Gaussian sd), or this tick's where larger (a group split in halves, half the pods
        # losing half their traffic, has no outlier, and its MAD says so at once), floored
        # at the values' resolution: one tick's MAD of a few members can be near nothing by
        # chance, and a smooth one still follows the day (a request rate's members stand
        # further apart at the peak than at night).
        self.ticks[judged] += 1.0
        rate = np.maximum(1.0 / self.ticks[judged], 1.0 / MAD_TICKS)
        self.mad[judged] += rate * (mad[judged] - self.mad[judged])
        ok = count[g_of] >= cfg.min_members
        idx, g_of = idx[ok], g_of[ok]
        raw = self.x[idx] - median[g_of]
        nonzero = np.abs(raw) > 0
        np.minimum.at(self.quantum, g_of[nonzero], np.abs(raw[nonzero]))
        unit = NORMAL_MAD * np.maximum(self.mad[g_of], mad[g_of])
        quantum = self.quantum[g_of]
        unit = np.maximum(np.maximum(unit, np.where(np.isfinite(quantum), quantum, 0.0)), 1e-12)
        r = np.clip(raw / unit, -CLIP, CLIP)
        # Two questions: is the member's offset (its mean deviation so far, as sure as its
        # points make it) unusual among how members differ (a pod slow from its first
        # minutes), and has its smoothed deviation moved away from the group beyond that
        # offset (a pod that was fine and went bad)? The first against a Gaussian: its tail
        # would be learned from a few members seen for hours each, and one bad pod left
        # running fattened it for every pod after; the second against the group's tail of
        # its members' own noise.
        before = self.dev[idx]
        dev = np.where(np.isfinite(before), before + (r - before) / cfg.memory, r)
        self.dev[idx] = dev
        within = np.maximum(self.within[g_of], MIN_SQUARE)
        between = np.maximum(self.between[g_of], MIN_BETWEEN)
        age = self.age[idx]
        offset = self.offset[idx]
        # The variance of one point's deviation, and of the offset's estimate.
        point = within * (2.0 * cfg.memory - 1.0)
        unsure = point / np.maximum(age, 1.0)
        # An accepted member's offset is its own; a new one's speaks after ``memory`` points.
        shown = (age >= cfg.memory) & ~self.accepted[idx]
        # Apart by its offset and still apart now, on the same side: an offset is a long
        # mean, and a member its peers have joined (the rest of a rollout) is apart no more.
        still = np.where(
            np.sign(dev) == np.sign(offset), np.minimum(np.abs(dev), np.abs(offset)), 0.0
        )
        apart = np.where(shown, still / np.sqrt(between + unsure), 0.0)
        # Only away from the group: a member going back towards its peers (they followed
        # it, or it recovered) is no outlier.
        away = np.maximum(np.abs(dev) - np.abs(offset), 0.0)
        stat = np.where(age > 0, away / np.sqrt(within + unsure), 0.0)
        p_moved = self.tails.take(g_of).p_value(stat)
        p = np.minimum(2.0 * np.minimum(2.0 * ndtr(-apart), p_moved), 1.0)
        # An outlier is a few members: where more stand as far out on the same side, the
        # group has split (a release rolled to half the pods), and the old pods are not
        # to blame for being fewer.
        crowd = _crowd(g_of, dev, members, self.group, self.dev)
        p = np.where(crowd <= np.maximum(1, count[g_of] // CROWD), p, 1.0)
        score = score_from_p(p)
        old_enough = self.t[idx] - self.born[g_of] >= self.min_age
        mature = (self.learned[g_of] >= MIN_POINTS) & old_enough
        flagged = mature & (score >= self.threshold)
        calm = ~flagged
        self._learn(idx[calm], g_of[calm], r[calm], stat[calm])
        self.run[idx] = np.where(flagged, self.run[idx] + 1, 0)
        accepted = idx[self.run[idx] >= self.accept_after]
        # Its offset starts again where it stands, as sure as the run's points make it (and
        # learns at that pace: a smoothed deviation at one moment is a rough place).
        self.offset[accepted] = self.dev[accepted]
        self.age[accepted] = float(self.accept_after)
        self.accepted[accepted] = True
        self.run[accepted] = 0
        out: list[Verdict] = []
        # Verdicts once the group knows how its members differ (before, every point of a
        # new group would read as far apart), and every point of a watched member.
        settled = self.settled[g_of] >= SETTLED
        report = (settled & (score >= self.report_above)) | self.watched[idx]
        for k in np.flatnonzero(report).tolist():
            g = int(g_of[k])
            centre = float(median[g])
            width = BAND * float(np.sqrt(between[k] + point[k]) * unit[k])
            out.append(
                Verdict(
                    slot=int(idx[k]),
                    t=float(self.t[idx[k]]),
                    x=float(self.x[idx[k]]),
                    score=float(score[k]),
                    expected=centre,
                    lower=centre - width,
                    upper=centre + width,
                    peers=int(count[g]) - 1,
                    mature=bool(mature[k]),
                )
            )
        return out

    def _learn(
        self, idx: IntArray, groups: IntArray, r: NDArray[np.float64], stat: NDArray[np.float64]
    ) -> None:
        """Fold unflagged member points into each member's offset and its group's within
        and between spreads and tail, one round per member of a group in this tick (a
        group's points in sequence)."""
        if groups.size == 0:
            return
        age = self.age[idx]
        step = np.maximum(1.0 / (age + 1.0), 1.0 / OFFSET_MEMORY)
        self.offset[idx] += step * (r - self.offset[idx])
        self.age[idx] = age + 1.0
        order = np.argsort(groups, kind="stable")
        idx, groups, stat = idx[order], groups[order], stat[order]
        first = np.searchsorted(groups, groups, side="left")
        rank = np.arange(groups.size) - first
        # The tails of this tick's groups only, learned apart and written back: every
        # group's (a group per series where each names its one instance) on every round
        # was work on the hot path for groups that learned nothing.
        touched = groups[rank == 0]  # sorted, each once
        at_of = np.searchsorted(touched, groups)
        part = self.tails.take(touched)
        for k in range(int(rank.max()) + 1):
            at = rank == k
            g_all, j = groups[at], idx[at]
            self.learned[g_all] += 1.0
            # Members whose offset they showed themselves (not one accepted after an alert:
            # a bad pod left running is no measure of how pods differ).
            old = (self.age[j] >= ESTABLISHED) & ~self.accepted[j]
            g, j = g_all[old], j[old]
            self.settled[g] += 1.0
            rate = np.maximum(1.0 / self.settled[g], 1.0 / SPREAD_MEMORY)
            self.within[g] += rate * ((self.dev[j] - self.offset[j]) ** 2 - self.within[g])
            self.between[g] += rate * (self.offset[j] ** 2 - self.between[g])
            # The tail learns once the group's spreads are known (before, a statistic over
            # spreads of nothing is huge and says nothing).
            ready = self.settled[g_all] >= SETTLED
            row = np.full(touched.size, np.nan)
            row[at_of[at][ready]] = stat[at][ready]
            mask = np.zeros(touched.size, dtype=bool)
            mask[at_of[at][ready]] = True
            part.learn(row, mask)
        self.tails.put(touched, part)


def _crowd(
    groups: IntArray,
    dev: NDArray[np.float64],
    members: IntArray,
    group_of: NDArray[np.int64],
    dev_of: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Per judged member (its group, smoothed deviation): how many of its group's fresh
    ``members`` stand on the same side at least half as far (itself included)."""
    d = np.clip(np.nan_to_num(dev_of[members]), -CLIP, CLIP)
    span = 4.0 * CLIP  # keys of one group never reach the next's
    keys = np.sort(group_of[members] * span + d)
    base = groups * span
    half = 0.5 * np.clip(dev, -CLIP, CLIP)
    low = np.where(half > 0, base + half, base - CLIP)
    high = np.where(half > 0, base + CLIP, base + half)
    found = np.searchsorted(keys, high, side="right") - np.searchsorted(keys, low, side="left")
    return np.where(half == 0, members.size, found).astype(np.int64)


def _medians(groups: IntArray, values: NDArray[np.float64], count: IntArray) -> NDArray[np.float64]:
    """Per group (by index, ``count`` members each), the median of its members' values."""
    out = np.full(count.size, np.nan)
    if groups.size == 0:
        return out
    order = np.lexsort((values, groups))
    ordered = values[order]
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    has = np.flatnonzero(count > 0)
    low = start[has] + (count[has] - 1) // 2
    high = start[has] + count[has] // 2
    out[has] = 0.5 * (ordered[low] + ordered[high])
    return out


def peer_reason(name: str, member: str, value: float, v: Verdict) -> str:
    """'latency_p99_ms 840 on pod checkout-7d9f, while its 11 peers' median is 210 (they
    usually stand within 35 of it): unlike its peers'."""
    side = "above" if value >= v.expected else "below"
    return (
        f"{name} {fmt(value)} on {member}, {side} its {v.peers} peers' median "
        f"{fmt(v.expected)} (they usually stand within {fmt((v.upper - v.lower) / 2.0)} of it): "
        "unlike its peers"
    )
