"""Opsgenie Alert API: create on firing, acknowledge, close on resolve, by alias.

The alias is :func:`render.dedup_key` (from the group key), which is what makes this
integration idempotent: Opsgenie folds a create with an existing open alias into that alert
(raising its count instead of paging again), and close/acknowledge address the alert by
``identifierType=alias``. Priorities: P1 -> P1 (page), P2 -> P3 (moderate), P3 -> P5
(informational, what "dashboard only" means in Opsgenie's scale). The API key is a
SecretStr sent as ``Authorization: GenieKey ...`` and never shown. The lead alert's
dashboard page is the ``dashboard_url`` detail, and every alert's is in the description.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import SecretStr, field_validator

from anomalert.model import Alert, Notification
from anomalert.notify import http
from anomalert.notify.links import alert_url
from anomalert.notify.receivers.base import HttpConfig, IntegrationConfig, check_http_url
from anomalert.notify.render import (
    alert_line,
    dedup_key,
    lead_alert,
    runbook,
    status_word,
    summary,
    title,
)

API_URL = "https://api.opsgenie.com"
PRIORITY = {"P1": "P1", "P2": "P3", "P3": "P5"}
MAX_MESSAGE = 130
MAX_DESCRIPTION = 15000


class Responder(IntegrationConfig):
    """Who Opsgenie should notify: a team, user, escalation or schedule, by name."""

    type: Literal["team", "user", "escalation", "schedule"]
    name: str


class OpsgenieConfig(HttpConfig):
    """``api_key`` (secret); ``url`` (regional API base); optional responders and tags."""

    api_key: SecretStr
    url: str = API_URL
    responders: tuple[Responder, ...] = ()
    tags: tuple[str, ...] = ()
    send_resolved: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _paragraph(a: Alert, base: str) -> str:
    links = (("explain", alert_url(base, a)), ("runbook", runbook(a)))
    return alert_line(a) + "".join(f"\n{what}: {url}" for what, url in links if url)


def create_body(n: Notification, config: OpsgenieConfig, base: str = "") -> dict[str, Any]:
    """The create-alert request (``base``: the service's external URL, for the links)."""
    lead = lead_alert(n)
    details = dict(sorted(lead.labels.items()))
    details["score"] = f"{lead.score:.3f}"
    link = runbook(lead)
    if link:
        details["runbook_url"] = link
    if base:
        details["dashboard_url"] = alert_url(base, lead)
    lines = [_paragraph(a, base) for a in n.alerts]
    body: dict[str, Any] = {
        "message": _clip(f"{title(n)}: {summary(lead)}", MAX_MESSAGE),
        "alias": dedup_key(n),
        "description": _clip("\n\n".join(lines), MAX_DESCRIPTION),
        "priority": PRIORITY.get(n.severity, "P3"),
        "source": "anomalert",
        "details": details,
        "tags": sorted({*config.tags, n.severity, *(a.service for a in n.alerts if a.service)}),
    }
    if lead.service:
        body["entity"] = lead.service
    if config.responders:
        body["responders"] = [r.model_dump() for r in config.responders]
    return body


class OpsgenieReceiver:
    """Creates, acknowledges and closes Opsgenie alerts by alias."""

    def __init__(
        self, name: str, config: OpsgenieConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = external_url
        self._base = config.url.rstrip("/") + "/v2/alerts"
        self._target = f"{name} ({http.mask_url(config.url, secret=False)})"

    def __repr__(self) -> str:
        url = http.mask_url(self.config.url, secret=False)
        return f"OpsgenieReceiver(name={self.name!r}, url={url!r})"

    def request(self, n: Notification) -> tuple[str, dict[str, Any]]:
        """The URL and body a notification becomes."""
        alias = dedup_key(n)
        if n.status == "firing" and not n.acknowledged:
            return self._base, create_body(n, self.config, self._external_url)
        action: Literal["close", "acknowledge"] = (
            "close" if n.status == "resolved" else "acknowledge"
        )
        note = f"{status_word(n)} by anomalert: {title(n)}"
        url = f"{self._base}/{alias}/{action}?identifierType=alias"
        return url, {"source": "anomalert", "user": "anomalert", "note": note}

    def send(self, n: Notification) -> None:
        """POST the request; 2xx (Opsgenie answers 202) or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        key = self.config.api_key.get_secret_value()
        url, body = self.request(n)
        http.post(
            self._client,
            url,
            target=self._target,
            json=body,
            timeout=self.config.timeout,
            headers={"Authorization": f"GenieKey {key}"},
            secrets=[key],
        )
