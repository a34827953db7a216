"""Bearer tokens: reading is open, writing needs a write or admin token, admin actions an admin one.

Until tokens are configured (a loopback-only service, as ``make run`` starts), every request
is allowed: the config refuses a non-loopback address without tokens. Tokens are compared
in constant time and never echoed back.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from anomalert.api.errors import ApiError
from anomalert.config import ServerConfig


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_token(server: ServerConfig, request: Request, admin: bool) -> None:
    """Raise 401/403 unless the request carries a token allowed for this kind of action."""
    if not server.tokens_configured:
        return
    admins = [t.get_secret_value() for t in server.admin_tokens]
    allowed = admins if admin else admins + [t.get_secret_value() for t in server.write_tokens]
    what = "an admin token" if admin else "a write token"
    token = _bearer(request)
    if token is None:
        raise ApiError(401, f"this endpoint needs {what}: Authorization: Bearer <token>")
    if not any(hmac.compare_digest(token.encode(), a.encode()) for a in allowed):
        raise ApiError(403, f"the token given is not {what}")
