"""Generic webhook: Alertmanager's webhook JSON, so anything that reads Alertmanager works.

The body is :func:`render.webhook_message` (version "4"): ``externalURL`` is the service's
address and each alert's ``generatorURL`` its page on the dashboard (an external alert keeps
the ``generatorURL`` its sender gave). Each POST carries
``Idempotency-Key: <notification key>``: the outbox may resend after a crash between the
receiver's 2xx and our record of it, and a consumer that honours the header drops the copy.
"""

from __future__ import annotations

import httpx
from pydantic import Field, SecretStr

from anomalert.model import Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import BasicAuth, SecretUrlConfig, http_auth
from anomalert.notify.render import webhook_message


class WebhookConfig(SecretUrlConfig):
    """``url`` (secret, as Alertmanager treats it: webhook URLs often embed a token);
    optional ``bearer_token`` or ``basic_auth``; ``max_alerts`` (0: all); ``external_url``
    (the base of the links in this webhook's messages; empty: ``server.external_url``)."""

    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None
    max_alerts: int = Field(default=0, ge=0)
    external_url: str = ""


class WebhookReceiver:
    """POSTs Alertmanager's webhook JSON with an Idempotency-Key header."""

    def __init__(
        self, name: str, config: WebhookConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = config.external_url or external_url
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"
        self._headers, self._auth, self._secrets = http_auth(config.bearer_token, config.basic_auth)

    def __repr__(self) -> str:
        url = http.mask_url(self._url, secret=True)
        return f"WebhookReceiver(name={self.name!r}, url={url!r})"

    def send(self, n: Notification) -> None:
        """POST the webhook message; 2xx or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        body = webhook_message(
            n, external_url=self._external_url, max_alerts=self.config.max_alerts
        )
        http.post(
            self._client,
            self._url,
            target=self._target,
            json=body,
            timeout=self.config.timeout,
            headers={**self._headers, "Idempotency-Key": n.key},
            auth=self._auth,
            secrets=self._secrets,
        )
