"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server.

Each pytest(-xdist) worker starts its own PostgreSQL once (session scope) and gives each test
a fresh database, so tests never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anomalert.model import Alert, fingerprint
from anomalert.store import Store
from tests.support.postgres import create_database, postgres_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of the worker's own PostgreSQL server (its maintenance database)."""
    with postgres_server(database="anomalert_test") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'anomalert.db'}"
    admin: str = request.getfixturevalue("postgres_admin_url")
    return create_database(admin, f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated, empty store; closed after the test."""
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()


MakeAlert = Callable[..., Alert]


@pytest.fixture
def make_alert() -> MakeAlert:
    """Build an :class:`Alert` with sensible fields; keyword arguments override them."""

    def make(
        service: str = "checkout",
        metric: str = "latency_p99_ms",
        starts_at: float = 1000.0,
        **overrides: Any,
    ) -> Alert:
        labels = {
            "alertname": "AnomalousLatency",
            "service": service,
            "metric": metric,
            "severity": overrides.get("severity", "P2"),
        }
        labels.update(overrides.pop("extra_labels", {}))
        fields: dict[str, Any] = {
            "fingerprint": fingerprint(labels),
            "labels": labels,
            "annotations": {
                "summary": f"{metric} of {service} 4.2σ above the usual",
                "runbook_url": "https://runbooks.example/latency",
            },
            "starts_at": starts_at,
            "ends_at": None,
            "status": "firing",
            "score": 0.93,
            "severity": "P2",
            "mode": "alerting",
            "source": "anomaly",
            "updated_at": starts_at,
        }
        fields.update(overrides)
        return Alert(**fields)

    return make
