"""Forward alerts to an existing Prometheus Alertmanager (``POST {url}/api/v2/alerts``).

For teams that already route, silence and page with Alertmanager: we send the alerts, it
does the rest. Alertmanager identifies an alert by its label set, so a resend after a crash
updates the same alert instead of creating another (the idempotency the outbox relies on).

A firing alert is sent with ``endsAt = time + firing_ttl``: Alertmanager resolves an alert
that is not refreshed by then, which bounds how long an alert whose resolution we never
sent (the service was shut down) stays active. Each repeat notification refreshes it, so
keep ``firing_ttl`` longer than the route's repeat interval. A resolved alert carries its
own ``endsAt``. ``generatorURL`` (Alertmanager's "Source" link) is the alert's page on our
dashboard, or the link the sender of an external alert gave.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, SecretStr, field_validator

from anomalert.configbase import Duration
from anomalert.model import Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import BasicAuth, HttpConfig, check_http_url, http_auth
from anomalert.notify.render import generator_url, rfc3339


class AlertmanagerConfig(HttpConfig):
    """``url`` of the Alertmanager (its base URL); optional credentials of a proxy."""

    url: str
    firing_ttl: Duration = Field(default=86400.0, gt=0)
    bearer_token: SecretStr | None = None
    basic_auth: BasicAuth | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value)


class AlertmanagerReceiver:
    """Posts the notification's alerts to Alertmanager's v2 API."""

    def __init__(
        self, name: str, config: AlertmanagerConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = external_url
        self._url = config.url.rstrip("/") + "/api/v2/alerts"
        self._target = f"{name} ({http.mask_url(self._url, secret=False)})"
        self._headers, self._auth, self._secrets = http_auth(config.bearer_token, config.basic_auth)

    def __repr__(self) -> str:
        url = http.mask_url(self.config.url, secret=False)
        return f"AlertmanagerReceiver(name={self.name!r}, url={url!r})"

    def postable_alerts(self, n: Notification) -> list[dict[str, Any]]:
        """The request body: one postable alert per alert of the group."""
        out = []
        for a in n.alerts:
            ends = a.ends_at if a.status == "resolved" and a.ends_at is not None else None
            if a.status == "resolved" and ends is None:
                ends = n.time
            alert: dict[str, Any] = {
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(ends if ends is not None else n.time + self.config.firing_ttl),
            }
            url = generator_url(self._external_url, a)
            if url:
                alert["generatorURL"] = url
            out.append(alert)
        return out

    def send(self, n: Notification) -> None:
        """POST the alerts; 2xx or a delivery error."""
        http.post(
            self._client,
            self._url,
            target=self._target,
            json=self.postable_alerts(n),
            timeout=self.config.timeout,
            headers={**self._headers, "Idempotency-Key": n.key},
            auth=self._auth,
            secrets=self._secrets,
        )
