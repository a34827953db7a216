"""Aggregate records' error rates and latencies are followed over enough requests."""

from __future__ import annotations

import pickle

import pytest

from anomalert.config import parse_config
from anomalert.errors import ConfigError
from anomalert.ingest.recordpools import RecordConfig, RecordPools
from anomalert.ingest.records import FEATURES, Record
from anomalert.model import Sample
from benchmarks.noise import FAMILIES, flagged_rates

T = 1_767_623_280.0
BUSY = {
    "total_requests": 1200.0,
    "error_rate": 0.013,
    "latency_p99_ms": 840.0,
    "latency_p95_ms": 410.0,
    "latency_mean_ms": 120.5,
    "unique_users": 310.0,
    "unique_ips": 290.0,
    "risk_score": -0.2,
}
PER_REQUEST = ("error_rate", "latency_mean_ms", "latency_p95_ms", "latency_p99_ms")


def record(t: float, service: str = "checkout", window: float = 60.0, **values: float) -> Record:
    return Record(service, t, window, {**BUSY, **values})


def values(samples: list[Sample]) -> dict[str, float]:
    return {s.metric: s.value for s in samples}


def test_a_busy_record_is_followed_as_sent() -> None:
    """1,200 requests hold enough for every statistic: nothing pools, nothing changes."""
    pooled = RecordPools().take([record(T), record(T + 60.0)])
    assert pooled.waiting == 0
    assert pooled.samples == record(T).samples() + record(T + 60.0).samples()


def test_a_quiet_night_pools_each_statistic_until_it_has_enough_requests() -> None:
    """Five requests a minute: the error rate and the mean come once 100 requests are in
    (the twentieth minute), the p95 at 40 (the eighth), the p99 at 200 (the fortieth), each
    the requests-weighted mean of what it pooled; the window's own counts every minute."""
    pools = RecordPools()
    came: dict[str, list[tuple[int, float]]] = {name: [] for name in FEATURES}
    for minute in range(40):
        errors = 1.0 if minute % 10 == 0 else 0.0  # one error in every tenth minute
        quiet = record(
            T + 60.0 * minute,
            total_requests=5.0,
            error_rate=errors / 5.0,
            latency_p99_ms=300.0 + minute,
            latency_p95_ms=200.0 + minute,
            latency_mean_ms=100.0 + minute,
        )
        pooled = pools.take([quiet])
        for name, value in values(pooled.samples).items():
            came[name].append((minute, value))
        assert pooled.waiting == 8 - len(pooled.samples)
    for name in ("total_requests", "unique_users", "unique_ips", "risk_score"):
        assert [m for m, _ in came[name]] == list(range(40))
    assert [m for m, _ in came["error_rate"]] == [19, 39]
    assert [v for _, v in came["error_rate"]] == pytest.approx([2 / 100, 2 / 100])
    assert [v for _, v in came["latency_mean_ms"]] == pytest.approx([109.5, 129.5])
    assert [m for m, _ in came["latency_p95_ms"]] == [7, 15, 23, 31, 39]
    assert came["latency_p95_ms"][0][1] == pytest.approx(203.5)
    assert came["latency_p99_ms"] == [(39, pytest.approx(319.5))]


def test_a_pool_older_than_max_window_starts_again() -> None:
    """Twenty requests an hour, one record an hour: no pool gathers 100 requests within the
    hour, so neither an error rate nor a p99 ever comes (none of requests long past; the
    p95's 40 are not there either); with ``max_window`` at 12 hours the error rate comes every
    five records and the p99 at the tenth (200 requests since a start ten hours before)."""
    pools = RecordPools()
    came: list[str] = []
    for hour in range(12):
        quiet = record(T + 3600.0 * hour, window=3600.0, total_requests=20.0)
        came += [s.metric for s in pools.take([quiet]).samples]
    assert not set(came) & set(PER_REQUEST)
    wide = RecordPools(RecordConfig(max_window=12 * 3600.0))
    came = []
    for hour in range(12):
        quiet = record(T + 3600.0 * hour, window=3600.0, total_requests=20.0)
        came += [s.metric for s in wide.take([quiet]).samples]
    assert came.count("latency_p99_ms") == 1
    assert came.count("error_rate") == 2
    assert came.count("latency_p95_ms") == 6


def test_a_record_without_requests_adds_nothing() -> None:
    pools = RecordPools()
    idle = record(T, total_requests=0.0, error_rate=0.0, latency_p99_ms=0.0)
    pooled = pools.take([idle])
    assert set(values(pooled.samples)) == {
        "total_requests",
        "unique_users",
        "unique_ips",
        "risk_score",
    }
    assert pooled.waiting == 4
    after = pools.take([record(T + 60.0, total_requests=100.0, latency_mean_ms=90.0)])
    assert values(after.samples)["latency_mean_ms"] == 90.0  # the idle minute weighed nothing


def test_records_are_pooled_in_time_order_per_service_and_a_late_one_passes_through() -> None:
    pools = RecordPools()
    batch = [
        record(T + 60.0, "a", total_requests=60.0, error_rate=0.0),
        record(T, "a", total_requests=60.0, error_rate=0.5),
        record(T, "b", total_requests=60.0, error_rate=0.1),
    ]
    pooled = pools.take(batch)
    rates = [(s.labels["service"], s.timestamp, s.value) for s in pooled.samples]
    rates = [r for r, s in zip(rates, pooled.samples, strict=True) if s.metric == "error_rate"]
    assert rates == [("a", T + 60.0, pytest.approx(0.25))]
    late = pools.take([record(T + 30.0, "a", total_requests=1.0, error_rate=1.0)])
    assert late.samples == record(T + 30.0, "a", total_requests=1.0, error_rate=1.0).samples()


def test_pools_survive_a_pickle_and_forget_services_that_stopped() -> None:
    pools = RecordPools()
    pools.take([record(T, "a", total_requests=50.0), record(T, "b", total_requests=50.0)])
    pools.take([record(T + 600.0, "b", total_requests=50.0)])
    again = RecordPools()
    again.pools = pickle.loads(pickle.dumps(pools.pools))
    assert again.retire(T + 300.0) == 1
    assert list(again.pools) == ["b"]


@pytest.mark.parametrize(
    "records, field",
    [
        ({"tail_observations": -1}, "tail_observations"),
        ({"mean_observations": 0}, "mean_observations"),
        ({"max_window": "0s"}, "max_window"),
        ({"max_window": "soon"}, "max_window"),
        ({"quantiles": [0.5]}, "quantiles"),
    ],
)
def test_bad_settings_are_named(records: dict[str, object], field: str) -> None:
    base = {"route": {"receiver": "r"}, "receivers": [{"name": "r", "log": {}}]}
    with pytest.raises(ConfigError, match=rf"ingest\.records\.{field}"):
        parse_config({**base, "ingest": {"records": records}})


def test_a_records_p99_and_error_rate_through_a_day_of_traffic_keep_the_budget() -> None:
    """Twenty services' one-minute records of pure noise through two weeks of a day's
    traffic (300 requests a minute at the peak, 5 at night; ``benchmarks/noise.py``'s
    families): followed record by record, the p99 and the error rate raise 1.25 and 1.13
    alerts per 10,000 points (over the budget, at night); pooled as the service pools them,
    0.33 and 0.18."""
    for name in ("daily record p99", "daily record error rate"):
        rates = flagged_rates(FAMILIES[name], series=20, points=20_000, seeds=1)
        assert rates.runs <= 0.6, name
    raw = flagged_rates(FAMILIES["daily record error rate, per record"], 20, 20_000, seeds=1)
    assert raw.runs >= 0.8  # the same data, unpooled: the fault this guards against
