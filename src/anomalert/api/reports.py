"""Labelled incidents and the reports built on them: shadow-mode readiness, weekly audit.

Reading is open like every ``GET``; entering, importing and deleting incidents are admin
actions, because the shadow report that decides a service's promotion is computed from them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from anomalert.api.errors import ApiError
from anomalert.api.ingest import json_body
from anomalert.api.params import QueryText, RowId
from anomalert.api.state import get_app, require_admin
from anomalert.app import App
from anomalert.errors import FieldError
from anomalert.report.gather import gather_audit, gather_shadow, import_incidents
from anomalert.report.incidents_file import parse_incidents, parse_item, parse_time
from anomalert.store import LabelledIncidentRow
from anomalert.timefmt import rfc3339

router = APIRouter()

_IMPORT_KEYS = ("format", "content")


def incident_json(row: LabelledIncidentRow) -> dict[str, Any]:
    """A labelled incident as the API shows it."""
    return {
        "id": row.id,
        "external_id": row.external_id,
        "service": row.service,
        "title": row.title,
        "start": rfc3339(row.start),
        "end": rfc3339(row.end),
        "source": row.source,
    }


def query_time(name: str, value: str | None) -> float | None:
    """A time in a query string: RFC 3339 with an offset, or unix seconds."""
    if value is None or value == "":
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}", name) from None


@router.get("/api/v1/incidents/labelled")
def list_labelled(
    request: Request,
    service: QueryText | None = None,
    since: QueryText | None = None,
    until: QueryText | None = None,
) -> dict[str, Any]:
    """Labelled incidents overlapping [since, until], oldest first (``service`` also keeps
    the incidents that name no service)."""
    rows = get_app(request).store.labelled_incidents(
        service=service, since=query_time("since", since), until=query_time("until", until)
    )
    return {"incidents": [incident_json(r) for r in rows]}


@router.post("/api/v1/incidents/labelled", status_code=201, dependencies=[Depends(require_admin)])
async def add_labelled(request: Request) -> dict[str, Any]:
    """Enter one incident: ``{"service"?, "title"?, "start", "end", "id"?}``."""
    return await run_in_threadpool(_add_labelled, get_app(request), await json_body(request))


def _add_labelled(app: App, body: Any) -> dict[str, Any]:
    """``add_labelled`` after its body is read, in the threadpool (``api.ingest``)."""
    item = parse_item(body)
    (new_id,) = import_incidents(app.store, [item], "page", app.clock.now())
    row = next(r for r in app.store.labelled_incidents() if r.id == new_id)
    return incident_json(row)


@router.post("/api/v1/incidents/labelled/import", dependencies=[Depends(require_admin)])
async def import_labelled(request: Request) -> dict[str, Any]:
    """Import a CSV or JSON file's incidents; the valid ones are kept, the others named."""
    return await run_in_threadpool(_import_labelled, get_app(request), await json_body(request))


def _import_labelled(app: App, body: Any) -> dict[str, Any]:
    """``import_labelled`` after its body is read, in the threadpool (``api.ingest``)."""
    if not isinstance(body, dict):
        raise FieldError("body", 'expected {"format": "csv" or "json", "content": "..."}')
    unknown = sorted(set(body) - set(_IMPORT_KEYS))
    if unknown:
        raise FieldError(unknown[0], "unknown field; use format and content")
    fmt, content = body.get("format"), body.get("content")
    if fmt not in ("csv", "json"):
        raise FieldError("format", "must be csv or json")
    if not isinstance(content, str):
        raise FieldError("content", "must be the file's text")
    parsed = parse_incidents(content, fmt)
    if not parsed.items:
        first = str(parsed.errors[0]) if parsed.errors else "the file holds no incidents"
        more = f" (and {len(parsed.errors) - 1} more)" if len(parsed.errors) > 1 else ""
        raise ApiError(422, f"no valid incident to import: {first}{more}", "content")
    ids = import_incidents(app.store, parsed.items, fmt, app.clock.now(), from_file=True)
    return {
        "imported": len(ids),
        "ids": ids,
        "rejected": [e.to_json() for e in parsed.errors],
    }


@router.delete(
    "/api/v1/incidents/labelled/{incident_id}",
    status_code=204,
    dependencies=[Depends(require_admin)],
)
def delete_labelled(request: Request, incident_id: RowId) -> Response:
    """Remove a labelled incident (entered by mistake); the reports no longer count it."""
    if not get_app(request).store.delete_labelled_incident(incident_id):
        raise ApiError(404, f"no labelled incident with id {incident_id}", "incident_id")
    return Response(status_code=204)


@router.get("/api/v1/reports/shadow")
def shadow(
    request: Request,
    service: Annotated[
        list[QueryText] | None, Query(description="services (default: those in shadow mode)")
    ] = None,
    since: QueryText | None = None,
    until: QueryText | None = None,
) -> dict[str, Any]:
    """Alerts against labelled incidents per service: precision, recall, lead time, verdict."""
    app = get_app(request)
    end = query_time("until", until)
    report = gather_shadow(
        app.store,
        app.config,
        until=app.clock.now() if end is None else end,
        services=service,
        since=query_time("since", since),
    )
    return report.to_json()


@router.get("/api/v1/reports/audit")
def audit(
    request: Request,
    until: QueryText | None = None,
    days: float = Query(7.0, gt=0, le=366),
) -> dict[str, Any]:
    """The alerts of the ``days`` before ``until``: ignored ratios, noisy groups, suggestions."""
    app = get_app(request)
    end = query_time("until", until)
    report = gather_audit(
        app.store,
        until=app.clock.now() if end is None else end,
        days=days,
        threshold_of=app.policy.threshold,
        clock_of=app.rules.clock_of,
    )
    return report.to_json()
