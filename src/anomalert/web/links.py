"""Stable links to an alert's page, for messages written before anyone knows its id.

A notification knows its alerts by fingerprint and start, not by the store's row id, so the
link it carries (:func:`anomalert.notify.links.alert_url`) names the episode:
``/alerts/by-fingerprint/{fingerprint}?starts_at=<unix seconds>``. This route answers it
with a 303 to the episode's page, ``/alerts/{id}`` ("Explain this alert"); without
``starts_at``, to the newest episode of the fingerprint. An episode the store does not hold
(never stored, or deleted by retention) is the dashboard's readable 404 page.

The redirect is relative (``../{id}``), so it stays under whatever path prefix a proxy
serves the dashboard at (``https://alerts.example.com/anomalert/...``) without the service
having to know it.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from anomalert.api.state import get_app
from anomalert.ingest.jsonin import one_line, printable, text_problem
from anomalert.timefmt import rfc3339
from anomalert.web.routes import not_found

router = APIRouter(include_in_schema=False)


def parse_start(value: str | None) -> float | None:
    """``starts_at`` as unix seconds; None when absent or blank; ValueError otherwise.

    >>> parse_start("1704099600"), parse_start("1704099600.25"), parse_start(" ")
    (1704099600.0, 1704099600.25, None)
    """
    if value is None or not value.strip():
        return None
    t = float(value)
    if not math.isfinite(t):
        raise ValueError(value)
    return t


@router.get("/alerts/by-fingerprint/{fingerprint}", response_model=None)
def alert_by_fingerprint(
    request: Request, fingerprint: str, starts_at: str | None = None
) -> RedirectResponse | HTMLResponse:
    """303 to the page of the episode; a readable 404 page when there is none.

    A fingerprint with a control character names no alert (fingerprints are hex), and is
    not asked of the store: PostgreSQL refuses a NUL in a query's text (a 500)."""
    if text_problem(fingerprint) is not None:
        shown = printable(one_line(fingerprint))
        return not_found(request, f"There is no alert with fingerprint {shown}.")
    try:
        start = parse_start(starts_at)
    except ValueError:
        return not_found(request, f"starts_at={starts_at!r} is not a time in unix seconds.")
    row = get_app(request).store.find_alert(fingerprint, start)
    if row is None:
        since = "" if start is None else f" that started at {rfc3339(start)}"
        what = f"There is no alert with fingerprint {fingerprint}{since}"
        return not_found(request, what + " (resolved alerts are kept for a while, then deleted).")
    return RedirectResponse(f"../{row.id}", status_code=303)
