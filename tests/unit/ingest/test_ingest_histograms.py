"""Histograms from remote_write are followed as their quantiles, as histogram_quantile()."""

from __future__ import annotations

import contextlib
import math
import pickle
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram

from anomalert.config import parse_config
from anomalert.errors import ConfigError
from anomalert.ingest.counters import CounterNames
from anomalert.ingest.histograms import (
    HistogramConfig,
    Histograms,
    histogram_quantile,
    quantile_name,
)
from anomalert.ingest.remote_write import decode
from anomalert.model import Sample
from benchmarks.noise import FAMILIES, flagged_rates
from tests.support.procs import wait_until
from tests.support.prometheus import running_prometheus, serving_metrics

T = 1_767_623_280.0
BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, math.inf)
LABELS = {"service": "api", "route": "/pay"}
FAMILY = "http_request_duration_seconds"


def cumulative(latencies: np.ndarray) -> np.ndarray:
    """Cumulative counts of the observations at each upper bound."""
    return np.array([np.count_nonzero(latencies <= b) for b in BOUNDS], dtype=float)


def scrape(t: float, counts: np.ndarray, **extra: str) -> list[Sample]:
    """One scrape's bucket samples, as remote_write marks them (counters)."""
    le = [("+Inf" if math.isinf(b) else f"{b:g}") for b in BOUNDS]
    return [
        Sample(f"{FAMILY}_bucket", {**LABELS, **extra, "le": e}, t, float(c), counter=True)
        for e, c in zip(le, counts, strict=True)
    ]


def test_quantiles_interpolate_within_a_bucket_as_prometheus_does() -> None:
    bounds = np.array(BOUNDS)
    counts = np.array([0.0, 10.0, 60.0, 90.0, 100.0, 100.0])
    assert histogram_quantile(0.5, bounds, counts) == pytest.approx(0.1 + 0.15 * (40 / 50))
    assert histogram_quantile(0.99, bounds, counts) == pytest.approx(0.5 + 0.5 * (9 / 10))
    # The rank in the +Inf bucket: the highest finite bound; in the first, from zero.
    assert histogram_quantile(0.99, bounds, np.array([0, 0, 0, 0, 50.0, 100.0])) == 1.0
    assert histogram_quantile(0.5, bounds, np.array([100.0] * 6)) == pytest.approx(0.025)
    assert math.isnan(histogram_quantile(0.5, bounds, np.zeros(6)))  # no requests
    # Counts that are not monotone (buckets scraped a moment apart) are made so.
    assert histogram_quantile(0.5, bounds, np.array([0, 10, 60, 55, 100, 100.0])) == (
        histogram_quantile(0.5, bounds, np.array([0, 10, 60, 60, 100, 100.0]))
    )
    assert quantile_name(FAMILY, 0.99) == f"{FAMILY}:p99"


def test_the_median_of_many_requests_lands_in_its_bucket() -> None:
    latencies = np.random.default_rng(1).lognormal(np.log(0.2), 0.5, 20_000)
    p50 = histogram_quantile(0.5, np.array(BOUNDS), cumulative(latencies))
    assert 0.1 < p50 < 0.25 and abs(p50 - np.median(latencies)) < 0.05


def test_each_scrape_after_the_first_gives_its_quantiles_and_no_bucket_is_followed() -> None:
    rng = np.random.default_rng(2)
    first = cumulative(rng.lognormal(np.log(0.2), 0.5, 1000))
    calls = rng.lognormal(np.log(0.2), 0.5, 600)
    hist = Histograms()
    gauge = Sample("up", {"service": "api"}, T, 1.0)
    taken = hist.take([*scrape(T, first), gauge])
    assert taken.samples == [gauge] and taken.consumed == 6 and taken.derived == 0
    taken = hist.take(scrape(T + 15.0, first + cumulative(calls)))
    assert taken.consumed == 6 and taken.late == [] and taken.derived == 2
    inc = cumulative(calls)
    assert [(s.metric, s.labels, s.timestamp) for s in taken.samples] == [
        (f"{FAMILY}:p50", LABELS, T + 15.0),
        (f"{FAMILY}:p99", LABELS, T + 15.0),
    ]
    expected = [histogram_quantile(q, np.array(BOUNDS), inc) for q in (0.5, 0.99)]
    assert [s.value for s in taken.samples] == pytest.approx(expected)
    assert not any(s.counter for s in taken.samples)


def test_a_scrape_split_over_two_requests_counts_once_complete() -> None:
    """remote_write shards series over parallel queues: a scrape's buckets may be apart."""
    base = np.array([0, 20, 120, 180, 200, 200.0])
    hist = Histograms()
    hist.take(scrape(T, base))
    second = scrape(T + 15.0, base * 2)
    assert hist.take(second[:3]).samples == []  # half the buckets: wait
    done = hist.take(second[3:]).samples
    assert [s.value for s in done] == pytest.approx(
        [histogram_quantile(q, np.array(BOUNDS), base) for q in (0.5, 0.99)]
    )
    # A scrape never completed is dropped once a later one is; its late buckets are late.
    third, fourth = scrape(T + 30.0, base * 3), scrape(T + 45.0, base * 4)
    hist.take(third[:2])
    assert len(hist.take(fourth).samples) == 2
    assert hist.take(third[2:]).late == third[2:]


def test_a_restart_resets_every_bucket_and_a_quiet_scrape_gives_nothing() -> None:
    base = np.array([0, 20, 120, 180, 200, 200.0])
    hist = Histograms()
    hist.take(scrape(T, base * 50))
    restarted = hist.take(scrape(T + 15.0, base)).samples  # the new process counted base
    assert [s.value for s in restarted] == pytest.approx(
        [histogram_quantile(q, np.array(BOUNDS), base) for q in (0.5, 0.99)]
    )
    assert hist.take(scrape(T + 30.0, base)).samples == []  # no request in between


def test_kept_buckets_and_label_sets_apart() -> None:
    base = np.array([0, 20, 120, 180, 200, 200.0])
    hist = Histograms(HistogramConfig(quantiles=(0.9,), keep_buckets=True))
    a, b = scrape(T, base, pod="a"), scrape(T, base * 3, pod="b")
    taken = hist.take(a + b)
    assert taken.samples == a + b and taken.consumed == 0
    taken = hist.take(scrape(T + 15.0, base * 2, pod="a") + scrape(T + 15.0, base * 4, pod="b"))
    quantiles = [s for s in taken.samples if s.metric == f"{FAMILY}:p90"]
    assert sorted(s.labels["pod"] for s in quantiles) == ["a", "b"]
    assert len(taken.samples) == 12 + 2
    assert Histograms(HistogramConfig(quantiles=())).take(a).samples == a


def test_label_sets_that_stopped_are_forgotten() -> None:
    base = np.array([0, 20, 120, 180, 200, 200.0])
    hist = Histograms()
    hist.take(scrape(T, base, pod="a") + scrape(T + 60.0, base, pod="b")[:2])
    assert hist.retire(T + 30.0) == 1  # a; b is still gathering its scrape
    assert [labels for _, _, labels in hist.sets] == [(*sorted({**LABELS, "pod": "b"}.items()),)]


def totals(t: float, spent: float, calls: float, **extra: str) -> list[Sample]:
    """A summary's (or histogram's) running ``_sum`` and ``_count`` at one scrape."""
    labels = {**LABELS, **extra}
    return [
        Sample(f"{FAMILY}_sum", labels, t, spent, counter=True),
        Sample(f"{FAMILY}_count", labels, t, calls, counter=True),
    ]


def test_the_mean_comes_from_sum_and_count_which_stay_followed() -> None:
    hist = Histograms()
    first = totals(T, 50.0, 400.0)
    assert hist.take(first).samples == first  # followed as counters; nothing to divide yet
    second = totals(T + 15.0, 50.0 + 30.0, 400.0 + 120.0)
    taken = hist.take(second[:1])  # the sum alone (another shard has the count)
    assert taken.samples == second[:1] and taken.derived == 0
    taken = hist.take(second[1:])
    assert taken.samples[0] == second[1] and taken.derived == 1 and taken.consumed == 0
    mean = taken.samples[1]
    assert (mean.metric, mean.labels, mean.timestamp) == (f"{FAMILY}:mean", LABELS, T + 15.0)
    assert mean.value == pytest.approx(30.0 / 120.0)
    # No request in between: no mean; a restart: the new process's totals.
    assert hist.take(totals(T + 30.0, 80.0, 520.0)).derived == 0
    restarted = hist.take(totals(T + 45.0, 40.0, 200.0)).samples[-1]
    assert restarted.value == pytest.approx(0.2)
    # A late part is the engine's to report (it is followed): not gathered again.
    again = hist.take(totals(T + 30.0, 80.0, 520.0))
    assert again.derived == 0 and again.late == []
    assert Histograms(HistogramConfig(means=False)).take(first + second).derived == 0


def test_a_gauge_named_like_a_sum_is_not_divided() -> None:
    """Only counters take part (``Sample.counter``): a gauge ``queue_sum`` is a gauge."""
    gauge = Sample("queue_sum", LABELS, T, 3.0)
    hist = Histograms()
    assert hist.take([gauge]).samples == [gauge] and hist.sets == {}


@pytest.mark.parametrize(
    "histograms, says",
    [({"quantiles": [1.5]}, "between 0 and 1"), ({"quantiles": [0.5, 0.5]}, "each quantile once")],
)
def test_bad_quantiles_are_named(histograms: dict[str, object], says: str) -> None:
    base = {"route": {"receiver": "r"}, "receivers": [{"name": "r", "log": {}}]}
    with pytest.raises(ConfigError, match=rf"ingest\.histograms\.quantiles.*{says}"):
        parse_config({**base, "ingest": {"histograms": histograms}})


def test_a_real_prometheus_histogram_becomes_its_quantiles(
    tmp_path: Path,
    receiver: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    """prometheus_client's histogram scraped and remote-written by a real Prometheus: the
    buckets (``le`` as Prometheus writes it, ``+Inf``) become a median near the truth."""
    url, bodies = receiver
    registry = CollectorRegistry()
    latency = Histogram(
        "app_request_seconds", "Latency", ["service"], registry=registry, buckets=BOUNDS[:-1]
    ).labels(service="api")
    stop = threading.Event()

    def serve() -> None:
        rng = np.random.default_rng(3)
        while not stop.is_set():
            for v in rng.uniform(0.1, 0.25, 50):  # the median 0.175
                latency.observe(float(v))
            time.sleep(0.05)

    names, hist, medians = CounterNames(), Histograms(), []

    def derived() -> bool:
        while bodies:
            taken = hist.take(decode(bodies.pop(0)[1], counters=names).samples)
            medians.extend(s.value for s in taken.samples if s.metric.endswith(":p50"))
        return len(medians) >= 3

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        with contextlib.ExitStack() as stack:
            target = stack.enter_context(serving_metrics(registry))
            stack.enter_context(running_prometheus(tmp_path, [target], remote_write_url=url))
            wait_until(derived, timeout=30, what="quantiles of a remote-written histogram")
    finally:
        stop.set()
        worker.join(timeout=5)
    assert all(0.1 <= m <= 0.25 for m in medians), medians


def quiet_scrapes(
    hist: Histograms, per_scrape: int, scrapes: int, seed: int = 4
) -> tuple[dict[str, list[tuple[int, float]]], np.ndarray]:
    """A minute's scrapes of a label set serving ``per_scrape`` requests each (its buckets,
    sum and count): every derived value as (scrape, value), and every latency served."""
    rng = np.random.default_rng(seed)
    seen = np.zeros(0)
    hist.take(scrape(T, cumulative(seen)) + totals(T, 0.0, 0.0))
    got: dict[str, list[tuple[int, float]]] = {}
    for k in range(1, scrapes + 1):
        seen = np.concatenate([seen, rng.lognormal(np.log(0.2), 0.5, per_scrape)])
        t = T + 60.0 * k
        taken = hist.take(scrape(t, cumulative(seen)) + totals(t, seen.sum(), seen.size))
        for s in taken.samples:
            if ":" in s.metric:
                got.setdefault(s.metric.split(":")[1], []).append((k, s.value))
    return got, seen


def test_a_quantile_waits_for_its_observations_over_quiet_scrapes() -> None:
    """Five requests a minute (a service at night): a scrape's p99 would be the largest of
    five. The median comes every scrape (it needs 4), the p99 once 200 are in, over all of
    them, the mean once 100 are."""
    got, seen = quiet_scrapes(Histograms(), per_scrape=5, scrapes=40)
    assert [k for k, _ in got["p50"]] == list(range(1, 41))
    assert got["p99"] == [
        (40, pytest.approx(histogram_quantile(0.99, np.array(BOUNDS), cumulative(seen))))
    ]
    assert [k for k, _ in got["mean"]] == [20, 40]
    assert got["mean"][0][1] == pytest.approx(seen[:100].mean())
    assert got["mean"][1][1] == pytest.approx(seen[100:].mean())


def test_what_waits_longer_than_max_window_is_dropped() -> None:
    """A request a minute and a p99 over 50 of them: within two hours, every 50 minutes;
    within half an hour, never (a p99 of last hour's requests does not speak for now)."""
    config = {"quantiles": (0.99,), "tail_observations": 0.5, "means": False}
    hours = Histograms(HistogramConfig(**config, max_window=7200.0))
    assert [k for k, _ in quiet_scrapes(hours, 1, 120)[0]["p99"]] == [50, 100]
    half = Histograms(HistogramConfig(**config, max_window="30m"))
    assert quiet_scrapes(half, 1, 120)[0] == {}


def test_new_bounds_drop_what_the_old_ones_gathered() -> None:
    """A histogram redefined with a bucket more (a deploy): its earlier increases counted
    other buckets, so the p99 gathers again from the first scrape with the new bounds."""

    def wider(t: float, counts: np.ndarray, at_2_5: float) -> list[Sample]:
        le = {**LABELS, "le": "2.5"}
        return [*scrape(t, counts), Sample(f"{FAMILY}_bucket", le, t, at_2_5, counter=True)]

    hist = Histograms(HistogramConfig(quantiles=(0.99,), means=False))
    base = np.array([0, 20, 60, 90, 100, 100.0])
    hist.take(scrape(T, base * 0))
    assert hist.take(scrape(T + 60.0, base)).samples == []  # 100 of 200
    assert hist.take(wider(T + 120.0, base * 2, 200.0)).samples == []  # new bounds
    assert hist.take(wider(T + 180.0, base * 3.5, 350.0)).samples == []  # 150 since
    assert len(hist.take(wider(T + 240.0, base * 4, 400.0)).samples) == 1  # 200 since


def test_a_label_set_pickled_before_windows_existed_loads_and_gathers() -> None:
    """A checkpoint from before ``ingest.histograms.tail_observations`` (no ``windows``)."""
    base = np.array([0, 20, 120, 180, 200, 200.0])
    hist = Histograms()
    hist.take(scrape(T, base))
    for group in hist.sets.values():
        del group.__dict__["windows"]
    hist.sets = pickle.loads(pickle.dumps(hist.sets))
    assert len(hist.take(scrape(T + 15.0, base * 2)).samples) == 2


@pytest.mark.parametrize(
    "histograms, field",
    [
        ({"tail_observations": -1}, "tail_observations"),
        ({"mean_observations": 0}, "mean_observations"),
        ({"max_window": "0s"}, "max_window"),
        ({"max_window": "soon"}, "max_window"),
    ],
)
def test_bad_window_settings_are_named(histograms: dict[str, object], field: str) -> None:
    base = {"route": {"receiver": "r"}, "receivers": [{"name": "r", "log": {}}]}
    with pytest.raises(ConfigError, match=rf"ingest\.histograms\.{field}"):
        parse_config({**base, "ingest": {"histograms": histograms}})


def test_a_p99_through_a_day_of_traffic_does_not_page_at_night() -> None:
    """Twenty p99 series of a service serving 300 requests a minute at its peak and 5 at
    night, two weeks each (``benchmarks/noise.py``'s family): taken over 200 observations
    as the service takes them, no alert; a scrape's own p99 (the largest of a handful at
    night) raised 0.78 per 10,000 points on the same data, 31 alerts."""
    rates = flagged_rates(FAMILIES["daily histogram p99"], series=20, points=20_000, seeds=1)
    assert rates.runs <= 0.2
