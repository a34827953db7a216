"""Through the service: a pod unlike its siblings pages while its own series is too young to."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anomalert.app import EventClock
from anomalert.model import Sample
from tests.support.api import api_clients

T0 = 1_767_600_000.0


def test_a_pod_slow_from_its_first_minutes_pages_as_unlike_its_peers(tmp_path: Path) -> None:
    """Twelve pods of a deployment report their p99 every minute for four hours (the
    groups and series alert after two: ``detection.min_age``); a rollout then replaces one
    pod with one three times slower. Its own series is minutes old and cannot page; its
    peers page it within ten minutes, as an outlier with ``detector="peers"`` and a reason
    in words, and the alert's chart is the pod's own values against its peers' median (its
    own band learned slow as its normal). Nothing else pages."""
    config = {
        "detection": {"min_age": "2h"},
        "defaults": {"mode": "alerting"},
        "route": {"receiver": "out", "group_wait": "0s"},
    }
    rng = np.random.default_rng(5)
    pods = [f"checkout-{m}" for m in range(12)]
    fired = []
    with api_clients(tmp_path, config, T0) as build:
        _, app = build()
        clock = app.clock
        assert isinstance(clock, EventClock)
        for minute in range(4 * 60 + 20):
            t = T0 + 60.0 * minute
            clock.advance(t)
            if minute == 4 * 60:
                pods[7] = "checkout-new"
            batch = []
            for pod in pods:
                p99 = 0.2 * np.exp(0.05 * rng.standard_normal())
                if pod == "checkout-new":
                    p99 *= 3.0
                labels = {"service": "checkout", "pod": pod}
                batch.append(Sample("http_p99_seconds", labels, t, float(p99)))
            result = app.ingest(batch, "json")
            fired += [(minute, a) for a in result.transitions if a.status == "firing"]
            app.tick()
        assert fired, "nothing paged"
        minute, alert = fired[0]
        assert 4 * 60 <= minute <= 4 * 60 + 10
        assert {a.fingerprint for _, a in fired} == {alert.fingerprint}  # one alert
        assert alert.labels["pod"] == "checkout-new"
        assert alert.labels["detector"] == "peers"
        assert alert.labels["kind"] == "outlier"
        assert alert.labels["metric"] == "http_p99_seconds"
        summary = alert.annotations["summary"]
        assert "on pod checkout-new, above its 11 peers' median 0.2" in summary, summary
        stored = app.store.find_alert(alert.fingerprint)
        assert stored is not None and stored.context is not None
        window = stored.context["window"]
        assert 1 <= len(window["values"]) <= 11 and min(window["values"]) > 0.4  # its own
        # Against its peers' median at each of its times, and the verdict's band around it.
        assert all(0.18 < e < 0.22 for e in window["expected"])
        assert all(
            lo < e < hi
            for lo, e, hi in zip(*(window[k] for k in ("lower", "expected", "upper")), strict=True)
        )
        assert max(window["upper"]) < 0.4
        assert app.metrics.registry.get_sample_value("anomalert_peer_groups") == 1.0
