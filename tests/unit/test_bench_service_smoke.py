"""The service bench on tiny sizes: it runs end to end and its counts add up (speed is never
asserted: a test on a shared 2-core machine cannot say anything true about it)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from anomalert.ingest.remote_write import encode_write_request
from benchmarks.bench_service import (
    Throughput,
    combined,
    json_body,
    main,
    make_plan,
    make_workload,
)


def test_plans_split_every_round_over_the_clients_without_losing_a_sample() -> None:
    workload = make_workload(services=7, metrics=3, now=1.7e9)
    plan = make_plan(workload, range(4), clients=2, batch=5, encode=json_body)
    assert plan.samples == 7 * 3 * 4
    sent = [len(json.loads(body)["samples"]) for bodies in plan.bodies for body in bodies]
    assert sum(sent) == plan.samples and max(sent) <= 5
    first = json.loads(plan.bodies[0][0])["samples"][0]
    assert first["timestamp"] == workload.start and first["labels"]["service"] == "svc00000"
    protobuf = make_plan(workload, range(4), clients=2, batch=5, encode=encode_write_request)
    assert [len(b) for b in protobuf.bodies] == [len(b) for b in plan.bodies]


def test_stage_times_add_up_per_sample() -> None:
    parse, ingest = Throughput(100, 100, 1.0), Throughput(100, 100, 3.0)
    assert combined(parse, ingest)["rate"] == 25.0


def test_a_tiny_run_through_the_real_service_counts_every_sample(tmp_path: Path) -> None:
    out = tmp_path / "service.json"
    started = time.time()
    results = main(
        [
            "--services=6",
            "--metrics=2",
            "--rounds=2",
            "--batch=5",
            "--clients=2",
            "--latency-services=3",
            "--warmup-points=160",
            "--spike-gap=0.05",
            "--inprocess-rounds=2",
            "--scale-series=40",
            f"--json={out}",
        ]
    )
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    series = 6 * 2
    assert results["sizes"]["series"] == series
    http = results["http"]
    assert http["new_series"]["sent"] == series
    for name in ("json", "remote_write"):
        assert http[name]["sent"] == http[name]["accepted"] == series * 2
        assert http[name]["requests"] == 2 * 2 * 2  # rounds x clients x bodies of <= 5
        assert http[name]["rate"] > 0
    for name in ("json_parse", "remote_write_decode", "detector", "app_ingest"):
        stage = results["inprocess"][name]
        assert stage["sent"] == stage["accepted"] == series * 2 and stage["rate"] > 0
    for name in ("json_path", "remote_write_path", "json_path_gc_tuned"):
        assert results["inprocess"][name]["rate"] > 0
    lat = results["latency"]
    assert lat["sent"] == lat["received"] == 3
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"] < time.time() - started
    scale = results["scale"]
    assert scale["series"] == 40  # checkpointed, restored, every series followed again
    assert scale["checkpoint_mb"] > 0 and scale["round_rate"] > 0
    hotspots = results["hotspots"]
    assert 0 < len(hotspots) <= 10
    assert all(h["calls"] > 0 and h["cumtime"] >= h["tottime"] >= 0 for h in hotspots)
