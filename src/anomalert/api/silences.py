"""Silences, compatible with Alertmanager's API v2 (amtool and Grafana can drive them).

Beyond Alertmanager: ``untilResolved: true`` silences the matching alerts until they
resolve (``endsAt`` may then be omitted); the silence expires when they do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from anomalert.alert.matchers import Matcher
from anomalert.alert.silence import Silence
from anomalert.api.errors import ApiError
from anomalert.api.ingest import json_body
from anomalert.api.state import get_app, require_admin
from anomalert.app import App
from anomalert.errors import FieldError
from anomalert.ingest.jsonin import free_text, plain_text, printable
from anomalert.ingest.timestamps import parse_timestamp
from anomalert.timefmt import rfc3339

router = APIRouter()

_KEYS = {"id", "matchers", "startsAt", "endsAt", "createdBy", "comment", "untilResolved"}


def silence_json(s: Silence, now: float) -> dict[str, Any]:
    """Alertmanager's gettableSilence (plus untilResolved). A matcher value is shown through
    ``printable``: one stored by an older version may hold a lone surrogate, and it must not
    make the whole list fail."""
    return {
        "id": s.id,
        "status": {"state": s.state(now)},
        "matchers": [{**m.to_api(), "value": printable(m.value)} for m in s.matchers],
        "startsAt": rfc3339(s.starts_at),
        "endsAt": rfc3339(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
        "untilResolved": s.until_resolved,
    }


def parse_silence(body: Any, now: float) -> Silence:
    """A postableSilence into a Silence; errors name the field."""
    if not isinstance(body, dict):
        raise FieldError("body", "a silence object is expected")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise FieldError(unknown[0], "unknown field")
    matchers = body.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        raise FieldError("matchers", "at least one matcher is required")
    for i, m in enumerate(matchers):
        _texts(m, f"matchers[{i}].", ("name", "value"))
    _texts(body, "", ("createdBy", "id"))
    _texts(body, "", ("comment",), free=True)
    parsed = tuple(Matcher.from_api(m, f"matchers[{i}]") for i, m in enumerate(matchers))
    until_resolved = body.get("untilResolved", False)
    if not isinstance(until_resolved, bool):
        raise FieldError("untilResolved", "must be true or false")
    starts = _time(body, "startsAt", now)
    ends = None if body.get("endsAt") is None and until_resolved else _time(body, "endsAt", None)
    for key in ("createdBy", "comment", "id"):
        if key in body and not isinstance(body[key], str):
            raise FieldError(key, "must be a string")
    return Silence(
        id=body.get("id") or "",
        matchers=parsed,
        starts_at=starts,
        ends_at=ends,
        created_by=body.get("createdBy", ""),
        comment=body.get("comment", ""),
        until_resolved=until_resolved,
    )


def _texts(obj: object, where: str, keys: tuple[str, ...], *, free: bool = False) -> None:
    """FieldError for a lone surrogate or a control character in one of these strings
    (``free``: a comment, which keeps line breaks and tabs). Why: a lone surrogate stored
    fails every later list of silences (and amtool's); a NUL made the request a 500 on
    PostgreSQL after the silence was already active in memory, muting alerts until the
    restart that forgot it; a matcher's value never matches a label holding a control
    character (the ingest refuses those)."""
    check = free_text if free else plain_text
    if isinstance(obj, dict):
        for key in keys:
            if isinstance(obj.get(key), str):
                check(f"{where}{key}", obj[key])


def _time(body: dict[str, Any], key: str, default: float | None) -> float:
    value = body.get(key)
    if value is None:
        if default is None:
            raise FieldError(key, "required (RFC 3339 or unix seconds)")
        return default
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError) as exc:
        raise FieldError(key, str(exc)) from None


@router.get("/api/v2/silences")
def list_silences(request: Request) -> list[dict[str, Any]]:
    """Every silence (active, pending and expired)."""
    app = get_app(request)
    now = app.clock.now()
    return [silence_json(s, now) for s in app.pipeline.silencer.list()]


@router.post("/api/v2/silences", dependencies=[Depends(require_admin)])
async def post_silence(request: Request) -> dict[str, str]:
    """Create (or update, with ``id``) a silence; answers ``{"silenceID": ...}``."""
    return await run_in_threadpool(_store_silence, get_app(request), await json_body(request))


def _store_silence(app: App, body: Any) -> dict[str, str]:
    """``post_silence`` after its body is read, in the threadpool (``api.ingest``)."""
    silence = parse_silence(body, app.clock.now())
    if silence.id and app.pipeline.silencer.get(silence.id) is None:
        raise ApiError(404, f"no silence with id {silence.id}", "id")
    stored = app.add_silence(silence)
    return {"silenceID": stored.id}


@router.get("/api/v2/silence/{silence_id}")
def get_silence(request: Request, silence_id: str) -> dict[str, Any]:
    """One silence."""
    app = get_app(request)
    s = app.pipeline.silencer.get(silence_id)
    if s is None:
        raise ApiError(404, f"no silence with id {silence_id}", "silence_id")
    return silence_json(s, app.clock.now())


@router.delete("/api/v2/silence/{silence_id}", dependencies=[Depends(require_admin)])
def delete_silence(request: Request, silence_id: str) -> dict[str, str]:
    """Expire a silence now."""
    app = get_app(request)
    if not app.expire_silence(silence_id):
        raise ApiError(404, f"no silence with id {silence_id}", "silence_id")
    return {"status": "expired", "silenceID": silence_id}
