"""Nezha (microservice faults with their root-cause service) as an evaluation of detection.

Each Nezha day is one recording of a microservice system (Online Boutique, Train Ticket):
one metrics file per pod, one row a minute, with a fault injected into a known pod every
five to ten minutes for a few hours, then a long stretch with no fault until 23:59. What it
asks of the engine is what an on-call engineer asks: does the faulty service alert within
five minutes, is the faulty service the most anomalous one at that moment (the first place
to look), and does a quiet system stay quiet.

The recordings start two minutes before the first fault, so a causal engine would meet
the faults with no idea of normal. The protocol lends it one: the first half of the
fault-free tail (from ``SETTLE`` after the last injection) is replayed first, a day earlier
on the engine's clock (``PRIMER_SHIFT``), as the history a service would have; then the
day runs in order from its first row, without the rows lent; the second half of the tail,
never seen before, is where every alert is a false one. Series may alert once they hold
``Ensemble.min_history`` points (``min_age`` 0: the primer is only hours long, against the
product's two days). Each pod is one file to the engine (its metrics are one multivariate
group, as ``anomalert detect`` runs a CSV); a service's score at a minute is its pods' highest.

Measured per case (a fault injected at ``t``, within ``[t, t + WINDOW)``):

* detected: the root-cause service's score reaches the alert threshold (it is alerting;
  a fault eight minutes after the previous one on the same pod may fall inside one alert
  episode, so "a new alert fired" would undercount what a person sees);
* rank: services ordered by their highest score in the window, ties broken by who got
  there first, exact ties counted against the root cause; top-1 and top-3;
* reason: for faults whose inner-service root cause (``root_cause_*.json``) is a metric
  (CPU, or ``NetworkP90(ms)``), whether the root-cause service's strongest minute names
  that kind of column (``REASON_FAMILIES``: a CPU column; a call latency for the network);
* likely origin (days with a call graph, ``metric/dependency.csv``): the services alerting
  in the window, in the order they first reached the threshold, go through the product's
  own ``alert.correlate.Correlator``; the origin it names for the incident of the first
  alert is compared with the root cause (PRODUCT.md §6: the service the others depend on).

Code faults (``return``, ``exception``) mostly show in logs and traces, not metrics (the
dataset's README); figures are given for all cases and for resource faults alone. Node
metrics (``Node*`` columns) belong to the node and move for every pod on it, so only the
pod's own metrics are scored. Where the day has per-call latencies as the callers measure
them (``metric/source_50.csv.gz``, one ``caller_callee`` column per edge), each edge joins
its callee's pod as a column ``CallLatency(caller->callee)``: a service's latency is what
its callers wait for, as a service mesh or an APM reports it, and a network delay on a pod
shows there and nowhere on the pod itself (the dataset names ``NetworkP90(ms)`` as the root
cause of its network faults).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from anomalert.alert.correlate import Correlator
from anomalert.detect.engine import Settings
from anomalert.detect.files import score_by_width
from anomalert.errors import FileInputError
from anomalert.ingest.csvfile import Table
from anomalert.model import Alert, fingerprint

#: The pod's own metrics (the ``Node*`` columns describe the node the pod runs on).
POD_METRICS: tuple[str, ...] = (
    "CpuUsage(m)",
    "CpuUsageRate(%)",
    "MemoryUsage(Mi)",
    "MemoryUsageRate(%)",
    "SyscallRead",
    "SyscallWrite",
    "NetworkReceiveBytes",
    "NetworkTransmitBytes",
    "PodClientLatencyP90(s)",
    "PodServerLatencyP90(s)",
    "PodClientLatencyP95(s)",
    "PodServerLatencyP95(s)",
    "PodClientLatencyP99(s)",
    "PodServerLatencyP99(s)",
    "PodWorkload(Ops)",
    "PodSuccessRate(%)",
)
#: Fault types that change resources (CPU, network) rather than code paths.
RESOURCE_FAULTS = frozenset({"cpu_contention", "cpu_consumed", "network_delay"})
#: The dataset's root-cause metric (by prefix) -> the prefix of our columns that measure it.
REASON_FAMILIES = {"Cpu": "Cpu", "Network": "CallLatency("}
#: Seconds from an injection in which the root-cause service should alert.
WINDOW = 300.0
#: Seconds after the last injection before the tail counts as fault-free.
SETTLE = 1800.0
#: How far back the primer is moved on the engine's clock: a day, so it is history.
PRIMER_SHIFT = 86_400.0
METRIC_SUFFIX = "_metric.csv.gz"
GRAPH_FILE = "dependency.csv"
#: Per-call latencies as the callers measure them, one ``caller_callee`` column per edge.
CALLS_FILE = "source_50.csv.gz"
#: A call-latency row joins the pod's row of the same minute (their clocks differ by ~1 s).
CALLS_TOLERANCE = 30.0
ROOT_CAUSE_FILES = ("root_cause_hipster.json", "root_cause_ts.json")


@dataclass(frozen=True)
class Case:
    """One injected fault."""

    time: float
    service: str
    fault: str


@dataclass
class PodSeries:
    """One pod's rows: times, and values under ``columns`` (POD_METRICS, then the latency
    of the calls into it where the day has them)."""

    t: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...] = POD_METRICS


@dataclass
class NezhaDay:
    """One recording: each pod's times and metric rows, and the faults injected."""

    name: str
    pods: dict[str, PodSeries]
    cases: list[Case]
    #: Who calls whom among the day's services (caller -> callees); None without a graph.
    graph: dict[str, list[str]] | None = None

    @property
    def end(self) -> float:
        """The time of the recording's last row."""
        return max(float(p.t[-1]) for p in self.pods.values())


@dataclass(frozen=True)
class CaseResult:
    """How the engine saw one fault."""

    time: float
    service: str
    fault: str
    #: 1 = the root-cause service was the most anomalous in the window.
    rank: int
    score: float
    detected: bool
    #: The metric behind the root-cause service's strongest minute ("multivariate": the
    #: pod's metrics together; "" when it had no finite row in the window).
    metric: str
    #: The inner-service root cause the dataset names for this service and fault ("" none).
    expected_metric: str
    #: Services that reached the threshold in the window, the first to reach it first.
    alerting: tuple[str, ...] = ()
    #: The Correlator's likely origin ("" when nothing alerted; None: the day has no graph).
    origin: str | None = None


@dataclass
class DayReport:
    """One day's cases and the quiet tail's false alerts."""

    name: str
    pods: int
    cases: list[CaseResult]
    primer_hours: float
    held_out_hours: float
    #: Alerts in the held-out tail, per pod that raised any.
    false_alerts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NezhaSummary:
    """All days together."""

    cases: int
    detected: int
    top1: int
    top3: int
    resource_cases: int
    resource_top1: int
    resource_top3: int
    resource_detected: int
    #: Cases whose dataset root cause is a metric we have, and those whose reason names it.
    reason_cases: int
    reason_named: int
    pods: int
    quiet_pods: int
    false_alerts: int
    held_out_pod_hours: float
    #: Cases on days with a call graph, and those whose likely origin is the root cause.
    origin_cases: int = 0
    origin_right: int = 0

    @property
    def case_recall(self) -> float:
        return _share(self.detected, self.cases)

    @property
    def top1_share(self) -> float:
        return _share(self.top1, self.cases)

    @property
    def top3_share(self) -> float:
        return _share(self.top3, self.cases)

    @property
    def resource_top1_share(self) -> float:
        return _share(self.resource_top1, self.resource_cases)

    @property
    def quiet_share(self) -> float:
        """Share of pods with no alert over the held-out fault-free hours."""
        return _share(self.quiet_pods, self.pods)

    @property
    def origin_share(self) -> float:
        return _share(self.origin_right, self.origin_cases)

    @property
    def false_per_pod_day(self) -> float:
        return self.false_alerts / max(self.held_out_pod_hours / 24.0, 1e-9)


def _share(part: int, whole: int) -> float:
    """part / whole; 1.0 for nothing to judge (no case missed, no pod loud)."""
    return part / whole if whole else 1.0


def service_of(pod: str) -> str:
    """The service a pod belongs to: its name without the two hash parts Kubernetes adds."""
    parts = pod.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else pod


def parse_time(raw: pd.Series, path: Path) -> np.ndarray:
    """Unix seconds from Nezha's wall-clock strings ("2022-08-22 03:51:19.6 +0000 UTC m=+0.1").

    The ``Time`` column, not ``TimeStamp``: one file's epoch column is corrupted and the
    fault list's wall-clock ``inject_time`` is on this clock (the dataset's README).
    """
    stamps = pd.to_datetime(raw.astype(str).str.slice(0, 19), utc=True, errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        raise FileInputError(
            path, f"Time: unparsable value {raw.iloc[bad[0]]!r} (row {bad[0] + 1})"
        )
    epoch = pd.Timestamp(0, tz="UTC")
    return np.asarray((stamps - epoch).dt.total_seconds(), dtype=float)


def day_names(root: Path) -> list[str]:
    """The day folders under ``root``: those holding their ``<day>-fault_list.json``."""
    if not root.is_dir():
        raise FileInputError(root, "no such folder")
    names = sorted(p.name for p in root.iterdir() if (p / f"{p.name}-fault_list.json").is_file())
    if not names:
        raise FileInputError(root, "no day folder with a <day>-fault_list.json")
    return names


def load_cases(path: Path) -> list[Case]:
    """The faults of one day, in injection order (the list maps an hour to its faults)."""
    try:
        raw = json.loads(path.read_text())
        entries = [c for hour in raw.values() for c in hour]
        times = parse_time(pd.Series([c["inject_time"] for c in entries]), path)
        cases = [
            Case(float(t), service_of(str(c["inject_pod"])), str(c["inject_type"]))
            for t, c in zip(times, entries, strict=True)
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FileInputError(path, f"not a Nezha fault list ({type(exc).__name__}: {exc})") from exc
    return sorted(cases, key=lambda c: c.time)


def load_day(folder: Path) -> NezhaDay:
    """One day folder: ``metric/<pod>_metric.csv.gz`` and ``<day>-fault_list.json``."""
    cases = load_cases(folder / f"{folder.name}-fault_list.json")
    pods: dict[str, PodSeries] = {}
    for path in sorted((folder / "metric").glob(f"*{METRIC_SUFFIX}")):
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError, EOFError) as exc:  # empty, truncated, not gzip, not CSV
            raise FileInputError(path, f"unreadable ({type(exc).__name__}: {exc})") from exc
        if frame.empty:
            raise FileInputError(path, "no rows")
        missing = [c for c in ("Time", *POD_METRICS) if c not in frame.columns]
        if missing:
            raise FileInputError(path, f"missing column {missing[0]}")
        values = (
            frame[list(POD_METRICS)]
            .apply(pd.to_numeric, errors="coerce")
            .to_numpy(float, copy=True)
        )
        values[~np.isfinite(values)] = np.nan
        pods[path.name[: -len(METRIC_SUFFIX)]] = PodSeries(parse_time(frame["Time"], path), values)
    if not pods:
        raise FileInputError(folder / "metric", f"no *{METRIC_SUFFIX} files")
    if not cases:
        raise FileInputError(folder, "the fault list holds no fault")
    calls = folder / "metric" / CALLS_FILE
    if calls.is_file():
        add_call_latencies(pods, calls)
    services = {service_of(p) for p in pods}
    return NezhaDay(folder.name, pods, cases, load_graph(folder / "metric" / GRAPH_FILE, services))


def add_call_latencies(pods: dict[str, PodSeries], path: Path) -> None:
    """Join each ``caller_callee`` column of ``path`` to the callee's pods, row by minute
    (the nearest call row within ``CALLS_TOLERANCE``; NaN where there is none)."""
    try:
        frame = pd.read_csv(path)
        times = parse_time(frame["time"], path)
    except (ValueError, KeyError, OSError, EOFError) as exc:
        raise FileInputError(
            path, f"not a call-latency file ({type(exc).__name__}: {exc})"
        ) from exc
    edges = [c for c in frame.columns if c not in ("time", "timestamp") and "_" in c]
    calls = frame[edges].apply(pd.to_numeric, errors="coerce").assign(_t=times)
    calls = calls.sort_values("_t", kind="stable")
    for pod, series in pods.items():
        mine = [c for c in edges if c.split("_", 1)[1] == service_of(pod)]
        if not mine:
            continue
        rows = pd.DataFrame({"_t": series.t, "_row": np.arange(len(series.t))}).sort_values("_t")
        joined = pd.merge_asof(
            rows,
            calls[["_t", *mine]],
            on="_t",
            direction="nearest",
            tolerance=CALLS_TOLERANCE,  # type: ignore[arg-type]  # a number, as the key is
        ).sort_values("_row")
        extra = joined[mine].to_numpy(float, copy=True)
        extra[~np.isfinite(extra)] = np.nan
        names = tuple(f"CallLatency({c.replace('_', '->', 1)})" for c in mine)
        pods[pod] = PodSeries(series.t, np.hstack([series.values, extra]), series.columns + names)


def load_graph(path: Path, services: set[str]) -> dict[str, list[str]] | None:
    """The call graph (``Source`` calls ``Target``) among ``services``; None without a file.

    The file also links each service to the address of its host; those edges name no
    service and are left out (sharing a node is not a dependency).
    """
    if not path.is_file():
        return None
    try:
        edges = pd.read_csv(path)
        pairs = zip(edges["Source"].astype(str), edges["Target"].astype(str), strict=True)
    except (ValueError, KeyError, OSError) as exc:
        raise FileInputError(path, f"not a call graph ({type(exc).__name__}: {exc})") from exc
    graph: dict[str, list[str]] = {}
    for caller, callee in pairs:
        if callee in services and caller != callee:
            graph.setdefault(caller, []).append(callee)
    return graph


def likely_origin(graph: dict[str, list[str]], alerting: dict[str, float]) -> str:
    """The origin the product's ``Correlator`` names for the incident of the first alert,
    once every service alerting (service -> the time it first did) has been assigned."""
    correlator = Correlator(graph)
    incident, origin = None, ""
    for service, when in sorted(alerting.items(), key=lambda kv: (kv[1], kv[0])):
        labels = {"alertname": "Anomaly", "service": service}
        alert = Alert(
            fingerprint(labels), labels, {}, when, None, "firing", 1.0, "P1", "alerting",
            "anomaly", when,
        )  # fmt: skip
        labelled = correlator.assign(alert, when)
        incident = incident or labelled.labels["incident"]
        if labelled.labels["incident"] == incident:
            origin = labelled.labels["origin"]
    return origin


def load_expected_metrics(root: Path) -> dict[tuple[str, str], str]:
    """(service, fault) -> the inner-service root cause the dataset names, both systems."""
    expected: dict[tuple[str, str], str] = {}
    for name in ROOT_CAUSE_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            for service, faults in json.loads(path.read_text()).items():
                for fault, metric in faults.items():
                    expected[(service, fault)] = str(metric)
        except (ValueError, AttributeError) as exc:
            raise FileInputError(path, f"not a root-cause map ({type(exc).__name__})") from exc
    return expected


def primed_tables(day: NezhaDay) -> tuple[list[Table], list[np.ndarray], float, float]:
    """Each pod's rows as the engine sees them: the primer (first half of the fault-free
    tail, a day earlier), then the day from its start without those rows.

    Returns the tables, each table's real time per row (NaN for primer rows), and the
    start and end of the held-out tail.
    """
    start = max(c.time for c in day.cases) + SETTLE
    end = day.end
    if end <= start:
        raise FileInputError(day.name, "no fault-free tail after the last fault to learn from")
    held_out = start + (end - start) / 2.0
    tables, real = [], []
    for pod, series in day.pods.items():
        t, values = series.t, series.values
        primer = (t >= start) & (t < held_out)
        rest = ~primer
        times = np.concatenate([t[primer] - PRIMER_SHIFT, t[rest]])
        rows = np.concatenate([values[primer], values[rest]])
        late = np.zeros(len(times), dtype=bool)
        late[1:] = times[1:] < np.maximum.accumulate(times)[:-1]
        tables.append(Table(Path(pod), pd.DataFrame(), times, series.columns, rows, late))
        real.append(np.concatenate([np.full(int(primer.sum()), np.nan), t[rest]]))
    return tables, real, start, held_out


def score_day(
    day: NezhaDay, expected: dict[tuple[str, str], str], settings: Settings | None = None
) -> DayReport:
    """Run the engine over one primed day and judge every case and the held-out tail."""
    settings = settings or Settings(min_age=0.0)
    tables, real, start, held_out = primed_tables(day)
    scored = score_by_width(tables, settings)
    pods = list(day.pods)
    services = sorted({service_of(p) for p in pods})
    results = []
    for case in day.cases:
        # service -> (highest score in the window, minus the time it was first reached), metric
        best: dict[str, tuple[tuple[float, float], str]] = {}
        alerting: dict[str, float] = {}  # service -> the first time it reached the threshold
        for pod, tb, sc, rt in zip(pods, tables, scored, real, strict=True):
            rows = np.flatnonzero((rt >= case.time) & (rt < case.time + WINDOW))
            if not rows.size:
                continue
            svc = service_of(pod)
            over = rows[sc.score[rows] >= settings.threshold]
            if over.size:
                alerting[svc] = min(alerting.get(svc, np.inf), float(rt[over[0]]))
            top = rows[int(np.argmax(sc.score[rows]))]  # the first row at the highest score
            column = int(sc.column[top])
            metric = tb.columns[column] if column >= 0 else "multivariate"
            key = (float(sc.score[top]), -float(rt[top]))
            if svc not in best or key > best[svc][0]:
                best[svc] = (key, metric)
        if case.service in best:
            (score, _), metric = best[case.service]
            rank = rank_of(case.service, {s: k for s, (k, _) in best.items()})
        else:  # no row of the root cause in the window: last place
            score, metric, rank = 0.0, "", len(services)
        results.append(
            CaseResult(
                time=case.time,
                service=case.service,
                fault=case.fault,
                rank=rank,
                score=score,
                detected=score >= settings.threshold,
                metric=metric,
                expected_metric=expected.get((case.service, case.fault), ""),
                alerting=tuple(sorted(alerting, key=lambda v: (alerting[v], v))),
                origin=None if day.graph is None else likely_origin(day.graph, alerting),
            )
        )
    false_alerts = {}
    for pod, sc, rt in zip(pods, scored, real, strict=True):
        count = int(np.count_nonzero(sc.flag & (rt >= held_out)))
        if count:
            false_alerts[pod] = count
    return DayReport(
        name=day.name,
        pods=len(pods),
        cases=results,
        primer_hours=(held_out - start) / 3600.0,
        held_out_hours=(day.end - held_out) / 3600.0,
        false_alerts=false_alerts,
    )


def rank_of(service: str, keys: dict[str, tuple[float, float]]) -> int:
    """Place of ``service`` when services are ordered by key (highest score, then minus the
    time it was reached: earliest first); an exact tie counts against it."""
    own = keys[service]
    return 1 + sum(1 for s, k in keys.items() if s != service and k >= own)


def reason_names(expected: str, metric: str) -> bool | None:
    """Does ``metric`` (what the reason names) measure ``expected`` (the dataset's root
    cause)? None when the dataset's root cause is no metric we score (a log statement)."""
    for theirs, ours in REASON_FAMILIES.items():
        if expected.startswith(theirs):
            return metric.startswith(ours)
    return None


def summarise(reports: Sequence[DayReport]) -> NezhaSummary:
    """Counts over all days."""
    cases = [c for r in reports for c in r.cases]
    resource = [c for c in cases if c.fault in RESOURCE_FAULTS]
    judged = [reason_names(c.expected_metric, c.metric) for c in cases]
    return NezhaSummary(
        cases=len(cases),
        detected=sum(c.detected for c in cases),
        top1=sum(c.rank == 1 for c in cases),
        top3=sum(c.rank <= 3 for c in cases),
        resource_cases=len(resource),
        resource_top1=sum(c.rank == 1 for c in resource),
        resource_top3=sum(c.rank <= 3 for c in resource),
        resource_detected=sum(c.detected for c in resource),
        reason_cases=sum(j is not None for j in judged),
        reason_named=sum(j is True for j in judged),
        pods=sum(r.pods for r in reports),
        quiet_pods=sum(r.pods - len(r.false_alerts) for r in reports),
        false_alerts=sum(sum(r.false_alerts.values()) for r in reports),
        held_out_pod_hours=sum(r.pods * r.held_out_hours for r in reports),
        origin_cases=sum(c.origin is not None for c in cases),
        origin_right=sum(c.origin == c.service for c in cases),
    )


def score_nezha(
    root: Path, settings: Settings | None = None
) -> tuple[NezhaSummary, list[DayReport]]:
    """Every day folder under ``root``, scored; the summary and each day's report."""
    expected = load_expected_metrics(root)
    reports = [score_day(load_day(root / name), expected, settings) for name in day_names(root)]
    return summarise(reports), reports
