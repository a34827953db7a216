"""The FastAPI application over a running ``App``: routers, error shape, body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from anomalert import __version__
from anomalert.api.alerts import router as alerts_router
from anomalert.api.errors import install_error_handlers
from anomalert.api.ingest import router as ingest_router
from anomalert.api.limits import BodyLimit
from anomalert.api.ops import router as ops_router
from anomalert.api.reports import router as reports_router
from anomalert.api.services import router as services_router
from anomalert.api.silences import router as silences_router
from anomalert.app import App
from anomalert.web.links import router as links_router
from anomalert.web.routes import install_dashboard


def create_api(
    app: App,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the HTTP API; ``on_start``/``on_stop`` run the background loops with it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            on_start()
        try:
            yield
        finally:
            if on_stop is not None:
                on_stop()

    api = FastAPI(
        title="anomalert",
        version=__version__,
        description="Few, trustworthy, self-explaining alerts.",
        lifespan=lifespan,
    )
    api.state.anomalert = app
    install_error_handlers(api)
    for router in (
        ingest_router,
        alerts_router,
        silences_router,
        ops_router,
        services_router,
        reports_router,
        links_router,
    ):
        api.include_router(router)
    install_dashboard(api)
    api.add_middleware(BodyLimit, max_bytes=app.config.server.max_body_bytes)
    return api
