"""Microsoft Teams incoming webhook: an Adaptive Card (Workflows) or a legacy MessageCard.

``card: adaptive`` (default) is what Teams Workflows webhooks take; ``card: messagecard``
is for the older Office 365 connector URLs. The content is :func:`render.chat_message`
(shared with Slack and Discord): the links ("Explain this alert", the dashboard page of the
lead alert, and its runbook) are facts and buttons; in an Adaptive Card each alert's line
links its page too. The URL is the credential (SecretStr, only its host shown). Teams has
no idempotency for webhooks: a crash between its 2xx and our record of it repeats the card
once.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from anomalert.model import Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import SecretUrlConfig
from anomalert.notify.render import ChatMessage, chat_message

COLOR = {"P1": "E01E5A", "P2": "ECB22E", "P3": "36C5F0", "resolved": "2EB67D"}


class TeamsConfig(SecretUrlConfig):
    """``url`` (secret); ``card``: ``adaptive`` or ``messagecard``."""

    card: Literal["adaptive", "messagecard"] = "adaptive"


def _facts(m: ChatMessage) -> list[tuple[str, str]]:
    return [*m.facts, *m.links]


def adaptive_card(n: Notification, base: str = "") -> dict[str, Any]:
    """A Workflows message holding one Adaptive Card (``base``: the service's external URL)."""
    m = chat_message(n, base)
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": m.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Good" if m.resolved else "Attention",
            },
            {"type": "TextBlock", "text": m.summary, "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(m)]},
            {
                "type": "TextBlock",
                "text": "\n".join(f"- {x}" for x in m.lines(m.markdown_line)),
                "wrap": True,
            },
        ],
    }
    actions = [{"type": "Action.OpenUrl", "title": k, "url": v} for k, v in m.buttons()]
    if actions:
        content["actions"] = actions
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


def message_card(n: Notification, base: str = "") -> dict[str, Any]:
    """A legacy connector MessageCard (``base``: the service's external URL)."""
    m = chat_message(n, base)
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": COLOR["resolved"] if m.resolved else COLOR[m.severity],
        "summary": m.title,
        "title": m.title,
        "sections": [
            {
                "activityTitle": m.summary,
                "facts": [{"name": k, "value": v} for k, v in _facts(m)],
                "text": "\n\n".join(m.lines()),
                "markdown": False,
            }
        ],
    }
    actions = [
        {"@type": "OpenUri", "name": k, "targets": [{"os": "default", "uri": v}]}
        for k, v in m.buttons()
    ]
    if actions:
        card["potentialAction"] = actions
    return card


class TeamsReceiver:
    """Posts a card to a Teams incoming webhook."""

    def __init__(
        self, name: str, config: TeamsConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = external_url
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"

    def __repr__(self) -> str:
        return f"TeamsReceiver(name={self.name!r}, url={http.mask_url(self._url, secret=True)!r})"

    def send(self, n: Notification) -> None:
        """POST the card; 2xx or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        card = adaptive_card if self.config.card == "adaptive" else message_card
        body = card(n, self._external_url)
        http.post(
            self._client,
            self._url,
            target=self._target,
            json=body,
            timeout=self.config.timeout,
            headers={"Idempotency-Key": n.key},
        )
