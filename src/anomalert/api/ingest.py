"""Ingest endpoints: JSON samples and records, remote_write, change events, Alertmanager alerts.

Valid items of a batch are kept even when others are rejected; the answer lists each rejected
item with its index and the reason. Live endpoints refuse timestamps far in the past or the
future (history goes through ``anomalert replay``).

The endpoints are ``async`` to read their bodies, and hand everything after that (parsing,
detection, the store) to the threadpool (``run_in_threadpool``): run on the event loop, one
large batch held every other request, ``/healthz`` and the dashboard included, for as long
as it took (13 s for one series' 3,000 points beside 11,000 others: a fuzzing review,
2026-12-07; such a batch now ticks over its own series alone, ``StreamDetector.score``).
The app serialises its own state (``App.lock``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from anomalert.api.errors import ApiError
from anomalert.api.mediatype import json_type_problem
from anomalert.api.state import get_app, require_write
from anomalert.app import App
from anomalert.ingest.alertmanager import parse_alertmanager_alerts
from anomalert.ingest.events import parse_events
from anomalert.ingest.jsonin import JsonError, parse_json, printable
from anomalert.ingest.records import parse_records
from anomalert.ingest.remote_write import decode_write_request
from anomalert.ingest.samples import Rejection, parse_samples
from anomalert.ingest.timecheck import TimeWindow
from anomalert.model import Sample

router = APIRouter()


async def json_body(request: Request) -> Any:
    """The parsed JSON body (see :mod:`anomalert.ingest.jsonin`), or a 400/415 in the error
    shape (the content types taken: :func:`.mediatype.json_type_problem`)."""
    problem = json_type_problem(request.headers.get("content-type", "application/json"))
    if problem is not None:
        raise ApiError(415, problem)
    raw = await request.body()
    if not raw:
        raise ApiError(400, "empty body: send a JSON document", "body")
    return await run_in_threadpool(_parse_body, raw)


class JsonRoute(APIRoute):
    """A route whose body model FastAPI reads, refusing the content types :func:`json_body`
    refuses, before FastAPI reads it.

    Why before: FastAPI reads ``application/json`` whatever its ``charset`` says, so a body
    declared latin-1 was taken (or, with an accented letter, was a bare 400 "There was an
    error parsing the body"), and a type that only looks like JSON (``text/json-ish``) was a
    400 about the body's shape. A request without a body has nothing to refuse: a body model
    may be optional.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            ctype = request.headers.get("content-type")
            if ctype is not None and await request.body():
                problem = json_type_problem(ctype)
                if problem is not None:
                    raise ApiError(415, problem)
            return await handler(request)

        return checked


def _parse_body(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except JsonError as exc:
        raise ApiError(400, f"body is {exc}", "body") from None


def _window(app: App) -> TimeWindow:
    s = app.config.server
    return TimeWindow(max_past=s.max_sample_age, max_future=s.max_sample_future)


def _answer(accepted: int, rejected: list[Rejection]) -> dict[str, Any]:
    return {
        "accepted": accepted,
        "rejected": [{"index": r.index, "error": printable(r.error)} for r in rejected],
    }


#: What a late sample's rejection says after its position.
LATE = ".timestamp: not after the series' latest sample (out of order or duplicate); not scored"


def _dropped(
    samples: list[Sample], dropped: list[Sample], positions: list[int], problem: str
) -> list[Rejection]:
    """A rejection for each sample the app did not take, named by its place in the body.

    A value the app derived (a histogram's quantile) has no place in the body: a sender who
    also sends ``<family>:p99`` itself finds the derived one refused as out of order, which
    names none of its samples."""
    where = {id(s): i for s, i in zip(samples, positions, strict=True)}
    return [
        Rejection(where[id(s)], f"samples[{where[id(s)]}]{problem}")
        for s in dropped
        if id(s) in where
    ]


def _positions(n_total: int, rejected: list[Rejection]) -> list[int]:
    bad = {r.index for r in rejected}
    return [i for i in range(n_total) if i not in bad]


def _count(body: Any, key: str) -> int:
    if isinstance(body, dict) and isinstance(body.get(key), list):
        return len(body[key])
    if isinstance(body, list):
        return len(body)
    return 1


@router.post("/api/v1/samples", dependencies=[Depends(require_write)])
async def post_samples(request: Request) -> dict[str, Any]:
    """Metric samples: ``{"samples": [{"metric", "labels", "timestamp", "value"}, ...]}``."""
    return await run_in_threadpool(_take_samples, get_app(request), await json_body(request))


def _take_samples(app: App, body: Any) -> dict[str, Any]:
    samples, rejected = parse_samples(body, app.clock.now(), _window(app))
    positions = _positions(_count(body, "samples"), rejected)
    result = app.ingest(samples, "json")
    if rejected:
        app.metrics.rejected.labels("json", "invalid").inc(len(rejected))
    limit = app.config.detection.max_series
    rejected += _dropped(samples, result.late, positions, LATE)
    rejected += _dropped(
        samples,
        result.refused,
        positions,
        f": a new series, and detection.max_series ({limit:,}) are followed already; refused",
    )
    rejected.sort(key=lambda r: r.index)
    return _answer(result.accepted, rejected)


@router.post("/api/v1/records", dependencies=[Depends(require_write)])
async def post_records(request: Request) -> dict[str, Any]:
    """Aggregate records (one or a list): each feature becomes a series of the service."""
    return await run_in_threadpool(_take_records, get_app(request), await json_body(request))


def _take_records(app: App, body: Any) -> dict[str, Any]:
    records, rejected = parse_records(body, app.clock.now(), _window(app))
    result = app.ingest_records(records)
    for _ in rejected:
        app.metrics.rejected.labels("records", "invalid").inc()
    late = len(result.late)
    answer = _answer(len(records), rejected)
    answer["samples"] = result.accepted
    if late:
        answer["late_samples"] = late
    if result.refused:
        answer["refused_samples"] = len(result.refused)
    return answer


@router.post("/api/v1/write", status_code=204, dependencies=[Depends(require_write)])
async def remote_write(request: Request) -> Response:
    """Prometheus remote_write 1.0 (protobuf, snappy)."""
    app = get_app(request)
    ctype = request.headers.get("content-type", "")
    if ctype and "protobuf" not in ctype:
        raise ApiError(415, f"remote_write sends application/x-protobuf, not {ctype}")
    await run_in_threadpool(_take_write, app, await request.body())
    return Response(status_code=204)


def _take_write(app: App, raw: bytes) -> None:
    samples, rejected = decode_write_request(raw, app.counter_names)
    window = _window(app)
    now = app.clock.now()
    kept = samples
    times = [s.timestamp for s in samples]
    if times and (
        window.check(min(times), now) is not None or window.check(max(times), now) is not None
    ):  # some samples outside the live window: find them (rare; the common case is one pass)
        kept = []
        for i, s in enumerate(samples):
            problem = window.check(s.timestamp, now)
            if problem is None:
                kept.append(s)
            else:
                rejected.append(Rejection(i, f"{_series_text(s)} at {s.timestamp:.3f}: {problem}"))
    result = app.ingest(kept, "remote_write")
    dropped = len(rejected) + len(result.late) + len(result.refused)
    if rejected:
        app.metrics.rejected.labels("remote_write", "invalid").inc(len(rejected))
    if dropped and not result.accepted:
        first = (
            rejected[0].error
            if rejected
            else f"new series beyond detection.max_series ({app.config.detection.max_series:,})"
            if result.refused
            else "samples out of order"
        )
        raise ApiError(400, f"{dropped} samples refused, none kept; first: {first}")


def _series_text(s: Sample) -> str:
    """A remote_write sample's series as PromQL writes it, to say which one was refused
    (a request holds many; their positions in it mean nothing to a Prometheus user)."""
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
    return printable(f"{s.metric}{{{labels}}}")


@router.post("/api/v1/events", dependencies=[Depends(require_write)])
async def post_events(request: Request) -> dict[str, Any]:
    """Change events (one or a list): deployments, rollbacks, config, flags, maintenance."""
    return await run_in_threadpool(_take_events, get_app(request), await json_body(request))


def _take_events(app: App, body: Any) -> dict[str, Any]:
    events, rejected = parse_events(body)
    ids = app.add_events(events)
    answer = _answer(len(ids), rejected)
    answer["ids"] = ids
    return answer


@router.post("/api/v2/alerts", dependencies=[Depends(require_write)])
async def post_alerts(request: Request) -> dict[str, Any]:
    """Alerts in Alertmanager's API v2 format join the same grouping, silencing and routing."""
    return await run_in_threadpool(_take_alerts, get_app(request), await json_body(request))


def _take_alerts(app: App, body: Any) -> dict[str, Any]:
    alerts, rejected = parse_alertmanager_alerts(body, app.clock.now())
    mapped = app.ingest_alerts(alerts)
    return _answer(len(mapped), rejected)
