"""Firing external alerts resolve at their ``expires_at`` unless sent again."""

from __future__ import annotations

from dataclasses import replace

from anomalert.alert.external import Expiries
from anomalert.model import Alert, fingerprint


def alert(name: str = "DiskFull", expires_at: float | None = 240.0, **kw: object) -> Alert:
    labels = {"alertname": name, "service": "db", "severity": "P1"}
    fields: dict[str, object] = {
        "fingerprint": fingerprint(labels),
        "labels": labels,
        "annotations": {},
        "starts_at": 0.0,
        "ends_at": None,
        "status": "firing",
        "score": 1.0,
        "severity": "P1",
        "mode": "alerting",
        "source": "external",
        "updated_at": 0.0,
        "expires_at": expires_at,
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def test_an_expired_alert_resolves_at_its_expiry_whenever_asked() -> None:
    firing = alert()
    expiries = Expiries([firing])
    assert expiries.due(239.0) == []
    (resolved,) = expiries.due(300.0)
    assert resolved == replace(
        firing, status="resolved", ends_at=240.0, updated_at=300.0, expires_at=None
    )


def test_a_resolve_is_given_until_taken() -> None:
    """A resolve the store did not take is given again at the next tick."""
    expiries = Expiries([alert()])
    expired = expiries.due(300.0)
    assert expiries.due(301.0) != [] and len(expiries) == 1
    expiries.take(expired)
    assert expiries.due(302.0) == [] and len(expiries) == 0


def test_sent_again_takes_the_new_expiry_and_a_resolve_forgets() -> None:
    expiries = Expiries([alert()])
    expiries.take([alert(expires_at=480.0, updated_at=200.0)])
    assert expiries.due(300.0) == []
    assert [a.ends_at for a in expiries.due(480.0)] == [480.0]
    expiries.take([alert(status="resolved", ends_at=400.0, expires_at=None)])
    assert expiries.due(1000.0) == []


def test_alerts_that_do_not_expire_are_not_followed() -> None:
    expiries = Expiries([alert(expires_at=None), alert("Other", source="anomaly", expires_at=None)])
    assert len(expiries) == 0 and expiries.due(1e12) == []


def test_an_end_is_never_before_the_start() -> None:
    """A sender's start in the future, its end sooner: ended when it started."""
    (resolved,) = Expiries([alert(starts_at=500.0, expires_at=240.0)]).due(600.0)
    assert (resolved.starts_at, resolved.ends_at) == (500.0, 500.0)
