"""Quantiles of Prometheus histograms, from the cumulative buckets their counters carry.

Why: a histogram reaches us as one counter per bucket (``<family>_bucket{le="0.25"}``), a
dozen series per label set. Followed one by one, a latency regression alerts as some
buckets' rates rising and others' falling, in words no one on call reads as "p99 doubled".
What people watch is the quantile: here each scrape's bucket increases since the previous
one give ``<family>:p99`` (and the other configured quantiles) as Prometheus'
``histogram_quantile(0.99, rate(<family>_bucket[...]))`` computes it, a gauge followed like
any other; the buckets themselves are not followed unless asked (``keep_buckets``). The
mean, ``<family>:mean``, comes from ``_sum`` and ``_count`` the same way (``rate(_sum) /
rate(_count)``): the only latency a summary without quantiles gives (Python's
``prometheus_client``), and the one dashboards plot beside the percentiles; ``_sum`` and
``_count`` are still followed as counters (``_count``'s rate is the request rate).

A scrape's buckets share its timestamp but may come in different requests (remote_write
shards series over parallel queues): the buckets of each label set are gathered per
timestamp until as many have arrived as the label set's scrapes have had, then its
quantiles are computed from the increase since the last complete scrape (a bucket lower
than before restarted from zero, Prometheus' reset rule; cumulative counts made monotone,
as ``histogram_quantile`` does). A scrape never completed is dropped once a later one is;
a scrape without requests in it (no increase) gives no quantile. The first complete scrape
only sets where the increases start.

Each derived value is taken over enough observations, gathered over as many scrapes as it
takes (at most ``max_window``): a quantile over ``tail_observations / (1 - q)`` of them (two
expected beyond it: 200 for a p99, 4 for a median), a mean over ``mean_observations`` (100).
Why: a scrape's increase holds what was served in its interval, and at night a service may
serve five requests a minute, whose p99 is their largest, a draw from the far tail. Twelve
one-minute p99 series of a service serving 300 requests a minute at its daily peak and 5 at
night paged 36 times in three weeks, every week, each "p99 1.8 s" at three in the morning
(exactly the one-in-10,000 noise budget, and no incident); taken over 200 observations, once
(and per-scrape means 31 times, over 100 observations 3). A value over a fixed number of
observations is as noisy at night as at the peak, which the engine's per-series noise needs;
where traffic fills a scrape (300 a minute at the peak) every scrape still gives one, and a
30-minute tripling of latency still paged at once on all twelve at the peak, on 7 of 12 at
night (a p99 there comes every 40 minutes; the mean caught 12 of 12, 9 minutes late). A
label set that never gathers enough within ``max_window`` has no such value: a p99 of a
few dozen requests an hour is not one (its median and mean still come).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field, field_validator

from anomalert.configbase import Duration, StrictModel
from anomalert.detect.counters import increase
from anomalert.model import Sample

#: Scrapes of one label set kept waiting for their buckets (older ones are dropped).
MAX_PENDING = 8


class PoolingConfig(StrictModel):
    """How many observations a derived per-request statistic is taken over, and within how
    long: shared by histograms (``ingest.histograms``) and aggregate records
    (``ingest.records``), whose requests are pooled the same way (``Window``)."""

    #: Observations a quantile is taken over, counted as how many are expected beyond it
    #: (above a p99, below a p1): a p99 needs 200, a median 4 (``needed``).
    tail_observations: float = Field(default=2.0, ge=0.0)
    #: Observations a mean (a histogram's mean, a record's error rate or mean latency) is
    #: taken over.
    mean_observations: int = Field(default=100, ge=1)
    #: The longest a derived value gathers its observations; an older start is dropped.
    max_window: Duration = Field(default=3600.0, gt=0.0)


class HistogramConfig(PoolingConfig):
    """How histograms are followed (``ingest.histograms``), whichever way their counters came:
    remote_write, or JSON samples typed ``counter``."""

    #: The quantiles followed, each as ``<family>:p<100 q>`` (``[]``: none derived).
    quantiles: tuple[float, ...] = (0.5, 0.99)
    #: Also follow each bucket's rate as a series of its own.
    keep_buckets: bool = False
    #: Follow ``<family>:mean`` from the ``_sum`` and ``_count`` of histograms and summaries.
    means: bool = True

    @field_validator("quantiles")
    @classmethod
    def _in_range(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        for q in value:
            if not 0.0 < q < 1.0:
                raise ValueError(f"a quantile is between 0 and 1 (got {q})")
        if len(set(value)) != len(value):
            raise ValueError("each quantile once")
        return value


def needed(q: float, tail: float) -> int:
    """Observations a ``q`` quantile is taken over: ``tail`` expected beyond it.

    >>> needed(0.99, 2.0), needed(0.5, 2.0), needed(0.01, 2.0), needed(0.999, 0.0)
    (200, 4, 200, 1)
    """
    return max(1, math.ceil(round(tail / min(q, 1.0 - q), 6)))


def quantile_name(family: str, q: float) -> str:
    """``http_seconds:p99``, ``http_seconds:p99_9``: a Prometheus-valid metric name.

    >>> quantile_name("http_seconds", 0.5), quantile_name("http_seconds", 0.999)
    ('http_seconds:p50', 'http_seconds:p99_9')
    """
    return f"{family}:p{round(q * 100, 6):g}".replace(".", "_")


def histogram_quantile(q: float, bounds: np.ndarray, counts: np.ndarray) -> float:
    """Prometheus' ``histogram_quantile``: ``counts`` cumulative at each upper bound (the
    last one +Inf), linear within the bucket the rank falls in; NaN without observations.

    >>> histogram_quantile(0.5, np.array([1.0, 2.0, np.inf]), np.array([10.0, 30.0, 30.0]))
    1.25
    """
    counts = np.maximum.accumulate(counts)
    total = float(counts[-1])
    if not total > 0:
        return math.nan
    rank = q * total
    b = int(np.searchsorted(counts, rank, side="left"))
    if b >= bounds.size - 1:  # in the +Inf bucket: the highest finite bound
        return float(bounds[-2]) if bounds.size > 1 else math.nan
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    start = 0.0 if b == 0 else float(bounds[b - 1])
    below = 0.0 if b == 0 else float(counts[b - 1])
    inside = float(counts[b]) - below
    return start + (float(bounds[b]) - start) * ((rank - below) / inside)


@dataclass
class Window:
    """The increases one derived value has gathered since its last value."""

    start: float
    total: np.ndarray

    @staticmethod
    def add(
        window: Window | None, start: float, t: float, inc: np.ndarray, need: int, longest: float
    ) -> tuple[Window | None, np.ndarray | None]:
        """Add an increase (from ``start`` to ``t``) to ``window``: (what is still gathering,
        the whole once it holds ``need`` observations, counted by its last element: the
        +Inf bucket, a mean's calls). A window begun more than ``longest`` before ``t`` is
        dropped first: what it held is too old to speak for now."""
        if window is None or t - window.start > longest:
            window = Window(start, np.zeros_like(inc))
        window.total = window.total + inc
        if float(window.total[-1]) >= need:
            return None, window.total
        return window, None


#: A label set's parts: a bucket's upper bound, or the ``_sum`` / ``_count`` of a mean.
Part = float | str
#: What a label set gathers: ``BUCKETS`` for quantiles, ``MEAN`` for the mean.
BUCKETS, MEAN = "buckets", "mean"
SetKey = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass
class _LabelSet:
    """One histogram's label set (all labels but ``le``): its scrapes as they gather."""

    family: str
    labels: dict[str, str]
    kind: str = BUCKETS
    #: Buckets a complete scrape has had (the most seen at one timestamp).
    buckets: int = 0
    #: Scrape time -> {part: running total} while its parts come in.
    pending: dict[float, dict[Part, float]] = field(default_factory=dict)
    #: The last complete scrape: its time, upper bounds and cumulative counts (for a mean,
    #: no bounds and the running sum and count).
    last_t: float = -math.inf
    bounds: np.ndarray | None = None
    counts: np.ndarray | None = None
    #: Per derived value (a quantile, the mean), what it has gathered since its last value
    #: (None: nothing yet; a plain default, so a label set pickled before these existed
    #: loads with none).
    windows: dict[str, Window] | None = None


@dataclass(frozen=True)
class Taken:
    """What ``Histograms.take`` made of a batch."""

    #: The batch without the buckets (unless kept), with the quantiles derived.
    samples: list[Sample]
    #: Buckets taken into a quantile (or waiting to be): accepted, not followed.
    consumed: int
    #: Buckets at or before their label set's last complete scrape: out of order.
    late: list[Sample]
    #: Quantile and mean samples derived (in ``samples``).
    derived: int = 0


class Histograms:
    """Gathers histogram buckets per label set and scrape; derives their quantiles."""

    def __init__(self, config: HistogramConfig | None = None) -> None:
        self.config = config or HistogramConfig()
        self.sets: dict[SetKey, _LabelSet] = {}
        #: Per quantile: its window's key and the observations it needs (fixed by the config).
        self._quantiles = [
            (q, f"p{q}", needed(q, self.config.tail_observations)) for q in self.config.quantiles
        ]

    def take(self, samples: Sequence[Sample]) -> Taken:
        """The batch as the engine should follow it (see the module's docstring)."""
        quantiles, means = bool(self.config.quantiles), self.config.means
        if not (quantiles or means):
            return Taken(list(samples), 0, [])
        out: list[Sample] = []
        late: list[Sample] = []
        touched: dict[SetKey, _LabelSet] = {}
        consumed = 0
        for s in samples:
            bound = _bucket_bound(s) if quantiles else None
            if bound is not None:
                key, group = self._set(BUCKETS, s.metric[: -len("_bucket")], s.labels)
                if s.timestamp <= group.last_t:
                    late.append(s)
                    continue
                group.pending.setdefault(s.timestamp, {})[bound] = s.value
                touched[key] = group
                if not self.config.keep_buckets:
                    consumed += 1
                    continue
            out.append(s)
            mean = _mean_part(s) if means else None
            if mean is not None:  # followed as a counter too: a late one is the engine's
                key, group = self._set(MEAN, mean[0], s.labels)
                if s.timestamp > group.last_t:
                    group.pending.setdefault(s.timestamp, {})[mean[1]] = s.value
                    touched[key] = group
        derived = 0
        for group in touched.values():
            made = self._complete(group) if group.kind == BUCKETS else self._mean(group)
            while len(group.pending) > MAX_PENDING:
                del group.pending[min(group.pending)]
            derived += len(made)
            out.extend(made)
        return Taken(out, consumed, late, derived)

    def _set(self, kind: str, family: str, labels: dict[str, str]) -> tuple[SetKey, _LabelSet]:
        """The label set (all labels but ``le``) a part belongs to, and its key."""
        own = {k: v for k, v in labels.items() if k != "le"}
        key = (kind, family, tuple(sorted(own.items())))
        group = self.sets.get(key)
        if group is None:
            group = self.sets[key] = _LabelSet(family, own, kind)
        return key, group

    @staticmethod
    def _scrapes(
        group: _LabelSet, complete: Callable[[dict[Part, float]], bool]
    ) -> Iterator[tuple[float, dict[Part, float]]]:
        """The label set's scrapes that have all their parts, in time order, each taken out
        of ``pending`` with any older one never completed."""
        for t in sorted(group.pending):
            got = group.pending.get(t)
            if got is None or not complete(got):
                continue
            for older in [u for u in group.pending if u <= t]:
                del group.pending[older]
            yield t, got

    def retire(self, before: float) -> int:
        """Forget the label sets without a bucket since ``before`` (a replaced pod's): the
        same churn the engine's series retire for (``StreamDetector.retire``)."""
        gone = [
            key
            for key, group in self.sets.items()
            if max(group.last_t, max(group.pending, default=-math.inf)) < before
        ]
        for key in gone:
            del self.sets[key]
        return len(gone)

    def _complete(self, group: _LabelSet) -> list[Sample]:
        """Quantile samples of the label set's scrapes that have all their buckets."""
        out: list[Sample] = []
        group.buckets = max(group.buckets, *(len(b) for b in group.pending.values()))

        def complete(got: dict[Part, float]) -> bool:
            return len(got) >= group.buckets and math.inf in got

        for t, got in self._scrapes(group, complete):
            bounds = np.array(sorted(got))
            counts = np.array([got[b] for b in bounds])
            same = group.bounds is not None and np.array_equal(bounds, group.bounds)
            if same and group.counts is not None:
                inc = increase(group.counts, counts)
                for q, key, need in self._quantiles:
                    window = self._gather(group, key, t, inc, need)
                    v = math.nan if window is None else histogram_quantile(q, bounds, window)
                    if math.isfinite(v):
                        out.append(Sample(quantile_name(group.family, q), group.labels, t, v))
            else:  # new bounds: what was gathered counted another histogram's buckets
                group.windows = None
            group.last_t, group.bounds, group.counts = t, bounds, counts
        return out

    def _gather(
        self, group: _LabelSet, key: str, t: float, inc: np.ndarray, need: int
    ) -> np.ndarray | None:
        """What the derived value ``key`` has gathered with this scrape's increase (since
        ``group.last_t``), once it holds ``need`` observations (``Window.add``)."""
        windows = group.windows if group.windows is not None else {}
        group.windows = windows
        left, whole = Window.add(
            windows.pop(key, None), group.last_t, t, inc, need, self.config.max_window
        )
        if left is not None:
            windows[key] = left
        return whole

    def _mean(self, group: _LabelSet) -> list[Sample]:
        """Mean samples of the label set's scrapes that have both their sum and count."""
        out: list[Sample] = []
        for t, got in Histograms._scrapes(group, lambda got: len(got) == 2):
            totals = np.array([got["sum"], got["count"]])
            if group.counts is not None:
                inc = increase(group.counts, totals)
                window = self._gather(group, "mean", t, inc, self.config.mean_observations)
                if window is not None:
                    mean = float(window[0] / window[1])
                    out.append(Sample(f"{group.family}:mean", group.labels, t, mean))
            group.last_t, group.counts = t, totals
        return out


def _mean_part(s: Sample) -> tuple[str, str] | None:
    """(family, "sum" or "count") of a histogram's or summary's ``_sum`` / ``_count``."""
    if s.counter:
        for suffix in ("_sum", "_count"):
            if s.metric.endswith(suffix):
                return s.metric[: -len(suffix)], suffix[1:]
    return None


def _is_bucket(metric: str, counter: bool) -> bool:
    """Whether a sample is a histogram bucket's (a counter named ``*_bucket``; a gauge so
    named is followed as itself). One rule for what ingest checks (:func:`bucket_problem`)
    and what is gathered (:func:`_bucket_bound`), so the two cannot drift apart.
    """
    return counter and metric.endswith("_bucket")


def bucket_problem(metric: str, labels: Mapping[str, str], counter: bool) -> str | None:
    """Why a counter named ``*_bucket`` is no histogram bucket, as ``labels.le: ...``; None
    when it is one (or is no such counter). Ingest refuses it, naming ``le``: taken, it would
    be followed as a counter of its own, in no quantile, and nobody would hear why.

    >>> bucket_problem("rpc_seconds_bucket", {"le": "NaN"}, True)
    'labels.le: must be a number or +Inf (got "NaN")'
    """
    if not _is_bucket(metric, counter):
        return None
    le = labels.get("le")
    if le is None:
        return "labels.le: required (a histogram bucket's upper bound, a number or +Inf)"
    if _bound(le) is None:
        return f'labels.le: must be a number or +Inf (got "{le[:40]}")'
    return None


def _bucket_bound(s: Sample) -> float | None:
    """The upper bound of a histogram bucket's sample (None: not a bucket)."""
    if not _is_bucket(s.metric, s.counter):
        return None
    le = s.labels.get("le")
    return None if le is None else _bound(le)


def _bound(le: str) -> float | None:
    """A bucket's upper bound from its ``le`` label (None: not a number, or NaN)."""
    try:
        bound = float(le)
    except ValueError:
        return None
    return None if math.isnan(bound) else bound
