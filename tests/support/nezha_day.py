"""A small day folder in Nezha's own layout, for the tests of ``make eval``'s Nezha stage.

Four services of one pod each, a row a minute for a whole day, three CPU faults in the
early morning (the faulty pod's CPU five times its usual, its server latency up), the rest
of the day quiet; ``spike`` adds a memory spike on the frontend (a false alert, when it
falls in the held-out half of the quiet tail). The frontend calls the cart and payments,
payments calls email (``metric/dependency.csv``, with one edge to a host address as the
real file has); from a minute into the cart's fault the frontend's client latency
quadruples for three minutes (its calls to the cart are slow), so two services alert and
the likely origin is the one the other depends on. The email service's fault is a network
delay: nothing moves on its pod, only the latency of the calls to it from payments and the
frontend (``metric/source_50.csv.gz``, calls as their callers measure them) is five times
its usual for four minutes.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from anomalert.evaluate import nezha

DAY = "2024-03-04"
PODS = {
    "frontend": "frontend-6b7c8d9f-abcde",
    "cart": "cartservice-5f6d7c8b9-fghij",
    "pay": "paymentservice-7c8d9e0f1-klmno",
    "mail": "emailservice-8d9e0f1a2-pqrst",
}
FAULTS = [
    ("01:00:30", "cart", "cpu_contention"),
    ("01:10:30", "pay", "cpu_contention"),
    ("01:20:30", "mail", "network_delay"),
]
NODE_COLUMNS = ("NodeCpuUsageRate(%)", "NodeMemoryUsageRate(%)", "NodeNetworkReceiveBytes")


def _minutes() -> pd.DatetimeIndex:
    return pd.date_range(f"{DAY} 00:00:19", periods=24 * 60, freq="min", tz="UTC")


GRAPH_EDGES = [
    ("frontend", "cartservice"),
    ("frontend", "paymentservice"),
    ("paymentservice", "emailservice"),
    ("frontend", "emailservice"),
    ("cartservice", "10.0.0.7"),
]


def _at(stamps: pd.DatetimeIndex, hhmm: str) -> int:
    return int(stamps.get_loc(pd.Timestamp(f"{DAY} {hhmm}:19", tz="UTC")))


def _pod_frame(
    pod: str, seed: int, faults: list[str], spike: str | None = None, callee_slow: str | None = None
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = _minutes()
    rows = len(stamps)
    levels = {c: 10.0 + 3 * i for i, c in enumerate(nezha.POD_METRICS)}
    data = {c: level * (1 + 0.03 * rng.standard_normal(rows)) for c, level in levels.items()}
    for start in faults:
        at = _at(stamps, start[:5])
        hit = slice(at, at + 4)
        for column in ("CpuUsage(m)", "CpuUsageRate(%)"):
            data[column][hit] *= 5.0
        data["PodServerLatencyP90(s)"][hit] *= 1.5
    if spike is not None:
        at = _at(stamps, spike)
        data["MemoryUsage(Mi)"][at : at + 3] *= 4.0
    if callee_slow is not None:
        at = _at(stamps, callee_slow[:5]) + 1
        for column in (
            "PodClientLatencyP90(s)",
            "PodClientLatencyP95(s)",
            "PodClientLatencyP99(s)",
        ):
            data[column][at : at + 3] *= 4.0
    frame = pd.DataFrame(
        {
            "Time": [
                f"{s:%Y-%m-%d %H:%M:%S}.123456789 +0000 UTC m=+{i * 60}.5"
                for i, s in enumerate(stamps)
            ],
            "TimeStamp": (stamps.asi8 // 10**9),
            "PodName": pod,
            **data,
            **{c: 50.0 + rng.standard_normal(rows) for c in NODE_COLUMNS},
        }
    )
    return frame


def write_day(root: Path, spike: str | None = None, graph: bool = True) -> Path:
    """A Nezha-shaped day: metric/<pod>_metric.csv.gz, metric/dependency.csv (unless
    ``graph`` is false) and <day>-fault_list.json."""
    folder = root / DAY
    (folder / "metric").mkdir(parents=True)
    cart_fault = next(t for t, k, _ in FAULTS if k == "cart")
    for seed, (key, pod) in enumerate(PODS.items()):
        mine = [t for t, k, fault in FAULTS if k == key and fault != "network_delay"]
        frontend = key == "frontend"
        frame = _pod_frame(
            pod, seed, mine, spike if frontend else None, cart_fault if frontend else None
        )
        with gzip.open(folder / "metric" / f"{pod}_metric.csv.gz", "wt") as fh:
            frame.to_csv(fh, index=False)
    faults = {
        "01": [
            {
                "inject_time": f"{DAY} {t}",
                "inject_timestamp": "0",
                "inject_pod": PODS[key],
                "inject_type": fault,
            }
            for t, key, fault in FAULTS
        ]
    }
    (folder / f"{DAY}-fault_list.json").write_text(json.dumps(faults))
    if graph:
        edges = pd.DataFrame(GRAPH_EDGES, columns=["Source", "Target"]).assign(Weight=1)
        edges.to_csv(folder / "metric" / "dependency.csv", index=False)
    _call_latencies().to_csv(folder / "metric" / "source_50.csv.gz", index=False)
    (root / "root_cause_hipster.json").write_text(
        json.dumps({"cartservice": {"cpu_contention": "CpuUsageRate(%)"}})
    )
    return folder


def _call_latencies() -> pd.DataFrame:
    """Per-edge latency as the callers see it, a second after the pods' rows (as in the real
    files); the calls to email slow during the email service's network delay."""
    rng = np.random.default_rng(99)
    stamps = _minutes() + pd.Timedelta(seconds=1)
    rows = len(stamps)
    edges = [
        "frontend_cartservice",
        "frontend_paymentservice",
        "paymentservice_emailservice",
        "frontend_emailservice",
    ]
    data = {e: 0.004 * (1 + 0.05 * rng.standard_normal(rows)) for e in edges}
    delay = next(t for t, _, fault in FAULTS if fault == "network_delay")
    at = _at(_minutes(), delay[:5])
    data["paymentservice_emailservice"][at : at + 4] *= 5.0
    data["frontend_emailservice"][at : at + 4] *= 5.0
    return pd.DataFrame(
        {
            "time": [
                f"{s:%Y-%m-%d %H:%M:%S}.5 +0000 UTC m=+{i * 60}.5" for i, s in enumerate(stamps)
            ],
            "timestamp": stamps.asi8 // 10**9,
            **data,
        }
    )
