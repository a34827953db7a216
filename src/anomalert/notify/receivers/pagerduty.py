"""PagerDuty Events API v2: trigger, acknowledge and resolve one incident per alert group.

``dedup_key`` comes from the group key (:func:`render.dedup_key`), so the acknowledge and
resolve events find the incident the trigger opened, and a trigger resent after a crash
lands on the same incident instead of paging twice. Severities map P1 -> critical,
P2 -> error, P3 -> warning. The routing key is a SecretStr and never appears in messages.
A trigger links the lead alert's dashboard page twice: as ``client_url`` (PagerDuty's "View
in anomalert") and first in ``links`` ("Explain this alert"), followed by the runbooks and
the pages of the other alerts of the group.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import SecretStr, field_validator

from anomalert.model import Alert, Notification
from anomalert.notify import http
from anomalert.notify.links import alert_url
from anomalert.notify.receivers.base import HttpConfig, check_http_url
from anomalert.notify.render import (
    EXPLAIN,
    alert_line,
    dedup_key,
    lead_alert,
    rfc3339,
    runbook,
    summary,
    title,
)

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning"}
MAX_SUMMARY = 1024
MAX_DETAILED_ALERTS = 20


class PagerDutyConfig(HttpConfig):
    """``routing_key`` (secret, the service integration key); ``url`` defaults to Events v2."""

    routing_key: SecretStr
    url: str = EVENTS_URL
    source: str | None = None
    send_resolved: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url(value)


def event_action(n: Notification) -> Literal["trigger", "acknowledge", "resolve"]:
    """Which event a notification is."""
    if n.status == "resolved":
        return "resolve"
    return "acknowledge" if n.acknowledged else "trigger"


def pagerduty_event(
    n: Notification, routing_key: str, source: str | None, base: str = ""
) -> dict[str, Any]:
    """The Events v2 body; acknowledge and resolve carry only the keys they need.

    ``base`` is the service's external URL (the links to the dashboard); empty, no links.
    """
    action = event_action(n)
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(n),
    }
    if action != "trigger":
        return event
    lead = lead_alert(n)
    text = f"{title(n)}: {summary(lead)}"
    payload: dict[str, Any] = {
        "summary": text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…",
        "source": source or lead.labels.get("instance") or lead.service or "anomalert",
        "severity": SEVERITY.get(n.severity, "warning"),
        "timestamp": rfc3339(lead.starts_at),
        "class": lead.name or "anomaly",
        "custom_details": {
            "alerts": [alert_line(a) for a in n.alerts[:MAX_DETAILED_ALERTS]],
            "alert_count": len(n.alerts),
            "group": dict(sorted(n.group_labels.items())),
            "labels": dict(sorted(lead.labels.items())),
            "score": lead.score,
            "tier": n.tier,
        },
    }
    if lead.service:
        payload["component"] = lead.service
    if lead.labels.get("cluster"):
        payload["group"] = lead.labels["cluster"]
    event["payload"] = payload
    event["client"] = "anomalert"
    if base:
        event["client_url"] = alert_url(base, lead)
    links = _links(lead, n.alerts[:MAX_DETAILED_ALERTS], base)
    if links:
        event["links"] = links
    return event


def _links(lead: Alert, alerts: tuple[Alert, ...], base: str) -> list[dict[str, str]]:
    """The lead alert's page and runbook, then those of the others (each link once)."""
    links: list[dict[str, str]] = []
    for a in (lead, *alerts):
        which = "" if a is lead else f": {' '.join(x for x in (a.service, a.name) if x)}"
        for text, url in ((EXPLAIN, alert_url(base, a)), ("Runbook", runbook(a))):
            if url and all(x["href"] != url for x in links):
                links.append({"href": url, "text": text + which})
    return links


class PagerDutyReceiver:
    """Sends Events API v2 events."""

    def __init__(
        self, name: str, config: PagerDutyConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = external_url
        self._target = f"{name} ({http.mask_url(config.url, secret=False)})"

    def __repr__(self) -> str:
        url = http.mask_url(self.config.url, secret=False)
        return f"PagerDutyReceiver(name={self.name!r}, url={url!r})"

    def send(self, n: Notification) -> None:
        """POST the event; 2xx (PagerDuty answers 202) or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        key = self.config.routing_key.get_secret_value()
        http.post(
            self._client,
            self.config.url,
            target=self._target,
            json=pagerduty_event(n, key, self.config.source, self._external_url),
            timeout=self.config.timeout,
            secrets=[key],
        )
