"""The one place that turns HTTP outcomes into retry semantics.

Every HTTP integration sends through :func:`post`, so "what is worth retrying" is decided
once, here, and the outbox only ever sees the two exception types of ``errors.py``:

- 2xx: delivered.
- 408, 429, 5xx, timeouts, connection errors: ``RetryableDeliveryError`` (with the
  receiver's ``Retry-After`` when it sent one);
- any other status (3xx: a moved endpoint; 4xx: bad payload, bad credentials, unknown
  channel), an unsupported or invalid URL: ``PermanentDeliveryError``.

Messages name the integration, the status and a short excerpt of the body, because that is
what someone reading a failed delivery needs. They never carry a secret: for integrations
whose URL is the credential (Slack, Teams, Discord) only scheme and host are shown; for the
others the query string and user info are dropped; and every known secret is redacted from
the body excerpt and from library messages.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from anomalert import __version__
from anomalert.errors import PermanentDeliveryError, RetryableDeliveryError

USER_AGENT = f"anomalert/{__version__}"
_EXCERPT = 200
_RETRYABLE_STATUS = frozenset({408, 425, 429})


def mask_url(url: str, *, secret: bool) -> str:
    """The part of a URL safe to show: host only when the whole URL is the credential.

    >>> mask_url("https://hooks.example.com/services/T0/B0/XYZ", secret=True)
    'https://hooks.example.com/***'
    >>> mask_url("https://user:pw@example.com:8443/hook?token=abc", secret=False)
    'https://example.com:8443/hook'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    netloc = f"{host}:{port}" if port else host
    if secret:
        return f"{parts.scheme}://{netloc}/***"
    return f"{parts.scheme}://{netloc}{parts.path}"


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def excerpt(text: str, secrets: Sequence[str] = ()) -> str:
    """The start of a response body on one line, secrets redacted."""
    flat = " ".join(redact(text, secrets).split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the receiver asked us to wait (``Retry-After``: seconds or an HTTP date).

    A date is measured against the response's own ``Date`` header when present, so a
    receiver's clock skew does not matter; otherwise against the wall clock, which is what
    a live HTTP exchange happens on.
    """
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        then = parsedate_to_datetime(value).timestamp()
        date = response.headers.get("date")
        now = parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, then - now)


def check(response: httpx.Response, target: str, secrets: Sequence[str] = ()) -> None:
    """Raise the delivery error a non-2xx response means; return quietly on 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    body = excerpt(_text(response), secrets)
    message = f"{target}: HTTP {status} {response.reason_phrase}" + (f": {body}" if body else "")
    if status >= 500 or status in _RETRYABLE_STATUS:
        raise RetryableDeliveryError(message, retry_after=retry_after(response))
    raise PermanentDeliveryError(message)


def _text(response: httpx.Response) -> str:
    try:
        return response.read().decode("utf-8", "replace")
    except httpx.HTTPError:
        return ""


def post(
    client: httpx.Client,
    url: str,
    *,
    target: str,
    json: Any,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    secrets: Sequence[str] = (),
) -> httpx.Response:
    """POST JSON and return the 2xx response, or raise Retryable/PermanentDeliveryError.

    ``target`` names the integration in messages (already masked); ``secrets`` are
    redacted from anything quoted back, along with the URL itself.
    """
    hidden = [*secrets, url]
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        response = client.post(
            url,
            json=json,
            headers=all_headers,
            auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            timeout=timeout,
            follow_redirects=False,  # a moved endpoint is a config problem, not a retry
        )
    except httpx.TimeoutException as exc:
        raise RetryableDeliveryError(f"{target}: timed out ({type(exc).__name__})") from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        reason = redact(str(exc), hidden)
        raise PermanentDeliveryError(f"{target}: unusable URL: {reason}") from None
    except httpx.RequestError as exc:
        reason = redact(str(exc), hidden) or type(exc).__name__
        raise RetryableDeliveryError(f"{target}: {type(exc).__name__}: {reason}") from None
    check(response, target, hidden)
    return response
