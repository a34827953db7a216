"""Change events (deployments, rollbacks, config changes, flag flips, maintenance windows).

Events are context, not metrics: an anomaly five minutes after a deployment of the same
service is probably that deployment. Body: one event object, a list, or ``{"events": [...]}``;
each ``{"kind", "service", "timestamp", "version"?, "description"?, "link"?, "end"?}``.
Handling follows :mod:`.samples` (the body shape raises ``FieldError("events")``, each bad
event is a :class:`Rejection` naming its fields, unknown keys are refused) plus:

- ``kind`` is one of :data:`anomalert.model.EVENT_KINDS`;
- ``end`` only for windows (maintenance, load_test), and after ``timestamp``;
- ``link`` is an http(s) URL, so the dashboard can make it clickable safely;
- every string is valid Unicode without control characters, but ``description``, which may
  run over several lines (:func:`.jsonin.plain_text`, :func:`.jsonin.free_text`), checked
  before anything of the batch is stored: the store takes a batch all or none, and
  PostgreSQL cannot store a NUL;
- no live time window: a deployment may be recorded after the fact, and old events are
  harmless context.

:func:`load_events_file` reads the same format from a JSON file, all or nothing, since a file
can be fixed and re-read while a half-loaded one would silently lose context.
"""

from __future__ import annotations

import json
from pathlib import Path

from anomalert.errors import FieldError, FileInputError
from anomalert.ingest.jsonin import free_text, plain_text
from anomalert.ingest.samples import (
    MAX_BATCH,
    Rejection,
    attempt,
    batch,
    check_size,
    event_time,
    got,
    unknown_keys,
)
from anomalert.model import EVENT_KINDS, WINDOW_KINDS, ChangeEvent

EVENT_KEYS = ("kind", "service", "timestamp", "version", "description", "link", "end")
REQUIRED = ("kind", "service", "timestamp")


def parse_events(
    body: object, *, max_batch: int = MAX_BATCH
) -> tuple[list[ChangeEvent], list[Rejection]]:
    """Validated events and the rejected ones; FieldError("events") for a malformed body."""
    if isinstance(body, list):
        items = check_size(body, "events", max_batch)
    elif isinstance(body, dict) and "events" in body:
        items = batch(body, "events", max_batch)
    elif isinstance(body, dict):
        items = [body]
    else:
        raise FieldError(
            "events", f"the body must be an event or a list of events (got {got(body)})"
        )
    accepted: list[ChangeEvent] = []
    rejected: list[Rejection] = []
    for i, item in enumerate(items):
        event, problems = _event(f"events[{i}]", item)
        if event is None:
            rejected.append(Rejection(i, "; ".join(problems)))
        else:
            accepted.append(event)
    return accepted, rejected


def load_events_file(path: Path | str) -> list[ChangeEvent]:
    """Every event of a JSON file, or FileInputError naming the file and each bad event."""
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileInputError(path, f"cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileInputError(path, f"not valid JSON: {exc}") from None
    try:
        events, rejected = parse_events(body, max_batch=10**9)
    except FieldError as exc:
        raise FileInputError(path, str(exc)) from None
    if rejected:
        shown = "; ".join(r.error for r in rejected[:5])
        more = f" (and {len(rejected) - 5} more bad events)" if len(rejected) > 5 else ""
        raise FileInputError(path, shown + more)
    return events


def _event(where: str, item: object) -> tuple[ChangeEvent | None, list[str]]:
    if not isinstance(item, dict):
        return None, [f"{where}: must be an object (got {got(item)})"]
    problems = unknown_keys(where, item, EVENT_KEYS)
    problems += [f"{where}.{key}: required" for key in REQUIRED if key not in item]
    kind = attempt(problems, _kind, f"{where}.kind", item.get("kind", ...))
    service = attempt(problems, _text, f"{where}.service", item.get("service", ...))
    timestamp = attempt(problems, _time, f"{where}.timestamp", item.get("timestamp", ...))
    version = attempt(problems, _optional_text, f"{where}.version", item.get("version"))
    description = attempt(problems, _description, f"{where}.description", item.get("description"))
    link = attempt(problems, _link, f"{where}.link", item.get("link"))
    end = attempt(problems, _optional_time, f"{where}.end", item.get("end"))
    if end is not None:
        if kind is not None and kind not in WINDOW_KINDS:
            problems.append(
                f"{where}.end: only maintenance and load_test events are windows (kind is {kind})"
            )
        if timestamp is not None and end <= timestamp:
            problems.append(f"{where}.end: must be after timestamp")
    if problems or kind is None or service is None or timestamp is None:
        return None, problems
    return ChangeEvent(
        kind=kind,
        service=service,
        timestamp=timestamp,
        version=version,
        description=description or "",
        link=link,
        end=end,
    ), []


def _kind(where: str, value: object) -> str:
    if not isinstance(value, str) or value not in EVENT_KINDS:
        raise FieldError(
            where, f"must be one of {', '.join(sorted(EVENT_KINDS))} (got {got(value)})"
        )
    return value


def _text(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(where, f"must be a non-empty string (got {got(value)})")
    return plain_text(where, value)


def _optional_text(where: str, value: object) -> str | None:
    return None if value is None else _text(where, value)


def _description(where: str, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(where, f"must be a string (got {got(value)})")
    return free_text(where, value)


def _link(where: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise FieldError(where, f"must be an http(s) URL (got {got(value)})")
    return plain_text(where, value)


def _time(where: str, value: object) -> float:
    return event_time(where, value, None, None)


def _optional_time(where: str, value: object) -> float | None:
    return None if value is None else _time(where, value)
