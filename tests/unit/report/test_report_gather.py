"""Which services the shadow report covers when none is named: those in shadow mode now."""

from __future__ import annotations

from pathlib import Path

from anomalert.config import parse_config
from anomalert.model import Alert
from anomalert.report.gather import shadow_services
from anomalert.store import Store
from tests.support.alerts import firing_alert


def _alert(service: str, start: float) -> Alert:
    labels = {"alertname": "Anomaly", "service": service, "metric": "latency_ms"}
    return firing_alert(labels, start, score=0.95, mode="shadow")


def test_with_shadow_as_default_every_alerted_service_is_covered(tmp_path: Path) -> None:
    base = {"receivers": [{"name": "log", "log": {}}], "route": {"receiver": "log"}}
    config = parse_config(
        {**base, "defaults": {"mode": "shadow"}, "services": {"db": {"mode": "alerting"}}}
    )
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    try:
        for k, service in enumerate(("search", "search", "cart", "db")):
            store.upsert_alert(_alert(service, 1000.0 + k))
        store.set_service_mode("cart", "assistive", 2000.0, "admin")
        assert sorted(store.alert_services()) == ["cart", "db", "search"]
        assert shadow_services(store, config) == ["search"]
    finally:
        store.close()
