"""The engine as the live service uses it: series appear at any time, samples arrive in batches.

``BatchEngine`` wants one tick of values for a fixed set of series. A live service gets
batches of samples for whichever series reported, and meets new series as they come. The
``StreamDetector`` keeps the series registry (label fingerprint -> index), grows the engine
in chunks (capacity doubles, so a new series costs amortised O(1)), turns a batch into
ticks (the k-th new sample of each series goes into tick k), and keeps, per series, a short
ring of recent values and baseline bands: the context that explains an alert later without
a metrics database.

Only the points worth a decision become ``Scored`` objects (strings are slow next to array
maths): scores at or above ``report_above``, and every point of a series someone watches
(one with an open alert, whose calm points let the policy resolve it).

Out-of-order samples (at or before the series' latest time) are not scored and not learned;
they are returned as ``late`` so the caller can count them: nothing valid disappears
silently.

A series whose first sample is a counter's (``Sample.counter``) is a counter for life and is
scored on its per-second rate (``detect.counters``): its latest raw value is kept beside its
latest time, and its first sample, like a restart's, only sets where the next one is
measured from (a restart is not a drop).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from anomalert.detect.counters import rate
from anomalert.detect.engine import BatchEngine, Settings
from anomalert.detect.ensemble import Ensemble, Step
from anomalert.detect.forecast import ForecastDetector
from anomalert.detect.localtime import Clocks
from anomalert.detect.peers import PEERS_LABEL, PeerConfig, Peers, peer_reason
from anomalert.detect.reason import explain
from anomalert.detect.registry import SERVICE_UNIVARIATE, make_multivariate
from anomalert.detect.restarts import RestartConfig, Restarts
from anomalert.detect.seasonal import SeasonalDetector
from anomalert.model import Kind, Labels, Sample, Scored, fingerprint

#: Scores from here up are reported to the alert policy (well below any sensible threshold,
#: so hysteresis can see a score hovering under the threshold).
REPORT_ABOVE = 0.5
#: Recent points kept per series for the context of an alert.
WINDOW = 48
#: A batch is scored on a copy of its series' state alone (``BatchEngine.take``), written
#: back after, where that costs less than ticks over every slot: copying one series out and
#: back costs about as much as PART_COPY ticks of it, and copying at all about PART_FIXED
#: series-ticks (measured on the small machine with 16,384 slots: a backlog of 2,000 points
#: of one series 5.3 -> 0.55 s; one point each of 2 % of the series 56,000 -> 101,000
#: points a second; of 10 % the same either way, of 20 % 10 % slower apart).
PART_COPY = 12
PART_FIXED = 4_000
#: Saturating metrics and their ceiling, for the predicted-breach forecast.
DEFAULT_LIMITS: Mapping[str, float] = {"memory_percent": 100.0, "cpu_percent": 100.0}


#: The registry's arrays kept per slot: what a new or retired slot holds, its dtype, and the
#: axis of the slots (one table for ``__init__``, ``_grow`` and ``retire``).
SLOTS: Mapping[str, tuple[float, type, int]] = {
    "last_t": (-np.inf, np.float64, 0),
    "counter": (False, np.bool_, 0),
    "raw": (np.nan, np.float64, 0),
    "watched": (False, np.bool_, 0),
    "ring_t": (np.nan, np.float64, 0),
    "ring": (np.nan, np.float32, 1),
    "count": (0, np.int64, 0),
    "last_score": (np.nan, np.float64, 0),
}


def series_id(metric: str, labels: Mapping[str, str]) -> str:
    """The identity of a series: its metric name and labels."""
    return fingerprint({**labels, "__name__": metric})


@dataclass
class Context:
    """A series' recent history: times, values and the baseline band at each point."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    expected: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, list[float | None]]:
        """JSON-ready lists (NaN as null)."""

        def clean(xs: list[float]) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in xs]

        return {
            "times": clean(self.times),
            "values": clean(self.values),
            "expected": clean(self.expected),
            "lower": clean(self.lower),
            "upper": clean(self.upper),
        }


@dataclass(frozen=True)
class Batch:
    """What one batch of samples produced."""

    scored: list[Scored]
    late: list[Sample]
    #: Samples taken: scored, or a counter's first (which sets where its rate starts).
    points: int
    #: Each series' samples taken, by index, in time order (see ``rates``).
    rows: dict[int, list[Sample]] = field(default_factory=dict, repr=False)
    #: Per tick with counters: its rank, the counters' indexes and their rates.
    counted: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)
    #: Samples of new series beyond ``StreamDetector.max_series``: not followed.
    refused: list[Sample] = field(default_factory=list)

    def rates(self) -> dict[int, float]:
        """The rate each counter sample was scored as, by ``id()`` of the sample (NaN for a
        counter's first sample or a restart, which only set where its rate starts). Built on demand:
        only the rules need it, and a dict entry per sample costs more than the tick."""
        return {
            id(self.rows[j][k]): r
            for k, idx, values in self.counted
            for j, r in zip(idx.tolist(), values.tolist(), strict=True)
        }


class StreamDetector:
    """Follow any number of series that appear over time; score batches of samples."""

    def __init__(
        self,
        settings: Settings | None = None,
        limits: Mapping[str, float] = DEFAULT_LIMITS,
        report_above: float = REPORT_ABOVE,
        window: int = WINDOW,
        capacity: int = 64,
        zones: Mapping[str, str] | None = None,
        max_series: int | None = None,
        peers: PeerConfig | None = None,
    ) -> None:
        self.settings = settings or Settings(univariate=SERVICE_UNIVARIATE)
        #: Series followed at most (None: no limit): a sender with more (a whole
        #: Prometheus' remote_write) must not grow the state until memory runs out; the
        #: samples of new series beyond it are refused (``Batch.refused``), the others go on.
        self.max_series = max_series
        #: The time zone of each service whose days follow another clock than the default
        #: (``Settings.timezone``); its series follow it from their first point.
        self.zones = dict(zones or {})
        self.limits = dict(limits)
        self.report_above = report_above
        self.window = window
        self.engine = BatchEngine(capacity, self.settings)
        self.capacity = capacity
        #: Members of a group judged against their peers (``peers``), by slot, and the ids
        #: their peer verdicts carry (for ``watch``).
        self.peers = self._peers(peers or PeerConfig(), capacity)
        self.peer_sids: dict[str, int] = {}
        self._peer_sid_of: dict[int, str] = {}
        #: Series whose process a deployment just restarted (``restarts``), by slot.
        self.restarts = Restarts()
        self.index: dict[str, int] = {}
        self._fast: dict[tuple[object, ...], int] = {}
        self.sids: list[str] = []
        self.metrics: list[str] = []
        self.labels: list[Labels] = []
        self.last_t = self._blank("last_t", capacity)
        #: Counters (followed as rates) and their latest raw value (NaN: none yet).
        self.counter = self._blank("counter", capacity)
        self.raw = self._blank("raw", capacity)
        self.watched = self._blank("watched", capacity)
        # Context rings: position k % window holds the k-th point of the series.
        self.ring_t = self._blank("ring_t", capacity)
        self.ring = self._blank("ring", capacity)
        self.count = self._blank("count", capacity)
        self.last_score = self._blank("last_score", capacity)
        #: Slots of series retired for silence (``retire``), taken again by new series first.
        self.free: list[int] = []
        #: Times slots changed hands (series retired, a free slot taken): a reader that
        #: indexes the registry incrementally starts again when this moves.
        self.moves = 0

    # -- registry ------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Slots, in use or free: every series' index is below this."""
        return len(self.metrics)

    @property
    def followed(self) -> int:
        """Series followed now (retired ones are not)."""
        return len(self.index)

    @property
    def newest(self) -> float:
        """The latest time of any series (-inf before the first sample)."""
        return float(self.last_t[: self.n].max(initial=-np.inf))

    def _ensure(self, metric: str, labels: Labels, counter: bool = False) -> int:
        """The series' index, registering it if new; -1 for a new one beyond the limit."""
        # A plain-tuple lookup first: the sha256 identity is computed once per new series.
        fast = (metric, *sorted(labels.items()))
        j = self._fast.get(fast)
        if j is not None:
            return j
        sid = series_id(metric, labels)
        j = self.index.get(sid)
        if j is not None:
            self._fast[fast] = j
            return j
        if self.max_series is not None and len(self.index) >= self.max_series:
            return -1
        if self.free:  # a retired series' slot, reset to untrained when it was retired
            j = heapq.heappop(self.free)
            self.sids[j], self.metrics[j], self.labels[j] = sid, metric, dict(labels)
            self.moves += 1
        else:
            j = len(self.metrics)
            if j >= self.capacity:
                self._grow(self._next_capacity(j))
            self.sids.append(sid)
            self.metrics.append(metric)
            self.labels.append(dict(labels))
        self.index[sid] = j
        self._fast[fast] = j
        self.counter[j] = counter
        self.peers.join(j, metric, labels)
        zone = self.zones.get(labels.get("service", ""))
        if zone is not None:
            self.engine.set_zones(np.array([j]), [zone])
        limit = self.limits.get(metric)
        if limit is not None:
            for det in self.engine.series.detectors:
                if isinstance(det, ForecastDetector):
                    det.limits[j] = limit
        return j

    def _next_capacity(self, j: int) -> int:
        """Slots to grow to for slot ``j``: twice as many, but not past the series limit.

        Why the limit: slots are state (about 3.2 KB each with the context rings) and every
        tick runs over all of them; doubling 65,536 slots for the 100,000th series made
        131,072, 31 % of them never used (about 100 MB, and a third more per tick)."""
        grown = 2 * self.capacity
        if self.max_series is not None:
            grown = min(grown, self.max_series)
        return max(grown, j + 1)

    def _blank(self, name: str, n: int) -> np.ndarray:
        """The per-slot array ``name`` for n new (or retired) slots (``SLOTS``)."""
        fill, dtype, _ = SLOTS[name]
        shape = {"ring_t": (n, self.window), "ring": (4, n, self.window)}.get(name, (n,))
        return np.full(shape, fill, dtype=dtype)

    def _peers(self, config: PeerConfig, capacity: int) -> Peers:
        s = self.settings
        return Peers(config, capacity, s.threshold, s.accept_after, s.min_age, self.report_above)

    def use_peers(self, config: PeerConfig) -> None:
        """Judge members against their peers as ``config`` says (the config changed between
        runs): the groups are formed again from the series followed, learning from zero."""
        if config == self.peers.config:
            return
        self.peers = self._peers(config, self.capacity)
        self._join_peers()

    def _join_peers(self) -> None:
        """Every series followed joins its group (fresh ``Peers``: a new config, an old
        checkpoint)."""
        for j, (metric, labels) in enumerate(zip(self.metrics, self.labels, strict=True)):
            if metric:
                self.peers.join(j, metric, labels)

    def _grow(self, capacity: int) -> None:
        self.peers.grow(capacity)
        extra = capacity - self.capacity
        self.engine.series.grow(capacity)
        self.engine.n = capacity
        for name, (_, _, axis) in SLOTS.items():
            grown = np.concatenate([getattr(self, name), self._blank(name, extra)], axis=axis)
            setattr(self, name, grown)
        self.capacity = capacity

    def retire(self, before: float) -> list[str]:
        """Forget every series whose latest sample is older than ``before``, unless an open
        alert watches it; returns their ids.

        Why: series come and go (a pod's series end at every deploy, their successors have
        new names), and a slot is state kept and stepped on every tick for good. A retired
        slot is reset to untrained and taken by the next new series, so churn neither grows
        the state nor slows the ticks. A series that comes back later starts again (young,
        ``Settings.min_age``), as a new one would.
        """
        n = self.n
        stale = (self.last_t[:n] < before) & ~self.watched[:n]
        stale[self.free] = False  # already retired
        idx = np.flatnonzero(stale)
        if idx.size == 0:
            return []
        gone = []
        for j in idx.tolist():
            sid, metric, labels = self.sids[j], self.metrics[j], self.labels[j]
            del self.index[sid]
            self._fast.pop((metric, *sorted(labels.items())), None)
            self.sids[j], self.metrics[j], self.labels[j] = "", "", {}
            heapq.heappush(self.free, j)
            gone.append(sid)
        self.engine.series.reset(idx)
        self.peers.leave(idx.tolist())
        self.restarts.forget(idx.tolist())
        for j in idx.tolist():
            peer_sid = self._peer_sid_of.pop(j, None)
            if peer_sid is not None:
                del self.peer_sids[peer_sid]
        for name, (fill, _, axis) in SLOTS.items():
            np.moveaxis(getattr(self, name), axis, 0)[idx] = fill
        self.moves += 1
        return gone

    def expect_restart(self, service: str, start: float, config: RestartConfig) -> list[str]:
        """A deployment (or rollback) of ``service`` at ``start`` restarted its processes:
        a fall of its series that a restart resets (``config.metrics``), beginning within
        ``config.window``, is explained (``restarts``), a fall already under way too if it
        began at or after ``start``. Returns the ids of the series whose fall under way it
        explained (their alerts are the restart's: ``AlertPolicy.explain``)."""
        series = zip((lb.get("service", "") for lb in self.labels), self.metrics, strict=True)
        slots = self.restarts.open(service, start, config, series)
        return [self.sids[j] for j in self._explain_falls(slots, start)]

    def _explain_falls(self, slots: Iterable[int], start: float) -> list[int]:
        """Turn quiet the flagged runs of ``slots`` that are a restart's fall: every point
        of the run (the context ring's latest ``run``) at or after ``start`` and below what
        was expected; returns those slots. From the next point on the run is quiet, as one
        that began in the window (``Ensemble._quieten``; the window's discount keeps it
        so), and learning is unchanged; a run longer than the ring, or that began before
        ``start``, is not."""
        ens = self.engine.series
        explained = []
        for j in slots:
            k = int(ens.run[j])
            if k <= 0 or ens.quiet[j] or k > min(self.window, int(self.count[j])):
                continue
            at = (self.count[j] - 1 - np.arange(k)) % self.window
            times, values, expected = self.ring_t[j, at], self.ring[0, j, at], self.ring[1, j, at]
            if (times >= start).all() and (values < expected).all():
                ens.quiet[j] = True
                explained.append(j)
        return explained

    def watch(self, series: Iterable[str], on: bool = True) -> None:
        """Report every point of these series (by id), e.g. while they have an open alert;
        a member's peer alert by the id its scored points carry."""
        for sid in series:
            j = self.index.get(sid)
            if j is not None:
                self.watched[j] = on
                continue
            j = self.peer_sids.get(sid)
            if j is not None and self.sids[j]:
                self.peers.watched[j] = on

    def context(self, sid: str) -> Context:
        """The recent points of one series, oldest first (empty for an unknown id)."""
        j = self.index.get(sid)
        if j is None:
            return Context()
        k = int(self.count[j])
        m = min(k, self.window)
        order = [(k - m + i) % self.window for i in range(m)]
        vals, exp, lo, hi = (self.ring[r, j, order].astype(float).tolist() for r in range(4))
        return Context(self.ring_t[j, order].tolist(), vals, exp, lo, hi)

    def peer_context(self, sid: str, half_width: float) -> Context:
        """A member's recent points (``sid``: its peer verdicts' id) with its peers' median
        at each of their times as the expected value, and ``half_width`` around it as the
        band (the verdict's): what a chart of a peer alert should show. The member's own
        band is no use there: a pod slow from birth learned slow as its normal.

        Built from the peers' own context rings when an alert needs it (no state of its
        own): at each of the member's times, each peer's nearest point within ``max_lag``.
        """
        j = self.peer_sids.get(sid)
        if j is None or not self.sids[j]:
            return Context()
        own = self.context(self.sids[j])
        g = int(self.peers.group[j])
        if g < 0:
            return own
        others = [self.context(self.sids[m]) for m in self.peers.members[g] if m != j]
        lag = self.peers.config.max_lag
        expected = []
        for t in own.times:
            near = []
            for ctx in others:
                if not ctx.times:
                    continue
                gaps = np.abs(np.asarray(ctx.times) - t)
                k = int(np.argmin(gaps))
                if gaps[k] <= lag and np.isfinite(ctx.values[k]):
                    near.append(ctx.values[k])
            enough = len(near) + 1 >= self.peers.config.min_members
            expected.append(float(np.median(near)) if enough else float("nan"))
        lower = [e - half_width for e in expected]
        upper = [e + half_width for e in expected]
        return Context(own.times, own.values, expected, lower, upper)

    # -- scoring -------------------------------------------------------------------------

    def score(self, samples: Sequence[Sample]) -> Batch:
        """Score a batch: each series' samples in time order, one engine tick per rank."""
        per: dict[int, list[Sample]] = {}
        refused: list[Sample] = []
        for s in samples:
            j = self._ensure(s.metric, s.labels, s.counter)
            if j < 0:
                refused.append(s)
            else:
                per.setdefault(j, []).append(s)
        late: list[Sample] = []
        for j, rows in per.items():
            rows.sort(key=lambda s: s.timestamp)
            last = self.last_t[j]
            keep = []
            for s in rows:
                if s.timestamp <= last:
                    late.append(s)
                else:
                    keep.append(s)
                    last = s.timestamp
            per[j] = keep
        depth = max((len(r) for r in per.values()), default=0)
        # The engine ticks over the series of the batch alone where they are few beside
        # those followed (a backlog, one sender's share): a tick over every series costs
        # the same for one point as for all, and the others are not changed by it.
        slots = np.array(sorted(per), dtype=np.intp)
        apart = PART_FIXED + (PART_COPY + depth) * slots.size
        if slots.size == 0 or apart >= depth * self.capacity:
            scored, points, counted = self._ranks(self.engine, None, per, depth)
        else:
            part = self.engine.take(slots)
            # Written back even if a tick fails: the slots' times and rings moved with
            # every tick scored, and the engine's state must stand where they do.
            try:
                scored, points, counted = self._ranks(part, slots, per, depth)
            finally:
                self.engine.put(slots, part)
        return Batch(scored, late, points, per, counted, refused)

    def _ranks(
        self, engine: BatchEngine, base: np.ndarray | None, per: dict[int, list[Sample]], depth: int
    ) -> tuple[list[Scored], int, list[tuple[int, np.ndarray, np.ndarray]]]:
        """Score the batch's samples ``per`` slot, one tick of ``engine`` per rank (its
        positions: the slots themselves, or their places in ``base``, the slots of a part);
        returns what was reported, the points scored and the counters' rates by rank."""
        scored: list[Scored] = []
        points = 0
        counted: list[tuple[int, np.ndarray, np.ndarray]] = []
        for k in range(depth):
            at = np.fromiter((j for j, r in per.items() if len(r) > k), dtype=np.intp)
            if at.size == 0:
                continue
            at.sort()
            here = at if base is None else np.searchsorted(base, at)
            t = np.full(engine.n, np.nan)
            x = np.full(engine.n, np.nan)
            t[here] = [per[int(j)][k].timestamp for j in at]
            x[here] = [per[int(j)][k].value for j in at]
            counters = self.counter[at]
            if counters.any():
                rates, first = self._as_rates(at[counters], t[here[counters]], x[here[counters]])
                x[here[counters]] = rates
                counted.append((k, at[counters], rates))
                if first.any():
                    points += int(first.sum())
                    rated = np.ones(at.size, dtype=np.bool_)
                    rated[np.flatnonzero(counters)[first]] = False
                    at, here = at[rated], here[rated]
                    if at.size == 0:
                        continue
            scored.extend(self._tick(engine, here, at, t, x, base))
            points += at.size
        return scored, points, counted

    def _as_rates(
        self, counters: np.ndarray, t: np.ndarray, v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rates of the counters (slots) at times ``t`` with raw values ``v``, from
        their latest raw values, and which have no rate this tick (a first sample, a
        restart): their value only becomes where their rate starts, and they are not
        scored."""
        rates = rate(self.last_t[counters], self.raw[counters], t, v)
        self.raw[counters] = v
        first = np.isnan(rates)
        self.last_t[counters[first]] = t[first]
        return rates, first

    def _tick(
        self,
        engine: BatchEngine,
        here: np.ndarray,
        idx: np.ndarray,
        t: np.ndarray,
        x: np.ndarray,
        base: np.ndarray | None,
    ) -> list[Scored]:
        """One tick of ``engine``: the series of slots ``idx`` have their point at positions
        ``here`` of ``t`` and ``x`` (the engine's positions: the slots themselves, or their
        places in ``base``, the slots of an engine taken apart)."""
        # Series without a sample this tick get the time of the tick (their x is NaN, so
        # they are neither scored nor changed) to keep time-dependent state well defined.
        t_fill = np.where(np.isnan(t), np.nanmax(t[here]), t)
        restarting = self.restarts.mask(t_fill, base)
        step = engine.step(t_fill, x, restarting=restarting).series
        if restarting is not None or self.restarts.windows:
            self.restarts.settle(t, engine.series.quiet, base)
        ti, xi = t[here], x[here]
        self.last_t[idx] = ti
        pos = self.count[idx] % self.window
        self.ring_t[idx, pos] = ti
        for r, arr in enumerate((x, step.expected, step.lower, step.upper)):
            self.ring[r, idx, pos] = arr[here]
        self.count[idx] += 1
        score = step.score[here]
        self.last_score[idx] = score
        verdicts = self._against_peers(idx, ti, xi)
        chosen = (score >= self.report_above) | self.watched[idx]
        if not chosen.any():
            return verdicts
        seasonal = self._seasonal(engine)
        periods = seasonal.period(t_fill) if seasonal is not None else np.zeros(engine.n)
        out = []
        for i, jj in zip(here[chosen], idx[chosen], strict=True):
            j = int(jj)
            kind = Kind(int(step.kind[i]))
            value, tj = float(x[i]), float(t[i])
            exp, lo, hi = float(step.expected[i]), float(step.lower[i]), float(step.upper[i])
            detail = float(step.detail[i])
            metric, labels = self.metrics[j], self.labels[j]
            reason = explain(
                f"rate({metric})" if self.counter[j] else metric,
                value,
                tj,
                kind,
                exp,
                lo,
                hi,
                detail,
                periods[i] > 0,
                engine.series.clock_of(int(i)),
            )
            out.append(
                Scored(
                    series=self.sids[j],
                    metric=metric,
                    labels=labels,
                    timestamp=tj,
                    value=value,
                    score=float(step.score[i]),
                    kind=kind,
                    expected=exp,
                    lower=lo,
                    upper=hi,
                    reason=reason,
                    detail=detail,
                    young=not step.mature[i],
                )
            )
        return out + verdicts

    def _peer_sid(self, j: int, metric: str, own: Labels) -> str:
        """The id of slot j's peer verdicts (computed once per series)."""
        sid = self._peer_sid_of.get(j)
        if sid is None:
            sid = self._peer_sid_of[j] = series_id(metric, own)
            self.peer_sids[sid] = j
        return sid

    def _against_peers(self, idx: np.ndarray, t: np.ndarray, x: np.ndarray) -> list[Scored]:
        """The tick's members (slots ``idx``, at times ``t`` with values ``x``) judged
        against their peers, as scored points of their own series (``peers.PEERS_LABEL``),
        for the points worth a decision: scores at or above ``report_above``, and every
        point of a member with an open peer alert."""
        out = []
        for v in self.peers.tick(idx, t, x):
            j = v.slot
            metric, labels = self.metrics[j], self.labels[j]
            own = {**labels, PEERS_LABEL: "peers"}
            name = f"rate({metric})" if self.counter[j] else metric
            sid = self._peer_sid(j, metric, own)
            out.append(
                Scored(
                    series=sid,
                    metric=metric,
                    labels=own,
                    timestamp=v.t,
                    value=v.x,
                    score=v.score,
                    kind=Kind.OUTLIER,
                    expected=v.expected,
                    lower=v.lower,
                    upper=v.upper,
                    reason=peer_reason(name, self.peers.member_of(j, labels), v.x, v),
                    young=not v.mature,
                )
            )
        return out

    def latest_scores(self) -> Iterable[tuple[str, Labels, float]]:
        """(metric, labels, latest score) of every series that has one, for /metrics."""
        for j, (metric, labels) in enumerate(zip(self.metrics, self.labels, strict=True)):
            v = float(self.last_score[j])
            if np.isfinite(v):
                yield metric, labels, v

    def _seasonal(self, engine: BatchEngine | None = None) -> SeasonalDetector | None:
        detectors = (engine or self.engine).series.detectors
        return next((d for d in detectors if isinstance(d, SeasonalDetector)), None)

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if "zones" not in state:  # a checkpoint from before per-service zones
            self.zones = {}
        if "counter" not in state:  # from before counters: every series a gauge
            self.counter = np.zeros(self.capacity, dtype=bool)
            self.raw = np.full(self.capacity, np.nan)
        if "free" not in state:  # from before series were retired
            self.free, self.moves = [], 0
        if "max_series" not in state:  # from before the limit (the app sets its own)
            self.max_series = None
        if "restarts" not in state:  # from before restarts: no window open
            self.restarts = Restarts()
        if "peers" not in state:  # from before peers: groups formed from the series known
            self.peers = self._peers(PeerConfig(), self.capacity)
            self.peer_sids, self._peer_sid_of = {}, {}
            self._join_peers()

    def use_timezone(self, zone: str, zones: Mapping[str, str] | None = None) -> None:
        """Follow the days and weeks of another default time zone and per-service zones
        (the config changed between runs); the series known so far move to their
        service's clock with what they learned (``Ensemble.set_zones``)."""
        self.settings = replace(self.settings, timezone=zone)
        self.zones = dict(zones or {})
        self.engine.use_timezone(zone)
        own = [self.zones.get(labels.get("service", "")) for labels in self.labels]
        self.engine.set_zones(np.arange(len(own)), own)

    def state_nbytes(self) -> int:
        """Bytes of engine state plus the context rings."""
        rings = self.ring.nbytes + self.ring_t.nbytes
        return self.engine.state_nbytes() + rings + self.counter.nbytes + self.raw.nbytes


class RecordDetector:
    """The multivariate face: one group per service over the aggregate record's features.

    Aggregate records (PRODUCT.md §1) carry the same features every time, so each service is
    one group of ``len(features)`` columns for the multivariate ensemble (Isolation Forest
    over windowed features by default); a new service grows the ensemble. It reports an
    unusual *combination* of features that no single series shows alone.
    """

    def __init__(
        self,
        features: Sequence[str],
        settings: Settings | None = None,
        report_above: float = REPORT_ABOVE,
        capacity: int = 8,
        zones: Mapping[str, str] | None = None,
    ) -> None:
        self.features = tuple(features)
        self.settings = settings or Settings()
        self.zones = dict(zones or {})
        self.report_above = report_above
        self.capacity = capacity
        self.ensemble = Ensemble(
            make_multivariate(self.settings.multivariate, capacity, len(self.features)),
            self.settings.threshold,
            self.settings.accept_after,
            min_age=self.settings.min_age,
            local_time=Clocks(self.settings.timezone),
        )
        self.index: dict[str, int] = {}
        self.services: list[str] = []
        self.last_t = np.full(capacity, -np.inf)

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if "zones" not in state:  # a checkpoint from before per-service zones
            self.zones = {}

    def use_timezone(self, zone: str, zones: Mapping[str, str] | None = None) -> None:
        """As ``StreamDetector.use_timezone``: each service's group on its clock."""
        self.settings = replace(self.settings, timezone=zone)
        self.zones = dict(zones or {})
        self.ensemble.use_local_time(zone)
        own = [self.zones.get(service) for service in self.services]
        self.ensemble.set_zones(np.arange(len(own)), own)

    def _ensure(self, service: str) -> int:
        j = self.index.get(service)
        if j is None:
            j = len(self.services)
            if j >= self.capacity:
                extra = self.capacity
                self.capacity *= 2
                self.ensemble.grow(self.capacity)
                self.last_t = np.concatenate([self.last_t, np.full(extra, -np.inf)])
            self.index[service] = j
            self.services.append(service)
            zone = self.zones.get(service)
            if zone is not None:
                self.ensemble.set_zones(np.array([j]), [zone])
        return j

    def score(self, rows: Sequence[tuple[str, float, Sequence[float]]]) -> list[Scored]:
        """Score (service, time, feature values) rows; one tick per rank within the batch."""
        per: dict[int, list[tuple[float, Sequence[float]]]] = {}
        for service, when, values in rows:
            j = self._ensure(service)
            per.setdefault(j, []).append((when, values))
        out: list[Scored] = []
        for j in per:
            per[j].sort(key=lambda r: r[0])
        depth = max((len(r) for r in per.values()), default=0)
        dim = len(self.features)
        for k in range(depth):
            t = np.full(self.capacity, np.nan)
            x = np.full((self.capacity, dim), np.nan)
            idx = []
            for j, seq in per.items():
                if len(seq) > k and seq[k][0] > self.last_t[j]:
                    t[j] = seq[k][0]
                    x[j] = np.asarray(seq[k][1], dtype=float)
                    idx.append(j)
            if not idx:
                continue
            sel = np.asarray(idx)
            t_fill = np.where(np.isnan(t), np.nanmax(t[sel]), t)
            step = self.ensemble.step(t_fill, x)
            self.last_t[sel] = t[sel]
            for j in sel[step.score[sel] >= self.report_above]:
                out.append(self._scored(int(j), step, float(t[j]), x[j]))
        return out

    def _scored(self, j: int, step: Step, t: float, row: np.ndarray) -> Scored:
        col = int(step.detail[j]) if np.isfinite(step.detail[j]) else 0
        col = min(max(col, 0), len(self.features) - 1)
        feature = self.features[col]
        service = self.services[j]
        exp, lo, hi = float(step.expected[j]), float(step.lower[j]), float(step.upper[j])
        value = float(row[col])
        reason = explain(feature, value, t, Kind.MULTIVARIATE, exp, lo, hi)
        labels = {"service": service, "feature": feature}
        return Scored(
            series=series_id("record", {"service": service}),
            metric="record",
            labels=labels,
            timestamp=t,
            value=value,
            score=float(step.score[j]),
            kind=Kind.MULTIVARIATE,
            expected=exp,
            lower=lo,
            upper=hi,
            reason=reason,
            young=not step.mature[j],
        )
