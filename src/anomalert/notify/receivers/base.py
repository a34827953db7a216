"""The seam every integration implements, and the config pieces they share.

A receiver has one verb, ``send``: it either hands the notification over or raises one of
the two delivery errors, whose type says whether the outbox should try again. Nothing else
is asked of an integration (no batching, no state), so adding one is a module with a config
model and a ``send``.
"""

from __future__ import annotations

import base64
import errno
from typing import Protocol

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

from anomalert.configbase import Duration, StrictModel
from anomalert.errors import PermanentDeliveryError, RetryableDeliveryError
from anomalert.model import Notification


class Receiver(Protocol):
    """One integration of one receiver (``oncall/pagerduty[0]``)."""

    name: str

    def send(self, n: Notification) -> None:
        """Deliver ``n`` or raise RetryableDeliveryError / PermanentDeliveryError."""
        ...


class IntegrationConfig(StrictModel):
    """Base of the integration configs: input values are kept out of validation errors,
    since the value of a mistyped field may be a credential."""

    model_config = ConfigDict(hide_input_in_errors=True)


class HttpConfig(IntegrationConfig):
    """Settings every HTTP integration has."""

    timeout: Duration = Field(default=10.0, gt=0)


def check_http_url(url: str) -> str:
    """An http(s) URL with a host; the message never repeats the value (it may be secret)."""
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise ValueError("must be an http:// or https:// URL")
    return url


class SecretUrlConfig(HttpConfig):
    """An incoming-webhook integration whose URL is the credential (Slack, Teams, Discord)."""

    url: SecretStr
    send_resolved: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        check_http_url(value.get_secret_value())
        return value


class BasicAuth(IntegrationConfig):
    """HTTP basic authentication."""

    username: str
    password: SecretStr


def http_auth(
    bearer_token: SecretStr | None, basic_auth: BasicAuth | None
) -> tuple[dict[str, str], httpx.Auth | None, list[str]]:
    """Headers, httpx auth and the secrets to redact, from the optional credentials."""
    headers: dict[str, str] = {}
    auth: httpx.Auth | None = None
    secrets: list[str] = []
    if bearer_token is not None:
        headers["Authorization"] = f"Bearer {bearer_token.get_secret_value()}"
        secrets.append(bearer_token.get_secret_value())
    if basic_auth is not None:
        password = basic_auth.password.get_secret_value()
        auth = httpx.BasicAuth(basic_auth.username, password)
        # the header form too, in case a server quotes the request back
        pair = f"{basic_auth.username}:{password}".encode()
        secrets += [password, base64.b64encode(pair).decode()]
    return headers, auth, secrets


#: OS errors that will not go away by waiting: a path that is a directory, no permission...
_PERMANENT_ERRNO = frozenset(
    {errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOTDIR, errno.EROFS, errno.ENAMETOOLONG}
)


def os_error(target: str, exc: OSError) -> RetryableDeliveryError | PermanentDeliveryError:
    """The delivery error an OS error means (disk full: retry; permission denied: don't)."""
    message = f"{target}: {exc.strerror or type(exc).__name__}"
    if exc.errno in _PERMANENT_ERRNO:
        return PermanentDeliveryError(message)
    return RetryableDeliveryError(message)
