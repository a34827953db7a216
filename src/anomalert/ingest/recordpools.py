"""Aggregate records' per-request statistics, each taken over enough requests.

Why: a record's ``error_rate`` and latencies are statistics of the requests in its window,
and at night a service may serve five a minute. The p99 of five requests is their largest,
a draw from the far tail; their error rate is 0, 20 % or 40 %. Followed record by record, a
quiet night reads as an incident: twelve services sending one-minute records of pure noise
(300 requests a minute at the daily peak, 5 at night, 1 % errors, lognormal latencies) raised
in three weeks 39 alerts on ``latency_p99_ms``, 41 on ``latency_p95_ms``, 29 on
``latency_mean_ms`` and 19 on ``error_rate``, almost all at night: "error_rate 0.5" of two
requests at three in the morning. Histograms had the same fault (``ingest.histograms``), and
the same cure: each per-request statistic is pooled over the service's records until it
covers enough requests, then followed as one value.

* ``error_rate`` and ``latency_mean_ms`` pool exactly: the requests-weighted mean of the
  records' values is the error rate and mean of all their requests. Taken over
  ``mean_observations`` requests (100).
* ``latency_p95_ms`` and ``latency_p99_ms`` are taken over as many requests as put
  ``tail_observations`` beyond the quantile (2: 40 for a p95, 200 for a p99), as a
  histogram's. A quantile does not pool: their value is the requests-weighted mean of the
  records' own quantiles, which is not the quantile of the pooled requests (of five
  requests, a sender's p99 is their largest, nearer their p80), but it moves as the latency
  moves (a regression that triples it triples the mean) and its noise falls with the
  requests pooled. Where one record holds enough (the peak), it is followed as sent.
* ``total_requests``, ``unique_users``, ``unique_ips`` and ``risk_score`` are the window's
  own and pass through every record.

A pool begun more than ``max_window`` (1h) before a record is dropped first (``Window.add``):
a service that never serves enough within it has no such value rather than one of requests
long past. A record without requests adds nothing to a pool. A record at or before its
service's last one is passed through unpooled: the engine refuses it as out of order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from anomalert.ingest.histograms import PoolingConfig, Window, needed
from anomalert.ingest.records import Record
from anomalert.model import Sample

#: The per-request statistics of a record, each with its quantile (None: pooled as a mean).
PER_REQUEST: dict[str, float | None] = {
    "error_rate": None,
    "latency_mean_ms": None,
    "latency_p95_ms": 0.95,
    "latency_p99_ms": 0.99,
}


class RecordConfig(PoolingConfig):
    """How aggregate records' per-request statistics are followed (``ingest.records``): the
    observations are the records' requests."""


@dataclass
class _Pool:
    """One service's per-request statistics as they gather."""

    last_t: float = -math.inf
    windows: dict[str, Window] = field(default_factory=dict)


@dataclass(frozen=True)
class Pooled:
    """What ``RecordPools.take`` made of a batch of records."""

    #: The records' samples as the engine should follow them, in the records' order.
    samples: list[Sample]
    #: Per-request statistics taken into a pool that is still gathering: accepted, not
    #: followed yet.
    waiting: int


class RecordPools:
    """Pools each service's per-request statistics over enough requests."""

    def __init__(self, config: RecordConfig | None = None) -> None:
        self.config = config or RecordConfig()
        self.pools: dict[str, _Pool] = {}
        tail, mean = self.config.tail_observations, self.config.mean_observations
        #: The requests each per-request statistic needs (fixed by the config).
        self._needs = {
            name: mean if q is None else needed(q, tail) for name, q in PER_REQUEST.items()
        }

    def take(self, records: Sequence[Record]) -> Pooled:
        """The records' samples, per-request statistics pooled (see the module docstring)."""
        out: list[Sample] = []
        waiting = 0
        for record in sorted(records, key=lambda r: r.timestamp):
            pool = self.pools.setdefault(record.service, _Pool())
            if record.timestamp <= pool.last_t:
                out += record.samples()
                continue
            pool.last_t = record.timestamp
            requests = record.values["total_requests"]
            for sample in record.samples():
                need = self._needs.get(sample.metric)
                if need is None:
                    out.append(sample)
                    continue
                value = self._pooled(pool, record, sample.metric, requests, need)
                if value is None:
                    waiting += 1
                else:
                    out.append(Sample(sample.metric, sample.labels, sample.timestamp, value))
        return Pooled(out, waiting)

    def _pooled(
        self, pool: _Pool, record: Record, name: str, requests: float, need: int
    ) -> float | None:
        """The statistic ``name`` over enough requests once this record completes it."""
        value = record.values[name]
        window = pool.windows.pop(name, None)
        if window is None and requests >= need:
            return value  # enough in the record itself: as sent
        if not requests > 0:  # nothing to add; the pool waits as it was
            if window is not None:
                pool.windows[name] = window
            return None
        inc = np.array([value * requests, requests])
        left, whole = Window.add(
            window,
            record.timestamp - record.window,
            record.timestamp,
            inc,
            need,
            self.config.max_window,
        )
        if left is not None:
            pool.windows[name] = left
        return None if whole is None else float(whole[0] / whole[1])

    def retire(self, before: float) -> int:
        """Forget the services without a record since ``before`` (as the engine's series)."""
        gone = [name for name, pool in self.pools.items() if pool.last_t < before]
        for name in gone:
            del self.pools[name]
        return len(gone)
