"""One builder for a firing anomaly alert, as tests that need one stored or linked use it."""

from __future__ import annotations

from anomalert.model import Alert, fingerprint


def firing_alert(
    labels: dict[str, str],
    start: float,
    *,
    summary: str = "far above the usual",
    score: float = 0.93,
    severity: str = "P2",
    mode: str = "alerting",
    fp: str | None = None,
) -> Alert:
    """A firing alert that started (and was last updated) at ``start``."""
    return Alert(
        fingerprint=fp or fingerprint(labels),
        labels=labels,
        annotations={"summary": summary},
        starts_at=start,
        ends_at=None,
        status="firing",
        score=score,
        severity=severity,
        mode=mode,
        source="anomaly",
        updated_at=start,
    )
