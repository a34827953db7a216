"""Counters are followed as their per-second rate, as Prometheus' ``rate()`` reads them.

Why: a counter (``http_requests_total``, a histogram's ``_bucket``, ``_count`` and ``_sum``)
only ever climbs, and drops to zero when its process restarts. Followed as it is, every
restart is a drop far outside the band (twelve one-minute counters restarting three times
each in two weeks paged 29 times, 27 of them at a restart), and what matters, how fast it
climbs, is a slope the engine does not score (none of six halvings of traffic paged). Its
rate is a gauge like any other: a deploy that restarts every pod leaves it where it was, and
traffic halving is a drop.

The increase between two samples is the difference of their values, or, when the value
fell, the later value itself (the counter restarted from zero and counted that much since:
Prometheus' reset rule, ``increase``). The rate at the later sample is the difference over
the seconds between them, and there is none where the value fell: the new process counted
for an unknown part of the interval (it had to start first), so the reset rule's increase
over the whole interval reads as a drop. With restarts that leave the new process 30 % of
its interval, 31 of 36 restarts paged as drops that way; a restart's sample, like a
counter's first, is taken (its value is what the next one is measured from) and yields no
point.

Which series are counters is the ingest's business (``Sample.counter``, set by
``ingest.counters``: remote_write's metadata and metric names, a JSON sample's ``type``); a
series keeps what its first sample said (``StreamDetector``), so metadata that arrives later
does not turn a followed gauge into a rate mid-stream.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

FloatLike = TypeVar("FloatLike", float, np.ndarray)


def increase(before: FloatLike, after: FloatLike) -> FloatLike:
    """How much a counter counted between two samples, across a restart (Prometheus' rule);
    elementwise on arrays.

    >>> increase(100.0, 130.0), increase(100.0, 7.0)
    (30.0, 7.0)
    """
    # Written so that a NaN before (no sample yet) gives NaN, not a restart.
    if isinstance(after, np.ndarray) or isinstance(before, np.ndarray):
        return np.where(after < before, after, after - before)
    return after if after < before else after - before


def rate(t0: FloatLike, v0: FloatLike, t1: FloatLike, v1: FloatLike) -> FloatLike:
    """Per second between two samples of a counter (``t1 > t0``); NaN where ``v0`` is (no
    sample before) and where the counter restarted in between (how long it counted since is
    not known: see the module's docstring).

    >>> rate(0.0, 100.0, 60.0, 130.0), rate(0.0, 100.0, 60.0, 7.0)
    (0.5, nan)
    """
    if isinstance(v1, np.ndarray) or isinstance(v0, np.ndarray):
        return np.where(v1 < v0, np.nan, v1 - v0) / (t1 - t0)
    return math.nan if v1 < v0 else (v1 - v0) / (t1 - t0)


def column_rates(t: np.ndarray, v: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """A counter column's rate at each row from the previous row with a value, NaN where
    there is none (the first value, a restart, a missing one, a row in ``skip``, a repeated
    time)."""
    out = np.full(v.shape, np.nan)
    ok = np.flatnonzero(~skip & np.isfinite(v))
    if ok.size > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ok[1:]] = rate(t[ok[:-1]], v[ok[:-1]], t[ok[1:]], v[ok[1:]])
    out[~np.isfinite(out)] = np.nan
    return out
