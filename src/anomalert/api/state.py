"""How a route reaches the running ``App`` and checks tokens (FastAPI dependencies)."""

from __future__ import annotations

from fastapi import Request

from anomalert.api.auth import check_token
from anomalert.app import App


def get_app(request: Request) -> App:
    """The App this API serves."""
    app: App = request.app.state.anomalert
    return app


def require_write(request: Request) -> None:
    """Dependency: ingest and other writes need a write (or admin) token once tokens exist."""
    check_token(get_app(request).config.server, request, admin=False)


def require_admin(request: Request) -> None:
    """Dependency: acknowledgements, feedback, silences need an admin token once tokens exist."""
    check_token(get_app(request).config.server, request, admin=True)
