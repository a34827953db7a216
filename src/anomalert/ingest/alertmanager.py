"""Alerts from other tools in Alertmanager's API v2 format, so anomalert can sit in its place.

Prometheus (and anything else that speaks to an Alertmanager) POSTs a list of postable alerts
to ``/api/v2/alerts``: ``[{"labels", "annotations", "startsAt", "endsAt", "generatorURL"}]``.
Handling follows :mod:`.samples` (a body that is not a list raises ``FieldError("alerts")``,
each bad alert is a :class:`Rejection` naming its fields, unknown keys are refused) plus the
Alertmanager rules:

- ``labels`` is required, non-empty and carries a non-empty ``alertname``; labels with an empty
  value are dropped (in Prometheus an empty label is an absent label);
- no label nor ``generatorURL`` holds a control character, nor does an annotation but for
  line breaks and tabs (a ``description`` over several lines): see :mod:`.jsonin`;
- times are RFC 3339; a missing ``endsAt`` means "until told otherwise"; an ``endsAt``
  before ``startsAt`` is refused;
- an ``endsAt`` at or before the receiving clock means the alert is resolved; Prometheus
  sends a future ``endsAt`` with every firing alert and re-sends it while it fires, so a
  firing alert not sent again by its ``endsAt`` resolves then (one sent without ``endsAt``:
  ``resolve_timeout`` after it was last sent), as in Alertmanager: the alert's
  ``expires_at``, which the app's tick follows (:mod:`anomalert.alert.external`);
- a missing ``startsAt`` (or Go's zero time, which senders write for "unset") continues the
  alert's episode if one is going on, as Alertmanager merges a re-send into the alert of
  its fingerprint (:func:`to_alert`'s ``latest``): a firing re-send updates the firing
  episode, a resolve ends it; otherwise a firing alert starts now and a resolve at its
  ``endsAt`` (Alertmanager's own rule). Why: alerts are stored by fingerprint and start, so
  "missing means now" made every re-send (every minute, from Prometheus and most senders)
  a new alert, firing for ever: a resolve sent without ``startsAt`` was refused as ending
  before it started, and would have ended one of them only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import Field

from anomalert.configbase import Duration, StrictModel
from anomalert.errors import FieldError
from anomalert.ingest.jsonin import plain_text
from anomalert.ingest.samples import (
    MAX_BATCH,
    Rejection,
    attempt,
    check_size,
    event_time,
    got,
    label_set,
    unknown_keys,
)
from anomalert.model import SEVERITIES, Alert, Episode, Labels, Mode, Severity, fingerprint

ALERT_KEYS = ("labels", "annotations", "startsAt", "endsAt", "generatorURL")
#: Severity label values of the Prometheus world, mapped to ours.
SEVERITY_NAMES: dict[str, Severity] = {"critical": "P1", "warning": "P2", "info": "P3"}
_GO_ZERO_TIME = "0001-01-01T00:00:00"
#: Alertmanager's default ``resolve_timeout``.
RESOLVE_TIMEOUT = 300.0


class AlertsConfig(StrictModel):
    """How alerts sent in Alertmanager's format are kept (``ingest.alerts``)."""

    #: A firing alert sent without ``endsAt`` resolves this long after it was last sent,
    #: as Alertmanager's ``resolve_timeout`` has it: a sender that says nothing of when its
    #: alert ends re-sends it while it fires, or it would fire for ever once the sender
    #: stopped.
    resolve_timeout: Duration = Field(default=RESOLVE_TIMEOUT, gt=0.0)


@dataclass(frozen=True)
class ExternalAlert:
    """One alert as another tool sent it; ``received_at`` is the clock it was judged by."""

    labels: Labels = field(hash=False)
    annotations: Labels = field(hash=False)
    starts_at: float
    ends_at: float | None
    generator_url: str
    received_at: float
    #: The sender gave ``startsAt`` (False: ``starts_at`` is when it arrived, and the alert
    #: continues the episode going on, :func:`to_alert`).
    start_given: bool = True

    @property
    def fingerprint(self) -> str:
        """Over the labels as sent, so re-sends of the same alert dedup however we
        normalise them."""
        return fingerprint(self.labels)

    def resolved(self, now: float | None = None) -> bool:
        """The sender says it is over: its end time had passed at ``now`` (default: arrival)."""
        at = self.received_at if now is None else now
        return self.ends_at is not None and self.ends_at <= at


def parse_alertmanager_alerts(
    body: object, now: float, *, max_batch: int = MAX_BATCH
) -> tuple[list[ExternalAlert], list[Rejection]]:
    """Validated alerts and the rejected ones; FieldError("alerts") for a malformed body."""
    if not isinstance(body, list):
        raise FieldError("alerts", f"the body must be a list of alerts (got {got(body)})")
    accepted: list[ExternalAlert] = []
    rejected: list[Rejection] = []
    for i, item in enumerate(check_size(body, "alerts", max_batch)):
        alert, problems = _alert(f"alerts[{i}]", item, now)
        if alert is None:
            rejected.append(Rejection(i, "; ".join(problems)))
        else:
            accepted.append(alert)
    return accepted, rejected


def to_alert(
    ext: ExternalAlert,
    *,
    now: float | None = None,
    default_severity: Severity = "P2",
    mode: Mode = "alerting",
    latest: Episode | None = None,
    resolve_timeout: float = RESOLVE_TIMEOUT,
) -> Alert:
    """The pipeline's view of an external alert at ``now`` (default: when it arrived).

    The fingerprint is taken over the labels as sent, so re-sends of the same alert dedup
    however we normalise them. An alert sent without ``startsAt`` belongs to ``latest``, the
    newest stored episode of its fingerprint, when that one is going on: firing (a re-send
    of it, or its resolve), or a resolve ending within it (the same resolve re-sent; it
    keeps its end). Otherwise it is a new episode: firing from its arrival, a resolve from
    its ``endsAt``. ``severity`` becomes P1/P2/P3 (``critical``/``warning``/
    ``info`` are mapped; anything else takes ``default_severity``); ``service`` falls back to
    ``job``. External alerts carry no anomaly score: the sender already decided, so it is 1.
    A ``generatorURL`` is kept as the ``generator_url`` annotation, which notifications send
    on as the alert's ``generatorURL`` (instead of its page on our dashboard). A firing
    alert expires at its ``endsAt``, or ``resolve_timeout`` after ``now`` without one.
    """
    labels = dict(ext.labels)
    severity = severity_of(labels.get("severity", ""), default_severity)
    labels["severity"] = severity
    if "service" not in labels and "job" in labels:
        labels["service"] = labels["job"]
    annotations = dict(ext.annotations)
    resolved = ext.resolved(now)
    if "summary" not in annotations and "description" in annotations:
        annotations["summary"] = annotations["description"]
    if ext.generator_url and "generator_url" not in annotations:
        annotations["generator_url"] = ext.generator_url
    starts_at, ends_at = ext.starts_at, ext.ends_at if resolved else None
    if not ext.start_given:
        starts_at, ends_at = _episode(ext, ends_at, latest)
    at = ext.received_at if now is None else now
    expires_at = None
    if not resolved:
        expires_at = ext.ends_at if ext.ends_at is not None else at + resolve_timeout
    return Alert(
        fingerprint=ext.fingerprint,
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        status="resolved" if resolved else "firing",
        score=1.0,
        severity=severity,
        mode=mode,
        source="external",
        updated_at=at,
        expires_at=expires_at,
    )


def _episode(ext: ExternalAlert, ends_at: float | None, latest: Episode | None) -> Episode:
    """Start and end of an alert sent without ``startsAt`` (``ends_at``: None while it
    fires), given the newest episode of its fingerprint (see :func:`to_alert`)."""
    if latest is not None:
        start, end = latest
        if end is None and (ends_at is None or ends_at >= start):
            return start, ends_at
        if end is not None and ends_at is not None and start <= ends_at <= end:
            return start, end
    return (ext.starts_at, None) if ends_at is None else (ends_at, ends_at)


def severity_of(value: str, default: Severity) -> Severity:
    """P1/P2/P3 from a severity label value (any case), else ``default``.

    >>> severity_of("critical", "P2"), severity_of("p3", "P2"), severity_of("page", "P2")
    ('P1', 'P3', 'P2')
    """
    for name in SEVERITIES:
        if value.upper() == name:
            return name
    return SEVERITY_NAMES.get(value.lower(), default)


def _alert(where: str, item: object, now: float) -> tuple[ExternalAlert | None, list[str]]:
    if not isinstance(item, dict):
        return None, [f"{where}: must be an object (got {got(item)})"]
    problems = unknown_keys(where, item, ALERT_KEYS)
    if "labels" not in item:
        problems.append(f"{where}.labels: required")
    labels = attempt(problems, _labels, f"{where}.labels", item.get("labels", ...))
    notes = item.get("annotations", {})
    annotations = attempt(problems, _annotations, f"{where}.annotations", notes)
    starts_at = attempt(problems, _time, f"{where}.startsAt", item.get("startsAt"))
    ends_at = attempt(problems, _time, f"{where}.endsAt", item.get("endsAt"))
    url = attempt(problems, _url, f"{where}.generatorURL", item.get("generatorURL", ""))
    if ends_at is not None and starts_at is not None and ends_at < starts_at:
        problems.append(f"{where}.endsAt: before startsAt")
    if problems or labels is None or annotations is None or url is None:
        return None, problems
    start = now if starts_at is None else starts_at
    return ExternalAlert(labels, annotations, start, ends_at, url, now, starts_at is not None), []


def _labels(where: str, value: object) -> Labels:
    labels = {k: v for k, v in label_set(where, value).items() if v}
    if not labels:
        raise FieldError(where, "must not be empty")
    if "alertname" not in labels:
        raise FieldError(f"{where}.alertname", "required")
    return labels


def _annotations(where: str, value: object) -> Labels:
    """Annotations as labels are, but a description may run over several lines (and be
    indented with tabs): their values keep line breaks and tabs."""
    return label_set(where, value, free=True)


def _time(where: str, value: object) -> float | None:
    if value is None or (isinstance(value, str) and value.startswith(_GO_ZERO_TIME)):
        return None
    return event_time(where, value, None, None)


def _url(where: str, value: object) -> str:
    if not isinstance(value, str):
        raise FieldError(where, f"must be a string (got {got(value)})")
    return plain_text(where, value)
