"""What the store hands back: frozen rows, one type per table, never a database cursor.

Callers (the pipeline, the API, the delivery thread) get plain values they can keep, pass to
another thread or serialise, and the store stays free to change how it keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from anomalert.model import Alert, Kind, Labels, Mode, Scored, Severity, Source, Status

OutboxStatus = Literal["pending", "sent", "failed"]


@dataclass(frozen=True)
class AlertRow:
    """One alert episode as stored: the last :class:`Alert` snapshot plus what people did."""

    id: int
    fingerprint: str
    labels: Labels = field(hash=False)
    annotations: Labels = field(hash=False)
    starts_at: float
    ends_at: float | None
    status: Status
    score: float
    severity: Severity
    mode: Mode
    source: Source
    updated_at: float
    acked_at: float | None = None
    acked_by: str | None = None
    context: dict[str, Any] | None = field(default=None, hash=False)
    expires_at: float | None = None

    def to_alert(self) -> Alert:
        """The pipeline's snapshot, so a restarted service resumes with the same alerts."""
        return Alert(
            fingerprint=self.fingerprint,
            labels=dict(self.labels),
            annotations=dict(self.annotations),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            status=self.status,
            score=self.score,
            severity=self.severity,
            mode=self.mode,
            source=self.source,
            updated_at=self.updated_at,
            expires_at=self.expires_at,
        )

    @property
    def service(self) -> str:
        """The service label ('' when missing)."""
        return self.labels.get("service", "")


@dataclass(frozen=True)
class HistoryRow:
    """One step in an alert's timeline (state change, notification, ack, feedback, ...)."""

    id: int
    alert_id: int
    time: float
    kind: str
    detail: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class FeedbackRow:
    """ "Helpful / not helpful" on one alert; service and metric copied for tuning queries."""

    id: int
    alert_id: int
    time: float
    helpful: bool
    comment: str
    service: str
    metric: str


@dataclass(frozen=True)
class AnomalyRow:
    """A detector verdict that crossed the threshold, with the values around it."""

    id: int
    alert_id: int | None
    series: str
    metric: str
    labels: Labels = field(hash=False)
    timestamp: float
    value: float
    score: float
    kind: Kind
    expected: float
    lower: float
    upper: float
    reason: str
    detail: float
    window: list[tuple[float, float]] = field(hash=False)

    def to_scored(self) -> Scored:
        """The verdict as the detection engine emitted it."""
        return Scored(
            series=self.series,
            metric=self.metric,
            labels=dict(self.labels),
            timestamp=self.timestamp,
            value=self.value,
            score=self.score,
            kind=self.kind,
            expected=self.expected,
            lower=self.lower,
            upper=self.upper,
            reason=self.reason,
            detail=self.detail,
        )


@dataclass(frozen=True)
class SilenceRow:
    """A silence as stored; the alert package owns what ``matchers`` mean."""

    id: str
    matchers: list[dict[str, Any]] = field(hash=False)
    starts_at: float
    ends_at: float | None
    created_by: str
    comment: str
    until_resolved: bool
    updated_at: float


@dataclass(frozen=True)
class OutboxItem:
    """One durable delivery: ``key`` makes enqueueing idempotent across crashes.

    ``attempts`` counts delivery attempts made (sent, failed or retried later);
    ``updated_at`` is the time of the last change, which retention ages sent and failed
    items by.
    """

    id: int
    key: str
    receiver: str
    payload: dict[str, Any] = field(hash=False)
    status: OutboxStatus
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    sent_at: float | None
    updated_at: float


@dataclass(frozen=True)
class ServiceSettingRow:
    """A service's rollout mode as an admin set it at runtime (None: back to the config)."""

    service: str
    mode: Mode | None
    updated_at: float
    updated_by: str


@dataclass(frozen=True)
class SensitivityRow:
    """Where feedback left a (service, metric)'s threshold, and why."""

    service: str
    metric: str
    reset_at: float | None
    threshold: float | None
    explanation: str
    updated_at: float


@dataclass(frozen=True)
class LabelledIncidentRow:
    """A real incident as people labelled it: what the shadow-mode report compares with."""

    id: int
    external_id: str | None
    service: str | None
    title: str
    start: float
    end: float
    source: str
    created_at: float
