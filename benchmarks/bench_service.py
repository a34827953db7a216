"""``make bench``, service part: what a user's sample costs on its way through the running service.

Four measures, because one end-to-end number does not say where the time goes:

1. JSON ingest through ``POST /api/v1/samples`` of the real ``anomalert run`` process (the
   client lives in this process, so it does not compete with the server for its GIL);
2. the same samples through ``POST /api/v1/write`` (Prometheus remote_write);
3. latency from a spike's arrival to its notification reaching a webhook (group_wait 0s),
   which the service's 1 s background tick bounds from below;
4. the same work in process, stage by stage (parse, decode, detector, ``App.ingest``), and
   a cProfile of the JSON path, so a slow HTTP figure can be pinned on a stage.

Request bodies are serialised before the clock starts; timestamps sit near "now" because the
live endpoints refuse samples older than an hour. Figures on a small, noisy machine: compare
ratios within one run, not across runs. Nothing here is asserted in tests but sanity.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import os
import pstats
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.stream import StreamDetector
from anomalert.ingest.counters import CounterNames
from anomalert.ingest.remote_write import decode_write_request, encode_write_request
from anomalert.ingest.samples import parse_samples
from anomalert.ingest.timecheck import TimeWindow
from anomalert.model import Sample
from anomalert.service import Loops
from anomalert.store import Store

#: Seconds between two rounds of the same series (round k is at ``start + STEP * k``).
STEP = 10.0
#: The latency bench's calm history: a little over two days, so its series may alert.
HISTORY_SPAN = 2.1 * 86_400.0
#: Round 0 is this long before "now": inside the live endpoints' one-hour window.
LOOKBACK = 3000.0
#: Targets of the brief, printed beside the figures (never asserted).
TARGET_RATE = 100_000.0
TARGET_P99 = 1.0
JSON_TYPE = "application/json"
PROTOBUF_TYPE = "application/x-protobuf"
Encoder = Callable[[Sequence[Sample]], bytes]
#: The service's background pass period: a notification waits up to this for its flush.
LOOP_INTERVAL = next(f.default for f in fields(Loops) if f.name == "interval")


# -- workload ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """N series with a level each; round k gives every series one noisy point at one time."""

    keys: list[tuple[str, dict[str, str]]] = field(hash=False)
    base: np.ndarray = field(hash=False)
    start: float
    seed: int = 0

    def round(self, k: int) -> list[Sample]:
        """Every series' point of round k (same seed and k, same values)."""
        rng = np.random.default_rng((self.seed, k))
        x = self.base * (1.0 + 0.05 * rng.standard_normal(len(self.keys)))
        t = self.start + STEP * k
        return [
            Sample(metric, labels, t, v)
            for (metric, labels), v in zip(self.keys, x.tolist(), strict=True)
        ]


def as_counters(ticks: Sequence[Sequence[Sample]]) -> list[list[Sample]]:
    """The same rounds as counters (``<metric>_total``, a running total of each value over
    the step), which the engine follows as rates (``detect.counters``)."""
    totals = np.zeros(len(ticks[0]))
    out = []
    for samples in ticks:
        totals = totals + STEP * np.array([s.value for s in samples])
        out.append(
            [
                Sample(f"{s.metric}_total", s.labels, s.timestamp, v, counter=True)
                for s, v in zip(samples, totals.tolist(), strict=True)
            ]
        )
    return out


def as_pods(samples: Sequence[Sample]) -> list[Sample]:
    """The same samples as pods of deployments, ten to one: ``svc00042`` becomes pod
    ``p2`` of deployment ``svc0004``, so each metric of a deployment is a group of ten
    peers (``detect.peers``)."""
    out = []
    for s in samples:
        name = s.labels["service"]
        labels = {"service": name[:-1], "pod": f"p{name[-1]}"}
        out.append(Sample(s.metric, labels, s.timestamp, s.value, s.counter))
    return out


def make_workload(services: int, metrics: int, now: float, seed: int = 0) -> Workload:
    """``services x metrics`` series (two labels each), round 0 at ``now - LOOKBACK``."""
    keys = [
        (f"bench_metric_{m}", {"service": f"svc{s:05d}", "instance": "i-1"})
        for s in range(services)
        for m in range(metrics)
    ]
    base = np.random.default_rng(seed).uniform(10.0, 1000.0, len(keys))
    return Workload(keys, base, now - LOOKBACK, seed)


def json_body(samples: Sequence[Sample]) -> bytes:
    """The body of ``POST /api/v1/samples``."""
    rows = [
        {"metric": s.metric, "labels": s.labels, "timestamp": s.timestamp, "value": s.value}
        for s in samples
    ]
    return json.dumps({"samples": rows}).encode()


@dataclass(frozen=True)
class Plan:
    """Serialised bodies, one list per client in its sending order, and the samples they hold.

    Each client owns a fixed slice of the series and sends its rounds in order, so two
    clients never race one series and no sample arrives out of order.
    """

    bodies: list[list[bytes]]
    samples: int


def make_plan(
    workload: Workload, rounds: Sequence[int], clients: int, batch: int, encode: Encoder
) -> Plan:
    """Bodies of ``batch`` samples for the given rounds, split over ``clients``."""
    n = len(workload.keys)
    edges = np.linspace(0, n, clients + 1).astype(int).tolist()
    bodies: list[list[bytes]] = [[] for _ in range(clients)]
    for k in rounds:
        points = workload.round(k)
        for c in range(clients):
            mine = points[edges[c] : edges[c + 1]]
            bodies[c] += [encode(mine[i : i + batch]) for i in range(0, len(mine), batch)]
    return Plan(bodies, n * len(rounds))


# -- the service as users run it -------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(folder: Path, port: int, receiver: dict[str, Any]) -> Path:
    """A config with one receiver, group_wait 0s and notify_after 0s: the latency measured is
    the service's own, not the waits a user configures on purpose. The live endpoints take
    samples up to three days old: the latency bench posts two days of calm history through
    them (a series alerts only once it is two days old)."""
    config = {
        "server": {"port": port, "max_sample_age": "3d"},
        "defaults": {"notify_after": "0s"},
        "storage": {"url": f"sqlite:///{folder / 'anomalert.db'}"},
        "route": {
            "receiver": "bench",
            "group_by": ["service"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "4h",
        },
        "receivers": [{"name": "bench", **receiver}],
    }
    path = folder / "anomalert.yaml"
    path.write_text(yaml.safe_dump(config))
    parse_config(config, str(path))  # fail here, not in the child, on a bad config
    return path


@dataclass(frozen=True)
class Service:
    """A running ``anomalert run``: where it listens, and its process (for its CPU time)."""

    url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the process so far (None where /proc is missing)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running_service(folder: Path, receiver: dict[str, Any]) -> Iterator[Service]:
    """``anomalert run`` on a free port until the block ends."""
    port = free_port()
    config = write_config(folder, port, receiver)
    exe = Path(sys.executable).with_name("anomalert")
    log = folder / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "run", "--config", str(config), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60.0
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"anomalert run did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield Service(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1.0).is_success
    except httpx.HTTPError:
        return False


def ingested(url: str, source: str) -> int:
    """Samples the service says it accepted from ``source`` (its own counter)."""
    text = httpx.get(f"{url}/metrics", timeout=30.0).text
    pattern = rf'^anomalert_samples_ingested_total\{{source="{source}"\}} (\S+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


# -- 1, 2: throughput over HTTP ------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """Samples sent and accepted in ``seconds`` of wall time."""

    sent: int
    accepted: int
    seconds: float
    requests: int = 0
    #: CPU seconds the server process used meanwhile (1.0 x seconds: one core saturated).
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        """Accepted samples per second."""
        return self.accepted / self.seconds if self.seconds > 0 else 0.0


def post_plan(
    service: Service, path: str, plan: Plan, content_type: str, source: str
) -> Throughput:
    """Send every body (one thread per client, each on its own connection); time it all."""
    errors: list[str] = []

    def client(bodies: list[bytes]) -> None:
        with httpx.Client(base_url=service.url, timeout=120.0) as http:
            for body in bodies:
                response = http.post(path, content=body, headers={"content-type": content_type})
                if not response.is_success:
                    errors.append(f"{response.status_code}: {response.text[:300]}")
                    return

    before = ingested(service.url, source)
    threads = [threading.Thread(target=client, args=(b,)) for b in plan.bodies]
    cpu0 = service.cpu_seconds()
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - t0
    cpu1 = service.cpu_seconds()
    if errors:
        raise RuntimeError(f"{path} refused a batch: {errors[0]}")
    requests = sum(len(b) for b in plan.bodies)
    accepted = ingested(service.url, source) - before
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return Throughput(plan.samples, accepted, seconds, requests, cpu)


def bench_http(
    workload: Workload, rounds: int, clients: int, batch: int, folder: Path
) -> dict[str, Throughput]:
    """Round 0 (new series) untimed, then JSON rounds, then remote_write rounds."""
    json_rounds = range(1, rounds + 1)
    rw_rounds = range(rounds + 1, 2 * rounds + 1)
    first = make_plan(workload, [0], clients, batch, json_body)
    json_plan = make_plan(workload, json_rounds, clients, batch, json_body)
    rw_plan = make_plan(workload, rw_rounds, clients, batch, encode_write_request)
    receiver = {"jsonl": {"path": str(folder / "notifications.jsonl")}}
    with running_service(folder, receiver) as service:
        return {
            "new_series": post_plan(service, "/api/v1/samples", first, JSON_TYPE, "json"),
            "json": post_plan(service, "/api/v1/samples", json_plan, JSON_TYPE, "json"),
            "remote_write": post_plan(
                service, "/api/v1/write", rw_plan, PROTOBUF_TYPE, "remote_write"
            ),
        }


# -- 3: latency from arrival to the receiver -------------------------------------------------


class Hook:
    """A webhook receiver in this process: when each notification arrived (our clock)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with hook._lock:
                    hook.arrivals.append((at, json.loads(body)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the bench prints one table."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the service should POST."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Hook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def firing_since(self, after: float) -> dict[str, float]:
        """Service -> first arrival after ``after`` of a notification with it firing."""
        with self._lock:
            arrivals = list(self.arrivals)
        first: dict[str, float] = {}
        for at, body in arrivals:
            if at < after:
                continue
            for alert in body.get("alerts", []):
                service = alert.get("labels", {}).get("service")
                if alert.get("status") == "firing" and service is not None:
                    first.setdefault(service, at)
        return first

    def count(self) -> int:
        """Notifications received so far."""
        with self._lock:
            return len(self.arrivals)


@dataclass(frozen=True)
class Latency:
    """Seconds from sending a spike to its notification arriving, per spiked series."""

    sent: int
    latencies: list[float]
    post_seconds: list[float]
    warmup_notifications: int

    @property
    def received(self) -> int:
        """Spikes whose notification arrived."""
        return len(self.latencies)

    def quantile(self, q: float) -> float:
        """The q-quantile of the latencies (NaN when none arrived)."""
        return float(np.quantile(self.latencies, q)) if self.latencies else float("nan")


def bench_latency(
    services: int, warmup: int, gap: float, folder: Path, seed: int = 1, wait: float = 5.0
) -> Latency:
    """Calm history for one series per service, then one spike each at a random phase.

    The history spans ``HISTORY_SPAN`` whatever its number of points: a series alerts only
    once it is two days old.
    """
    rng = np.random.default_rng(seed)
    now = time.time()
    step = HISTORY_SPAN / warmup
    names = [f"lat{i:04d}" for i in range(services)]
    history = [
        Sample("latency_ms", {"service": name}, now - step * (warmup - k), float(v))
        for name in names
        for k, v in enumerate(100.0 + 5.0 * rng.standard_normal(warmup))
    ]
    bodies = [json_body(history[i : i + 10_000]) for i in range(0, len(history), 10_000)]
    with Hook() as hook, running_service(folder, {"webhook": {"url": hook.url}}) as service:
        with httpx.Client(base_url=service.url, timeout=60.0) as http:
            for body in bodies:
                http.post("/api/v1/samples", content=body, headers={"content-type": JSON_TYPE})
            time.sleep(2.0)  # notifications from the calm history (false alarms) land first
            calm = hook.count()
            sent: dict[str, float] = {}
            post_seconds: list[float] = []
            for i in rng.permutation(services).tolist():
                time.sleep(float(rng.uniform(0.0, 2.0 * gap)))
                t = time.time()
                spike = Sample("latency_ms", {"service": names[i]}, t, 300.0)
                body = json_body([spike])
                response = http.post(
                    "/api/v1/samples", content=body, headers={"content-type": JSON_TYPE}
                )
                post_seconds.append(time.time() - t)
                if response.is_success and response.json()["accepted"] == 1:
                    sent[names[i]] = t
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            arrived = hook.firing_since(min(sent.values(), default=now))
            if all(name in arrived for name in sent):
                break
            time.sleep(0.05)
        arrived = hook.firing_since(min(sent.values(), default=now))
    latencies = [arrived[name] - t for name, t in sent.items() if arrived.get(name, 0.0) >= t]
    return Latency(len(sent), sorted(latencies), post_seconds, calm)


# -- 4: in process, stage by stage -----------------------------------------------------------


def _timed(batches: Sequence[Any], work: Callable[[Any], int], repeat: int = 1) -> Throughput:
    """Work through every batch, ``repeat`` times when the work keeps no state: the fastest
    pass (the least disturbed by neighbours on a shared machine) is the one reported."""
    best: Throughput | None = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = sum(work(b) for b in batches)
        run = Throughput(done, done, time.perf_counter() - t0, len(batches))
        best = run if best is None or run.seconds < best.seconds else best
    assert best is not None
    return best


def open_app(folder: Path, clock: EventClock) -> App:
    """The composition root over a temp SQLite store, on a hand-moved clock."""
    folder.mkdir(parents=True, exist_ok=True)
    config = parse_config(
        {
            "storage": {"url": f"sqlite:///{folder / 'inprocess.db'}"},
            "route": {"receiver": "bench", "group_by": ["service"], "group_wait": "0s"},
            "receivers": [{"name": "bench", "jsonl": {"path": str(folder / "inprocess.jsonl")}}],
        },
        "bench",
    )
    return App(config, Store.open(config.storage.url), clock=clock)


def bench_inprocess(
    workload: Workload, rounds: int, batch: int, folder: Path, repeat: int = 3
) -> dict[str, Throughput]:
    """The HTTP path's stages alone: parse, decode, detector, App.ingest (round 0 untimed).

    Parsing and decoding keep no state, so they run ``repeat`` times; the detector and the
    app learn from every point, so each round goes through them once.
    """
    now = workload.start + LOOKBACK
    window = TimeWindow(max_past=3600.0, max_future=300.0)
    ticks = [workload.round(k) for k in range(rounds + 1)]
    batches = [r[i : i + batch] for r in ticks[1:] for i in range(0, len(r), batch)]
    json_bodies = [json_body(b) for b in batches]
    rw_bodies = [encode_write_request(b) for b in batches]
    detector = StreamDetector()
    detector.score(ticks[0])
    counted = as_counters(ticks)
    counter_batches = [r[i : i + batch] for r in counted[1:] for i in range(0, len(r), batch)]
    rates = StreamDetector()
    rates.score(counted[0])
    # The same series as pods, ten to a deployment: each judged against its peers too.
    podded = [as_pods(r) for r in ticks]
    pod_batches = [r[i : i + batch] for r in podded[1:] for i in range(0, len(r), batch)]
    pods = StreamDetector()
    pods.score(podded[0])
    names = CounterNames()  # as the app keeps one: verdicts cached per metric name
    app = open_app(folder, EventClock(now))
    app.ingest(ticks[0])
    try:
        return {
            "json_parse": _timed(
                json_bodies, lambda b: len(parse_samples(json.loads(b), now, window)[0]), repeat
            ),
            "remote_write_decode": _timed(
                rw_bodies, lambda b: len(decode_write_request(b, names)[0]), repeat
            ),
            "detector": _timed(batches, lambda b: detector.score(b).points),
            "detector_counters": _timed(counter_batches, lambda b: rates.score(b).points),
            "detector_pods": _timed(pod_batches, lambda b: pods.score(b).points),
            "app_ingest": _timed(batches, lambda b: app.ingest(b).accepted),
        }
    finally:
        app.store.close()


def bench_scale(series: int, batch: int, folder: Path) -> dict[str, float]:
    """The app following ``series`` series (the product's 100,000): a round's ingest, the
    memory, a checkpoint (how long samples wait for the app's lock meanwhile) and a
    restart's restore. Round 0 registers the series; round 2 is timed."""
    workload = make_workload(max(series // 5, 1), 5, time.time())
    clock = EventClock(workload.start)
    app = open_app(folder, clock)
    rounds = []
    for k in range(3):
        clock.advance(workload.start + STEP * k)
        samples = workload.round(k)
        t0 = time.perf_counter()
        for i in range(0, len(samples), batch):
            app.ingest(samples[i : i + batch])
        rounds.append(len(samples) / (time.perf_counter() - t0))
    waits: list[float] = []
    stop = threading.Event()
    lock = app.lock

    def probe() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            with lock:
                pass
            waits.append(time.perf_counter() - t0)
            stop.wait(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    t0 = time.perf_counter()
    app.checkpoint()
    checkpoint = time.perf_counter() - t0
    stop.set()
    prober.join()
    rss = _rss_mb()
    app.store.close()
    del app
    gc.collect()
    t0 = time.perf_counter()
    restored = open_app(folder, EventClock(workload.start + STEP * 3))
    restore = time.perf_counter() - t0
    followed = restored.detector.followed
    restored.store.close()
    return {
        "series": float(followed),
        "round_rate": rounds[-1],
        "rss_mb": rss,
        "checkpoint_seconds": checkpoint,
        "lock_wait_max": max(waits, default=0.0),
        "checkpoint_mb": (folder / "inprocess.db").stat().st_size / 1e6,
        "restore_seconds": restore,
    }


def _rss_mb() -> float:
    """This process' resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


#: Collector thresholds tried against the defaults (700, 10, 10): a 5,000-sample JSON body
#: makes tens of thousands of objects, so the default collects many times per request.
GC_TUNED = (100_000, 50, 1000)


@contextlib.contextmanager
def gc_thresholds(thresholds: tuple[int, int, int]) -> Iterator[None]:
    """Run the block with other collector thresholds (restored afterwards)."""
    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@dataclass(frozen=True)
class Hotspot:
    """One function of a profile: own time, time with callees, calls."""

    function: str
    tottime: float
    cumtime: float
    calls: int


def profile_json_path(
    workload: Workload, rounds: int, batch: int, folder: Path, top: int = 10
) -> list[Hotspot]:
    """cProfile of what the JSON endpoint does per body: loads, parse_samples, App.ingest."""
    now = workload.start + LOOKBACK
    window = TimeWindow(max_past=3600.0, max_future=300.0)
    app = open_app(folder, EventClock(now))
    app.ingest(workload.round(0))
    bodies = [
        json_body(r[i : i + batch])
        for r in (workload.round(k) for k in range(1, rounds + 1))
        for i in range(0, len(r), batch)
    ]
    profile = cProfile.Profile()
    try:
        profile.enable()
        for body in bodies:
            app.ingest(parse_samples(json.loads(body), now, window)[0], "json")
        profile.disable()
    finally:
        app.store.close()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = sorted(stats.items(), key=lambda item: item[1][2], reverse=True)[:top]
    return [
        Hotspot(_where(file, line, name), tt, ct, nc)
        for (file, line, name), (_, nc, tt, ct, _) in rows
    ]


def _where(file: str, line: int, name: str) -> str:
    marker = f"{os.sep}anomalert{os.sep}"
    if marker in file:
        file = "anomalert/" + file.rsplit(marker, 1)[1]
    elif file.startswith("~") or file.startswith("<"):
        return name
    else:
        file = Path(file).name
    return f"{file}:{line}({name})"


# -- report ------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measure; the results as written to the JSON file."""
    now = time.time()
    workload = make_workload(args.services, args.metrics, now)
    results: dict[str, Any] = {
        "sizes": {
            "series": len(workload.keys),
            "rounds": args.rounds,
            "batch": args.batch,
            "clients": args.clients,
        }
    }
    with tempfile.TemporaryDirectory(prefix="anomalert-bench-") as tmp:
        root = Path(tmp)
        for name in ("http", "latency", "inprocess", "scale"):
            (root / name).mkdir()
        http = bench_http(workload, args.rounds, args.clients, args.batch, root / "http")
        latency = bench_latency(
            args.latency_services, args.warmup_points, args.spike_gap, root / "latency"
        )
        stages = bench_inprocess(workload, args.inprocess_rounds, args.batch, root / "inprocess")
        scale = (
            bench_scale(args.scale_series, args.batch, root / "scale") if args.scale_series else {}
        )
        tuned: dict[str, Throughput] = {}
        if args.gc_compare:
            with gc_thresholds(GC_TUNED):
                tuned = bench_inprocess(
                    workload, args.inprocess_rounds, args.batch, root / "inprocess" / "gc"
                )
        hotspots = (
            profile_json_path(workload, 3, args.batch, root / "profile") if args.profile else []
        )
    results["http"] = {k: {**asdict(v), "rate": v.rate} for k, v in http.items()}
    results["inprocess"] = {k: {**asdict(v), "rate": v.rate} for k, v in stages.items()}
    results["inprocess"]["json_path"] = combined(stages["json_parse"], stages["app_ingest"])
    results["inprocess"]["remote_write_path"] = combined(
        stages["remote_write_decode"], stages["app_ingest"]
    )
    results["latency"] = {
        "sent": latency.sent,
        "received": latency.received,
        "p50": latency.quantile(0.5),
        "p90": latency.quantile(0.9),
        "p99": latency.quantile(0.99),
        "max": max(latency.latencies, default=float("nan")),
        "post_p99": float(np.quantile(latency.post_seconds, 0.99)),
        "warmup_notifications": latency.warmup_notifications,
        "tick_interval": LOOP_INTERVAL,
    }
    if tuned:
        results["inprocess"]["json_path_gc_tuned"] = combined(
            tuned["json_parse"], tuned["app_ingest"]
        )
        results["inprocess"]["remote_write_path_gc_tuned"] = combined(
            tuned["remote_write_decode"], tuned["app_ingest"]
        )
        results["gc_tuned_thresholds"] = list(GC_TUNED)
    results["hotspots"] = [asdict(h) for h in hotspots]
    results["scale"] = scale
    return results


def render(results: dict[str, Any], console: Console) -> None:
    """One table of the figures (and the profile's top functions under it)."""
    sizes, http, stages, lat = (results[k] for k in ("sizes", "http", "inprocess", "latency"))
    table = Table(title="anomalert service bench")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    load = f"{sizes['series']:,} series, batches of {sizes['batch']:,}, {sizes['clients']} clients"
    target = f">= {TARGET_RATE:,.0f}/s"
    table.add_row(f"HTTP JSON /api/v1/samples ({load})", _rate(http["json"]), target)
    table.add_row("HTTP remote_write /api/v1/write", _rate(http["remote_write"]), target)
    table.add_row("HTTP JSON, first round (new series)", _rate(http["new_series"]), "")
    table.add_row(
        f"arrival -> webhook, p50 / p90 / p99 ({lat['received']}/{lat['sent']} spikes)",
        f"{lat['p50']:.3f} / {lat['p90']:.3f} / {lat['p99']:.3f} s",
        f"p99 < {TARGET_P99:.0f} s",
    )
    table.add_row("  of which the spike's POST, p99", f"{lat['post_p99'] * 1000:.1f} ms", "")
    table.add_row("  service loop period (bounds the wait)", f"{lat['tick_interval']} s", "")
    table.add_row("  notifications from the calm history", f"{lat['warmup_notifications']}", "0")
    for name, label in (
        ("json_parse", "in process: json.loads + parse_samples"),
        ("remote_write_decode", "in process: decode_write_request"),
        ("detector", "in process: StreamDetector.score alone"),
        ("detector_counters", "  the same series as counters (scored on their rates)"),
        ("detector_pods", "  the same series as pods, ten to a deployment (and their peers)"),
        ("app_ingest", "in process: App.ingest (detector + policy + store)"),
        ("json_path", "in process: JSON path (parse + App.ingest)"),
        ("remote_write_path", "in process: remote_write path (decode + App.ingest)"),
        ("json_path_gc_tuned", "  the same, gc.set_threshold(100_000, 50, 1000)"),
        ("remote_write_path_gc_tuned", "  remote_write path, same gc thresholds"),
    ):
        if name in stages:
            table.add_row(label, _rate(stages[name]), "")
    scale = results["scale"]
    if scale:
        table.add_row(
            f"in process: {scale['series']:,.0f} series, a round of App.ingest",
            f"{scale['round_rate']:,.0f} samples/s, {scale['rss_mb']:,.0f} MB resident",
            "",
        )
        table.add_row(
            "  a checkpoint (samples wait for the lock at most)",
            f"{scale['checkpoint_seconds']:.1f} s, {scale['checkpoint_mb']:,.0f} MB "
            f"({scale['lock_wait_max']:.2f} s)",
            "",
        )
        table.add_row("  a restart's restore", f"{scale['restore_seconds']:.1f} s", "")
    console.print(table)
    if results["hotspots"]:
        console.print("JSON path in process, top functions by own time (cProfile):")
        for h in results["hotspots"]:
            console.print(
                f"  {h['tottime']:7.3f} s own {h['cumtime']:7.3f} s cum "
                f"{h['calls']:>9,} calls  {h['function']}",
                highlight=False,
                soft_wrap=True,
            )


def _rate(t: dict[str, Any]) -> str:
    text = f"{t['rate']:,.0f} samples/s ({1e6 / t['rate']:.1f} µs each)" if t["rate"] else "-"
    if t.get("server_cpu") is not None and t["seconds"] > 0:
        text += f", server {100 * t['server_cpu'] / t['seconds']:.0f} % busy"
    return text


def combined(*stages: Throughput) -> dict[str, float]:
    """Stages run one after the other on the same samples: their times per sample add up."""
    per_sample = sum(t.seconds / t.accepted for t in stages if t.accepted)
    return {"rate": 1.0 / per_sample if per_sample else 0.0, "seconds": 0.0}


def parser() -> argparse.ArgumentParser:
    """The CLI flags (sizes), defaults sized for about a minute on 2 cores."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--services", type=int, default=2_000)
    p.add_argument("--metrics", type=int, default=5, help="metrics per service")
    p.add_argument("--rounds", type=int, default=20, help="timed rounds per endpoint (<= 160)")
    p.add_argument("--batch", type=int, default=5_000, help="samples per request")
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--latency-services", type=int, default=100)
    p.add_argument("--warmup-points", type=int, default=300)
    p.add_argument("--spike-gap", type=float, default=0.1, help="mean seconds between spikes")
    p.add_argument("--inprocess-rounds", type=int, default=10)
    p.add_argument(
        "--scale-series",
        type=int,
        default=100_000,
        help="series of the scale measure (a round, a checkpoint, a restore); 0: skip it",
    )
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument(
        "--gc-compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the in-process paths with raised gc thresholds",
    )
    p.add_argument("--json", type=Path, default=Path("bench-results/service.json"))
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run, print, write ``--json``; returns the results."""
    p = parser()
    args = p.parse_args(argv)
    if args.scale_series < 0:
        p.error(f"--scale-series: must be 0 (skip) or more, got {args.scale_series}")
    if 2 * args.rounds + 1 > (LOOKBACK + 300.0) / STEP:
        raise SystemExit("--rounds: too many for the live time window (at most 160)")
    results = run(args)
    render(results, Console())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
