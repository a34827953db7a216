"""Health, readiness, self-metrics, and what the delivery outbox holds."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from anomalert.api.errors import error_response
from anomalert.api.params import QueryText
from anomalert.api.state import get_app
from anomalert.timefmt import rfc3339

router = APIRouter()


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(request: Request) -> dict[str, Any] | Response:
    """Ready to take traffic: the store answers and the engine is loaded."""
    app = get_app(request)
    try:
        app.store.load_checkpoint("__ready_probe__")
    except Exception as exc:  # any store failure means not ready
        return error_response(503, f"store not reachable: {type(exc).__name__}")
    return {"status": "ready", "series": app.detector.followed}


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus exposition: ingest, detection, delivery, and every series' anomaly score."""
    app = get_app(request)
    with app.lock:
        app.metrics.pending.set(app.store.count_outbox("pending"))
        body = generate_latest(app.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/api/v1/outbox")
def outbox(
    request: Request,
    status: Literal["pending", "sent", "failed"] | None = None,
    receiver: QueryText | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Deliveries and their fate: failed ones show the receiver's error (never a secret)."""
    app = get_app(request)
    items = app.store.outbox(status=status, receiver=receiver, limit=limit)
    return {
        "items": [
            {
                "id": i.id,
                "key": i.key,
                "receiver": i.receiver,
                "status": i.status,
                "attempts": i.attempts,
                "next_attempt_at": rfc3339(i.next_attempt_at),
                "last_error": i.last_error,
                "created_at": rfc3339(i.created_at),
                "sent_at": rfc3339(i.sent_at),
            }
            for i in items
        ]
    }
