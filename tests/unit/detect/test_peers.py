"""One member of a group unlike its peers (``detect.peers``): a pod slow from its first minutes."""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field

import numpy as np
import pytest

from anomalert.config import parse_config
from anomalert.detect.peers import PEERS_LABEL, PeerConfig, Peers
from anomalert.detect.stream import StreamDetector, series_id
from anomalert.errors import ConfigError
from anomalert.model import Kind, Sample

T0 = 1_767_600_000.0
DAY = 1440


@dataclass
class Fleet:
    """``groups`` deployments of ``size`` pods at one-minute points: a common daily shape,
    each pod an offset of its own (sd ``spread`` noise sds), every pod replaced every
    ``churn`` minutes (0: never) by one in a fresh slot."""

    groups: int = 6
    size: int = 12
    churn: int = 0
    spread: float = 0.5
    noise: str = "gauss"
    seed: int = 0
    peers: Peers = field(init=False)
    slots: np.ndarray = field(init=False)
    offsets: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.capacity = self.groups * self.size * 2
        self.peers = Peers(PeerConfig(), self.capacity)
        self.slots = np.arange(self.groups * self.size).reshape(self.groups, self.size)
        self.generation = 0
        self._join()

    def _join(self) -> None:
        for g in range(self.groups):
            for m in range(self.size):
                pod = f"api-{g}-{self.generation}-{m}"
                self.peers.join(int(self.slots[g, m]), "latency", {"service": f"s{g}", "pod": pod})
        self.offsets = self.rng.normal(0.0, self.spread, (self.groups, self.size))

    def replace_pods(self) -> None:
        """A rollout: every pod goes, new ones (in the other half of the slots) start."""
        self.peers.leave(self.slots.ravel().tolist())
        half = self.groups * self.size
        self.slots = (self.slots + half) % self.capacity
        self.generation += 1
        self._join()

    def step(self, minute: int, extra: np.ndarray | None = None) -> np.ndarray:
        """One minute of every pod; the flagged pods (groups, size), as the policy would
        see them: mature verdicts at or above the threshold."""
        if self.churn and minute and minute % self.churn == 0:
            self.replace_pods()
        shape = 10.0 * np.sin(2.0 * np.pi * minute / DAY)
        shape_of = (self.groups, self.size)
        noise = {
            "gauss": lambda: self.rng.normal(0.0, 1.0, shape_of),
            "t3": lambda: self.rng.standard_t(3, shape_of),
        }[self.noise]()
        values = 100.0 + shape + self.offsets + noise
        if extra is not None:
            values = values + extra
        idx = self.slots.ravel().astype(np.intp)
        t = np.full(self.capacity, np.nan)
        x = np.full(self.capacity, np.nan)
        t[idx] = T0 + 60.0 * minute + self.rng.uniform(0.0, 10.0, idx.size)
        x[idx] = values.ravel()
        flagged = np.zeros(self.capacity, dtype=bool)
        for v in self.peers.tick(idx, t[idx], x[idx]):
            flagged[v.slot] = v.mature and v.score >= self.peers.threshold
        return flagged[self.slots]


def alerts(flags: np.ndarray) -> int:
    """Runs of flags (minutes, groups, size): what pages."""
    return int((flags[1:] & ~flags[:-1]).sum() + flags[0].sum())


def test_a_pod_born_slow_pages_within_minutes() -> None:
    """Every six hours every pod is replaced; from the third day the first pod of the first
    deployment starts 6σ slower than its siblings (each pod's own series is minutes old:
    it could not page, and would learn slow as its normal). It pages within ten minutes of
    each birth, and the other pods hardly ever."""
    fleet = Fleet(churn=360)
    caught, others = [], 0
    born = None
    flags_before = np.zeros((fleet.groups, fleet.size), dtype=bool)
    for minute in range(4 * DAY):
        if minute >= 3 * DAY and minute % 360 == 0:
            born = minute
        extra = None
        if born is not None:
            extra = np.zeros((fleet.groups, fleet.size))
            extra[0, 0] = 6.0
        flags = fleet.step(minute, extra)
        if born is not None and flags[0, 0] and (not caught or caught[-1][0] != born):
            caught.append((born, minute - born))
        new = flags & ~flags_before
        new[0, 0] = False
        others += int(new.sum())
        flags_before = flags
    assert [b for b, _ in caught] == [3 * DAY + 360 * k for k in range(4)]
    assert all(delay <= 10 for _, delay in caught), caught
    assert others <= 3  # the other 71 pods over those four births: 0.3 per 10,000 points


def test_a_pod_that_goes_bad_pages_and_one_that_stays_apart_is_accepted() -> None:
    """A pod fine for three days turns 4σ slower for good: it pages within ten minutes,
    stays flagged until accepted (``accept_after`` points), then is quiet at its new place."""
    fleet = Fleet(groups=2)
    extra = np.zeros((fleet.groups, fleet.size))
    flags = []
    for minute in range(3 * DAY + 120):
        if minute == 3 * DAY:
            extra[1, 3] = 4.0
        flags.append(fleet.step(minute, extra)[1, 3])
    run = np.flatnonzero(flags)
    assert run.size and run[0] - 3 * DAY <= 10
    assert run[-1] - run[0] + 1 <= fleet.peers.accept_after + 5  # accepted, then quiet
    assert alerts(np.array(flags)) == 1


def test_every_pod_moving_together_is_no_outlier() -> None:
    """An hour in which every pod of a deployment is 20σ slower (a shared database): each
    series' own business, not a peer outlier."""
    fleet = Fleet(groups=2)
    flags = np.zeros(fleet.size * fleet.groups, dtype=int)
    for minute in range(3 * DAY + 120):
        shared = 20.0 if 3 * DAY <= minute < 3 * DAY + 60 else 0.0
        flags += fleet.step(minute, np.full((fleet.groups, fleet.size), shared)).ravel()
    assert flags.sum() == 0


@pytest.mark.parametrize("noise", ["gauss", "t3"])
def test_pure_noise_with_churning_pods_keeps_the_budget(noise: str) -> None:
    """Six deployments of twelve pods, every pod replaced every six hours, four days of
    Gaussian or Student-t(3) noise: at most 0.5 alerts per 10,000 member points after the
    groups' first two days (the larger run in measurements.md: 0.04-0.16)."""
    fleet = Fleet(churn=360, noise=noise, seed=1)
    before = np.zeros((fleet.groups, fleet.size), dtype=bool)
    pages = 0
    for minute in range(4 * DAY):
        flags = fleet.step(minute)
        pages += int((flags & ~before).sum())
        before = flags
    assert pages <= 0.5 * (2 * DAY * fleet.groups * fleet.size) / 1e4


def test_pods_reporting_the_same_counts_do_not_page_on_a_difference_of_one() -> None:
    """Twelve pods' ready containers: 1 each, one pod at 0 for a scrape now and then."""
    peers = Peers(PeerConfig(), 16)
    for m in range(12):
        peers.join(m, "ready", {"service": "api", "pod": f"p{m}"})
    rng = np.random.default_rng(2)
    idx = np.arange(12, dtype=np.intp)
    flagged = 0
    for minute in range(3 * DAY):
        t = np.full(16, T0 + 60.0 * minute)
        x = np.ones(16)
        x[rng.integers(12)] = 0.0 if rng.random() < 0.05 else 1.0
        flagged += sum(v.mature and v.score >= 0.9 for v in peers.tick(idx, t[idx], x[idx]))
    assert flagged == 0


def test_groups_are_the_same_metric_and_labels_but_the_member_label() -> None:
    peers = Peers(PeerConfig(), 16)
    peers.join(0, "lat", {"service": "a", "pod": "a-1", "pod_template_hash": "x1"})
    peers.join(1, "lat", {"service": "a", "pod": "a-2", "pod_template_hash": "x2"})
    peers.join(2, "lat", {"service": "a", "instance": "10.0.0.3:9100"})
    peers.join(3, "lat", {"service": "b", "pod": "b-1"})
    peers.join(4, "cpu", {"service": "a", "pod": "a-1"})
    peers.join(5, "lat", {"service": "a"})  # no member label: no group
    # A pod's address and node do not split its deployment; a container does.
    peers.join(6, "lat", {"service": "a", "pod": "a-3", "instance": "10.0.0.9:80", "node": "n2"})
    peers.join(7, "lat", {"service": "a", "pod": "a-1", "container": "envoy"})
    assert peers.group[:8].tolist() == [0, 0, 1, 2, 3, -1, 0, 4]
    assert peers.member_of(0, {"pod": "a-1"}) == "pod a-1"
    # Two members are not enough to judge either.
    t = np.full(16, T0)
    assert peers.tick(np.arange(6, dtype=np.intp), t[:6], np.full(6, 5.0)) == []
    peers.leave([1])
    assert peers.members[0] == [0, 6]


def test_members_judged_only_against_peers_reporting_at_about_the_same_time() -> None:
    peers = Peers(PeerConfig(), 8, report_above=0.0)
    for m in range(4):
        peers.join(m, "lat", {"service": "a", "pod": f"p{m}"})
    peers.watched[:3] = True  # reported although the group has learned nothing yet
    t = np.array([T0, T0, T0, T0 - 600.0, 0, 0, 0, 0])
    x = np.array([1.0, 1.0, 1.0, 1.0, 0, 0, 0, 0])
    judged = peers.tick(np.arange(3, dtype=np.intp), t[:3], x[:3])
    assert [v.peers for v in judged] == [2, 2, 2]  # the fourth pod's value is ten minutes old


@pytest.mark.parametrize(
    "peers, field",
    [
        ({"min_members": 2}, "min_members"),
        ({"memory": 0}, "memory"),
        ({"max_lag": "0s"}, "max_lag"),
        ({"by": "pod"}, "by"),
        ({"members": 3}, "members"),
    ],
)
def test_bad_settings_are_named(peers: dict[str, object], field: str) -> None:
    base = {"route": {"receiver": "r"}, "receivers": [{"name": "r", "log": {}}]}
    with pytest.raises(ConfigError, match=rf"detection\.peers\.{field}"):
        parse_config({**base, "detection": {"peers": peers}})


def _pods(t: float, values: list[float]) -> list[Sample]:
    return [
        Sample("http_p99_seconds", {"service": "api", "pod": f"api-{m}"}, t, v)
        for m, v in enumerate(values)
    ]


def test_the_stream_reports_a_peer_outlier_in_words_and_keeps_it_in_view() -> None:
    """Through the live stream: a pod 0.3 s slower than eleven siblings near 0.2 s pages
    as an outlier of its own series id (``detector="peers"``), in words, while the pod's
    own series is minutes old; once watched, its calm points are reported too; a pickle
    keeps the groups; a retired pod leaves its group."""
    detector = StreamDetector(peers=PeerConfig())
    rng = np.random.default_rng(3)
    hours = 2 * 24 + 3
    for minute in range(hours * 60):
        values = (0.2 + 0.01 * rng.standard_normal(12)).tolist()
        detector.score(_pods(T0 + 60.0 * minute, values))
    slow = {"service": "api", "pod": "api-new"}
    found = []
    for minute in range(hours * 60, hours * 60 + 15):
        t = T0 + 60.0 * minute
        batch = _pods(t, (0.2 + 0.01 * rng.standard_normal(11)).tolist())
        batch.append(Sample("http_p99_seconds", slow, t, 0.5 + 0.01 * rng.standard_normal()))
        found += [s for s in detector.score(batch).scored if s.kind == Kind.OUTLIER]
    paged = [s for s in found if s.score >= 0.9 and not s.young]
    assert paged, found
    first = paged[0]
    assert first.labels == {**slow, PEERS_LABEL: "peers"}
    assert first.series == series_id("http_p99_seconds", first.labels)
    assert first.reason.startswith("http_p99_seconds 0.5")
    words = (
        r"on pod api-new, above its 11 peers' median 0\.(19|20)\d* "
        r"\(they usually stand within 0\.0[2-4]\d* of it\)"
    )
    assert re.search(words, first.reason), first.reason
    assert "unlike its peers" in first.reason
    detector.watch([first.series])
    t = T0 + 60.0 * (hours * 60 + 15)
    calm = [*_pods(t, [0.2] * 11), Sample("http_p99_seconds", slow, t, 0.2)]
    again = [s for s in detector.score(calm).scored if s.series == first.series]
    assert len(again) == 1  # reported while watched, however calm
    restored = pickle.loads(pickle.dumps(detector))
    j = restored.index[series_id("http_p99_seconds", slow)]
    assert restored.peers.group[j] >= 0
    gone = restored.retire(t + 1.0)
    assert len(gone) == 13 and all(not m for m in restored.peers.members)


def test_a_checkpoint_from_before_peers_forms_the_groups_again() -> None:
    detector = StreamDetector()
    detector.score(_pods(T0, [0.2] * 4))
    state = detector.__dict__.copy()
    del state["peers"], state["peer_sids"]
    old = StreamDetector.__new__(StreamDetector)
    old.__setstate__(state)
    assert sorted(old.peers.members[0]) == [0, 1, 2, 3]


def test_a_pod_that_gets_no_traffic_is_apart_on_its_request_rate() -> None:
    """Twelve pods' request counters (followed as their rates); a rollout's new pod never
    gets traffic (its readiness probe passes, the load balancer skips it): its rate, 0
    against its siblings' 5 a second, pages within ten minutes, in rate's words."""
    detector = StreamDetector(peers=PeerConfig())
    rng = np.random.default_rng(4)
    totals = np.zeros(12)
    names = [f"api-{m}" for m in range(12)]
    start = (2 * 24 + 3) * 60
    found = []
    for minute in range(start + 15):
        if minute == start:
            names[5], totals[5] = "api-new", 0.0
        totals += rng.poisson(300.0, 12) * np.array([n != "api-new" for n in names])
        t = T0 + 60.0 * minute
        batch = [
            Sample("http_requests_total", {"service": "api", "pod": n}, t, float(v), True)
            for n, v in zip(names, totals.tolist(), strict=True)
        ]
        scored = detector.score(batch).scored
        if minute >= start:
            found += [s for s in scored if s.kind == Kind.OUTLIER and s.score >= 0.9]
    assert found and {s.labels["pod"] for s in found} == {"api-new"}
    first = found[0]
    assert (first.timestamp - T0) / 60.0 - start <= 10
    assert first.reason.startswith("rate(http_requests_total) 0 on pod api-new, below its 11")


def test_a_bad_release_rolled_pod_by_pod_pages_its_first_pod_and_blames_no_old_one() -> None:
    """Twelve pods, a release twice as slow rolled one pod every five minutes: the first new
    pod pages five minutes after its birth (a canary), and no old pod is paged for being
    faster than a group its new siblings took over (an outlier is a few members: more on
    the same side is a split; a member its peers joined is apart no more)."""
    rng = np.random.default_rng(0)
    peers = Peers(PeerConfig(), 64)
    slots = list(range(12))
    for m in slots:
        peers.join(m, "lat", {"service": "s", "pod": f"old-{m}"})
    new = [False] * 12
    start = 3 * DAY
    paged: dict[int, int] = {}
    for minute in range(start + 5 * 12 + 60):
        k, at = divmod(minute - start, 5)
        if minute >= start and at == 0 and k < 12:
            peers.leave([slots[k]])
            slots[k] = 12 + k
            peers.join(slots[k], "lat", {"service": "s", "pod": f"new-{k}"})
            new[k] = True
        p99 = 0.2 * np.exp(0.05 * rng.standard_normal(12)) * np.where(new, 2.0, 1.0)
        idx = np.array(slots, dtype=np.intp)
        t = np.full(64, np.nan)
        x = np.full(64, np.nan)
        t[idx], x[idx] = T0 + 60.0 * minute, p99
        for v in peers.tick(idx, t[idx], x[idx]):
            if v.mature and v.score >= peers.threshold:
                paged.setdefault(slots.index(v.slot), minute - start)
    assert paged == {0: 5}
