"""One JSON error shape for every endpoint, whatever went wrong.

    {"error": {"status": 400, "code": "invalid", "message": "samples[3].value: ...",
               "field": "samples[3].value"}}

``field`` is present when the problem is tied to one field. Clients (and our tests) can rely
on this shape for every 4xx and 5xx the API returns, including FastAPI's own validation
errors and unknown routes.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from anomalert.api.mediatype import json_type_problem
from anomalert.config import location
from anomalert.errors import FieldError, InputError
from anomalert.ingest.jsonin import printable

log = logging.getLogger("anomalert.api")

_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """An HTTP error with a message people can act on (and the field, when there is one)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        super().__init__(message)


def error_body(status: int, message: str, field: str | None = None) -> dict[str, object]:
    """The error shape (a lone surrogate the message quotes from the request is escaped, so
    the answer can be sent)."""
    err: dict[str, object] = {
        "status": status,
        "code": _CODES.get(status, "error"),
        "message": printable(message),
    }
    if field:
        err["field"] = printable(field)
    return {"error": err}


def error_response(status: int, message: str, field: str | None = None) -> JSONResponse:
    """A response in the error shape."""
    return JSONResponse(error_body(status, message, field), status_code=status)


def install_error_handlers(api: FastAPI) -> None:
    """Route every error path through the one shape."""

    @api.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.field)

    @api.exception_handler(FieldError)
    async def _field_error(_: Request, exc: FieldError) -> JSONResponse:
        return error_response(400, str(exc), exc.field)

    @api.exception_handler(InputError)
    async def _input_error(_: Request, exc: InputError) -> JSONResponse:
        return error_response(400, str(exc))

    @api.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        raw_loc = tuple(first.get("loc", ()))
        if raw_loc[:1] == ("body",):
            # FastAPI hands a model a body of another content type as bytes, and locates a
            # JSON syntax error by character offset (("body", 1)): answer as json_body does.
            ctype = request.headers.get("content-type", "")
            problem = json_type_problem(ctype) if ctype else None
            if problem is not None:
                return error_response(415, problem)
            if not ctype and first.get("type") == "model_attributes_type":
                # Without a content type FastAPI hands the model the raw bytes, and pydantic
                # says "Input should be a valid dictionary": the JSON may be fine.
                return error_response(
                    415, "send JSON with content-type application/json (the request has none)"
                )
            if first.get("type") == "json_invalid":
                ctx = first.get("ctx")
                why = ctx.get("error", "") if isinstance(ctx, dict) else "JSON decode error"
                return error_response(400, f"body is not valid JSON: {why}", "body")
        loc = [p for p in raw_loc if p not in ("body", "query", "path")]
        where = location(loc) or ("body" if raw_loc == ("body",) else "")
        msg = str(first.get("msg", "invalid request"))
        return error_response(400, f"{where}: {msg}" if where else msg, where or None)

    @api.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        return error_response(exc.status_code, detail)

    @api.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        # A client that hangs up before its whole body came is no server error: one quiet
        # line, no traceback; the answer goes nowhere (the server drops it).
        log.info("client went away mid-body: %s %s", request.method, request.url.path)
        return error_response(400, "the client disconnected before sending the whole body")

    @api.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal error; see the service log")
