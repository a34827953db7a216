"""The service's own metrics, in Prometheus exposition at ``/metrics``.

One registry per running app (not the library's global one), so tests and replays that
build several apps in one process never mix their counts. The current anomaly score of
every series comes from a collector that reads the engine at scrape time (a one-method
protocol, as in client_python): Grafana can plot the scores beside the metrics themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from anomalert.model import Labels

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


#: The label that names a score's metric; a series' own label of that name is exported as
#: ``exported_anomalert_metric``, as Prometheus renames a scraped label that collides with
#: one it attaches (``honor_labels: false``): two series, one with the label, one without,
#: were otherwise exported as two identical samples.
METRIC_LABEL = "anomalert_metric"


def score_labels(name: str, labels: Labels) -> dict[str, str]:
    """The labels of one series' score sample (see ``METRIC_LABEL``)."""
    out = dict(labels)
    if METRIC_LABEL in out:
        out[f"exported_{METRIC_LABEL}"] = out.pop(METRIC_LABEL)
    out[METRIC_LABEL] = name
    return out


class ScoreCollector(Collector):
    """``anomalert_anomaly_score{anomalert_metric="...", ...labels}``: each series' latest
    score."""

    def __init__(self, scores: Callable[[], Iterable[tuple[str, Labels, float]]]) -> None:
        self.scores = scores

    def collect(self) -> Iterator[Metric]:
        metric = Metric(
            "anomalert_anomaly_score", "Latest calibrated anomaly score (0..1) per series.", "gauge"
        )
        for name, labels, value in self.scores():
            metric.add_sample("anomalert_anomaly_score", score_labels(name, labels), value)
        yield metric


class SelfMetrics:
    """Counters and histograms of ingest, detection, alerting and delivery."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.samples = Counter(
            "anomalert_samples_ingested", "Samples accepted, by source.", ["source"], registry=r
        )
        self.rejected = Counter(
            "anomalert_samples_rejected",
            "Samples refused (invalid, too old, out of order, beyond the series limit), by "
            "source and reason.",
            ["source", "reason"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "anomalert_ingest_seconds",
            "Time to take one batch in, detection and alerting included.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.detect_seconds = Histogram(
            "anomalert_detect_seconds",
            "Engine time per batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.anomalies = Counter(
            "anomalert_anomalies", "Points scored at or above their threshold.", registry=r
        )
        self.alerts = Counter(
            "anomalert_alert_transitions",
            "Alert transitions, by source and status.",
            ["source", "status"],
            registry=r,
        )
        self.notifications = Counter(
            "anomalert_notifications",
            "Notifications enqueued, by receiver and status.",
            ["receiver", "status"],
            registry=r,
        )
        self.deliveries = Counter(
            "anomalert_deliveries",
            "Delivery attempts, by outcome (sent, retried, failed).",
            ["outcome"],
            registry=r,
        )
        self.delivery_seconds = Histogram(
            "anomalert_delivery_seconds",
            "Time to hand due notifications to their receivers, per pass.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.series = Gauge("anomalert_series", "Series followed by the engine.", registry=r)
        self.peer_groups = Gauge(
            "anomalert_peer_groups",
            "Groups whose members are judged against their peers (detection.peers): "
            "min_members or more members now.",
            registry=r,
        )
        self.retired = Counter(
            "anomalert_series_retired",
            "Series forgotten after detection.retire_after without a sample.",
            registry=r,
        )
        self.firing = Gauge("anomalert_alerts_firing", "Alerts firing now.", registry=r)
        self.pending = Gauge(
            "anomalert_outbox_pending", "Notifications waiting for delivery.", registry=r
        )

    def track_scores(self, scores: Callable[[], Iterable[tuple[str, Labels, float]]]) -> None:
        """Expose each series' latest score (read at scrape time)."""
        self.registry.register(ScoreCollector(scores))
