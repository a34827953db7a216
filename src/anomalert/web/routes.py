"""Dashboard pages and their static files, served by the API's own FastAPI app.

Each page is a shell (Jinja2) carrying what the script needs to ask the API: the data
itself comes from ``/api/...``, so the JSON shapes have one source. Pages stay out of the
OpenAPI schema (they are not API) and never shadow ``/api``, ``/metrics`` or the probes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from anomalert import __version__
from anomalert.api.params import MAX_ROW_ID
from anomalert.api.state import get_app
from anomalert.ingest.jsonin import one_line, printable, text_problem

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def page(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    """Render one page shell with what every page needs (service clock, token policy)."""
    app = get_app(request)
    context = {
        "root": relative_root(request.url.path),
        "now": app.clock.now(),
        "tokens": app.config.server.tokens_configured,
        "version": __version__,
        **values,
    }
    return templates.TemplateResponse(request, name, context, status_code=status)


def relative_root(path: str) -> str:
    """The way back to the dashboard's root from this page, as a relative URL.

    Links, files and API calls all start from it, so the dashboard works unchanged behind a
    proxy that serves it under a path prefix (``https://example.com/anomalert/``).

    >>> relative_root("/"), relative_root("/services"), relative_root("/alerts/7")
    ('./', './', '../')
    """
    return "../" * (path.count("/") - 1) or "./"


def not_found(request: Request, what: str) -> HTMLResponse:
    """A readable 404 page (the API's 404s stay JSON)."""
    return page(request, "notfound.html", status=404, what=what, nav="")


@router.get("/")
def alerts_page(request: Request) -> HTMLResponse:
    """Live and recent alerts, filters in the URL."""
    return page(request, "alerts.html", nav="alerts")


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: str) -> HTMLResponse:
    """Explain this alert; an unknown id (one no row can have too) is a 404 page."""
    known = alert_id.isdigit() and int(alert_id) <= MAX_ROW_ID
    if not known or get_app(request).store.get_alert(int(alert_id)) is None:
        return not_found(request, f"There is no alert with id {alert_id}.")
    return page(request, "alert.html", nav="alerts", alert_id=int(alert_id))


@router.get("/services")
def services_page(request: Request) -> HTMLResponse:
    """Every service: mode, thresholds and why, volume, precision."""
    return page(request, "services.html", nav="services", service=None)


@router.get("/services/{name}")
def service_page(request: Request, name: str) -> HTMLResponse:
    """One service (the same view, one card); a name no service can have (a control
    character: the API refuses them) is a 404 page, not a page whose every call fails."""
    if text_problem(name) is not None:
        return not_found(request, f"There is no service named {printable(one_line(name))}.")
    return page(request, "services.html", nav="services", service=name)


@router.get("/silences")
def silences_page(request: Request) -> HTMLResponse:
    """Silences: list, create, expire."""
    return page(request, "silences.html", nav="silences")


@router.get("/reports/shadow")
def shadow_page(request: Request) -> HTMLResponse:
    """Shadow-mode report and labelled incidents."""
    return page(request, "shadow.html", nav="shadow")


@router.get("/reports/audit")
def audit_page(request: Request) -> HTMLResponse:
    """Weekly alert audit."""
    return page(request, "audit.html", nav="audit")


def install_dashboard(api: FastAPI) -> None:
    """Add the pages and mount ``/static`` on the API app."""
    api.include_router(router)
    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
