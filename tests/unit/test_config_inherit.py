"""A listed service starts from ``defaults``: its own keys win, label and metric maps merge."""

from __future__ import annotations

from anomalert.config import parse_config

BASE = {"route": {"receiver": "r"}, "receivers": [{"name": "r", "log": {}}]}


def test_listed_services_inherit_defaults_and_override_them() -> None:
    cfg = parse_config(
        {
            **BASE,
            "defaults": {
                "mode": "shadow",
                "runbook_url": "https://rb/generic",
                "labels": {"env": "prod", "team": "sre"},
                "metrics": {"cpu": {"threshold": 0.99}},
            },
            "services": {
                "checkout": {"criticality": "high", "labels": {"team": "shop"}},
                "db": {"mode": "alerting", "metrics": {"disk": {"disabled": True}}},
            },
        }
    )
    checkout, db = cfg.service("checkout"), cfg.service("db")
    assert checkout.mode == "shadow" and checkout.criticality == "high"
    assert checkout.runbook_url == "https://rb/generic"
    assert checkout.labels == {"env": "prod", "team": "shop"}
    assert db.mode == "alerting"
    assert set(db.metrics) == {"cpu", "disk"}
    assert cfg.service("unlisted").mode == "shadow"
