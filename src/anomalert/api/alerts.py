"""Alerts: the list (filters, keyset pages), one alert with all that explains it, ack, feedback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from anomalert.api.errors import ApiError
from anomalert.api.ingest import JsonRoute
from anomalert.api.params import FreeText, PlainText, QueryText, RowId
from anomalert.api.state import get_app, require_admin
from anomalert.store import AlertRow
from anomalert.timefmt import rfc3339

router = APIRouter(route_class=JsonRoute)

#: Change events this long before an alert are shown as "what changed nearby".
EVENTS_BEFORE = 2 * 3600.0


def alert_json(row: AlertRow) -> dict[str, Any]:
    """The list view of an alert."""
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "labels": row.labels,
        "annotations": row.annotations,
        "service": row.labels.get("service", ""),
        "metric": row.labels.get("metric"),
        "score": round(row.score, 4),
        "severity": row.severity,
        "state": row.status,
        "mode": row.mode,
        "source": row.source,
        "reason": row.annotations.get("summary", ""),
        "runbook_url": row.annotations.get("runbook_url"),
        "starts_at": rfc3339(row.starts_at),
        "ends_at": rfc3339(row.ends_at),
        # A firing external alert resolves then unless its sender sends it again.
        "expires_at": rfc3339(row.expires_at),
        "updated_at": rfc3339(row.updated_at),
        "acknowledged_at": rfc3339(row.acked_at),
        "acknowledged_by": row.acked_by,
    }


@router.get("/api/v1/alerts")
def list_alerts(
    request: Request,
    state: Literal["firing", "resolved", "acknowledged", "unacknowledged"] | None = None,
    service: QueryText | None = None,
    severity: Literal["P1", "P2", "P3"] | None = None,
    mode: Literal["shadow", "assistive", "alerting"] | None = None,
    search: Annotated[QueryText | None, Query(max_length=200)] = None,
    incident: Annotated[
        QueryText | None, Query(max_length=200, description="one incident group")
    ] = None,
    limit: int = Query(100, ge=1, le=1000),
    before: Annotated[
        RowId | None, Query(ge=1, description="keyset page: alerts with id < before")
    ] = None,
) -> dict[str, Any]:
    """Newest first; ``next`` is the ``before`` value of the next page (null at the end)."""
    app = get_app(request)
    rows = app.store.list_alerts(
        state=state,
        service=service,
        severity=severity,
        mode=mode,
        search=search,
        incident=incident,
        limit=limit + 1,
        before_id=before,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "alerts": [alert_json(r) for r in rows],
        "next": rows[-1].id if more and rows else None,
    }


@router.get("/api/v1/alerts/{alert_id}")
def get_alert(request: Request, alert_id: RowId) -> dict[str, Any]:
    """One alert with its context: values and baseline band, changes nearby, history."""
    app = get_app(request)
    row = app.store.get_alert(alert_id)
    if row is None:
        raise ApiError(404, f"no alert with id {alert_id}", "alert_id")
    out = alert_json(row)
    out["context"] = row.context
    until = row.ends_at if row.ends_at is not None else app.clock.now()
    service = row.labels.get("service")
    events = app.store.events(service=service, since=row.starts_at - EVENTS_BEFORE, until=until)
    out["events"] = [
        {
            "kind": e.kind,
            "service": e.service,
            "timestamp": rfc3339(e.timestamp),
            "minutes_before": round((row.starts_at - e.timestamp) / 60.0, 1),
            "version": e.version,
            "description": e.description,
            "link": e.link,
        }
        for e in events
    ]
    history = app.store.history(alert_id)
    out["history"] = [
        {"time": rfc3339(h.time), "kind": h.kind, "detail": h.detail} for h in history
    ]
    out["notifications"] = [h for h in out["history"] if h["kind"] == "notification"]
    out["muted_by"] = app.pipeline.muted_by(row.labels, app.clock.now())
    return out


class AckBody(BaseModel):
    """Who acknowledges (optional)."""

    model_config = ConfigDict(extra="forbid")
    by: PlainText = Field(default="api", max_length=200)


@router.post("/api/v1/alerts/{alert_id}/ack", dependencies=[Depends(require_admin)])
def ack_alert(request: Request, alert_id: RowId, body: AckBody | None = None) -> dict[str, Any]:
    """Acknowledge: stops escalation; paging receivers hear about it."""
    app = get_app(request)
    if not app.ack(alert_id, (body or AckBody(by="api")).by):
        raise ApiError(404, f"no alert with id {alert_id}", "alert_id")
    row = app.store.get_alert(alert_id)
    assert row is not None
    return alert_json(row)


class FeedbackBody(BaseModel):
    """Was this alert helpful? Strictly true or false: a vote tunes thresholds, so "yes",
    1 or "off" must not become one by coercion."""

    model_config = ConfigDict(extra="forbid")
    helpful: bool = Field(strict=True)
    comment: FreeText = Field(default="", max_length=2000)


@router.post("/api/v1/alerts/{alert_id}/feedback", dependencies=[Depends(require_admin)])
def alert_feedback(request: Request, alert_id: RowId, body: FeedbackBody) -> dict[str, Any]:
    """Record "helpful / not helpful" (and a comment); answers with what it did to the
    alert's threshold (adaptive sensitivity)."""
    app = get_app(request)
    result = app.feedback(alert_id, body.helpful, body.comment)
    if result is None:
        raise ApiError(404, f"no alert with id {alert_id}", "alert_id")
    return result.to_json()
