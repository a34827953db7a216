"""The scores at ``/metrics`` keep every series apart, whatever labels a series carries."""

from __future__ import annotations

from prometheus_client import generate_latest

from anomalert.selfmetrics import SelfMetrics


def test_a_series_label_named_like_the_score_metric_label_is_exported_renamed() -> None:
    """A sender's own ``anomalert_metric`` label would collide with the one naming the
    score's metric: it becomes ``exported_anomalert_metric``, as Prometheus does."""
    scores = [
        ("coll_a", {"service": "fz", "anomalert_metric": "coll_b"}, 0.5),
        ("coll_a", {"service": "fz"}, 0.25),
    ]
    metrics = SelfMetrics()
    metrics.track_scores(lambda: scores)
    text = generate_latest(metrics.registry).decode()
    lines = sorted(
        line for line in text.splitlines() if line.startswith("anomalert_anomaly_score{")
    )
    assert lines == [
        'anomalert_anomaly_score{anomalert_metric="coll_a",exported_anomalert_metric="coll_b",'
        'service="fz"} 0.5',
        'anomalert_anomaly_score{anomalert_metric="coll_a",service="fz"} 0.25',
    ]
