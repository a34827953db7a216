"""Microsoft Teams incoming webhook: an Adaptive Card (Workflows) or a legacy MessageCard.

``card: adaptive`` (default) is what Teams Workflows webhooks take; ``card: messagecard``
is for the older Office 365 connector URLs. The URL is the credential (SecretStr, only its
host shown). Teams has no idempotency for webhooks: a crash between its 2xx and our record
of it repeats the card once.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from anomalert.model import Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import SecretUrlConfig
from anomalert.notify.render import alert_line, lead_alert, runbook, summary, title

MAX_LINES = 10
COLOR = {"P1": "E01E5A", "P2": "ECB22E", "P3": "36C5F0", "resolved": "2EB67D"}


class TeamsConfig(SecretUrlConfig):
    """``url`` (secret); ``card``: ``adaptive`` or ``messagecard``."""

    card: Literal["adaptive", "messagecard"] = "adaptive"


def _facts(n: Notification) -> list[tuple[str, str]]:
    lead = lead_alert(n)
    facts = [("Severity", n.severity), ("Service", lead.service or "-")]
    facts.append(("Score", f"{lead.score:.2f}"))
    link = runbook(lead)
    if link:
        facts.append(("Runbook", link))
    return facts


def _lines(n: Notification) -> list[str]:
    lines = [alert_line(a) for a in n.alerts[:MAX_LINES]]
    if len(n.alerts) > MAX_LINES:
        lines.append(f"…and {len(n.alerts) - MAX_LINES} more")
    return lines


def adaptive_card(n: Notification) -> dict[str, Any]:
    """A Workflows message holding one Adaptive Card."""
    link = runbook(lead_alert(n))
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": title(n),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Good" if n.status == "resolved" else "Attention",
            },
            {"type": "TextBlock", "text": summary(lead_alert(n)), "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(n)]},
            {"type": "TextBlock", "text": "\n".join(f"- {x}" for x in _lines(n)), "wrap": True},
        ],
    }
    if link:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Runbook", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": content,
            }
        ],
    }


def message_card(n: Notification) -> dict[str, Any]:
    """A legacy connector MessageCard."""
    link = runbook(lead_alert(n))
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": COLOR["resolved"] if n.status == "resolved" else COLOR[n.severity],
        "summary": title(n),
        "title": title(n),
        "sections": [
            {
                "activityTitle": summary(lead_alert(n)),
                "facts": [{"name": k, "value": v} for k, v in _facts(n)],
                "text": "\n\n".join(_lines(n)),
                "markdown": False,
            }
        ],
    }
    if link:
        target = {"os": "default", "uri": link}
        card["potentialAction"] = [{"@type": "OpenUri", "name": "Runbook", "targets": [target]}]
    return card


class TeamsReceiver:
    """Posts a card to a Teams incoming webhook."""

    def __init__(self, name: str, config: TeamsConfig, client: httpx.Client) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"

    def __repr__(self) -> str:
        return f"TeamsReceiver(name={self.name!r}, url={http.mask_url(self._url, secret=True)!r})"

    def send(self, n: Notification) -> None:
        """POST the card; 2xx or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        body = adaptive_card(n) if self.config.card == "adaptive" else message_card(n)
        http.post(
            self._client,
            self._url,
            target=self._target,
            json=body,
            timeout=self.config.timeout,
            headers={"Idempotency-Key": n.key},
        )
