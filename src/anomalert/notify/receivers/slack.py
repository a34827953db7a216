"""Slack incoming webhook: a header, one line per alert with its links, a context line, buttons.

The content is :func:`render.chat_message` (shared with Teams and Discord); this module
writes it as Block Kit. Each alert's line links its dashboard page and runbook; the buttons
open the lead alert's page ("Explain this alert") and runbook. The webhook URL is the
credential, so it is a SecretStr and messages show only its host. Slack offers no
idempotency for incoming webhooks: a crash between Slack's 200 and our record of it repeats
the message once (the header is still sent, for proxies that dedupe).
"""

from __future__ import annotations

from typing import Any

import httpx

from anomalert.model import Alert, Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import SecretUrlConfig
from anomalert.notify.render import EXPLAIN, ChatMessage, chat_message, runbook, summary


class SlackConfig(SecretUrlConfig):
    """``url`` (the incoming-webhook URL, secret); optional ``channel`` and ``username``."""

    channel: str | None = None
    username: str | None = None


def escape(text: str) -> str:
    """Slack's mrkdwn escaping (``&``, ``<``, ``>``), so reasons can't inject links.

    >>> escape("p99 <b> & co")
    'p99 &lt;b&gt; &amp; co'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line(m: ChatMessage, a: Alert) -> str:
    text = f"*{a.severity}* `{escape(a.service or a.name)}` {escape(summary(a))}"
    text += f" (score {a.score:.2f})"
    for label, link in (("explain", m.url(a)), ("runbook", runbook(a))):
        if link:
            text += f" · <{link}|{label}>"
    return text


def slack_message(n: Notification, base: str = "") -> dict[str, Any]:
    """The webhook body: ``text`` (notifications, fallback) plus blocks.

    ``base`` is the service's external URL (the links to the dashboard); empty, no links.
    """
    m = chat_message(n, base)
    context = " · ".join(f"{k.lower()} {escape(v)}" for k, v in m.facts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": m.title[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "\n".join(m.lines(lambda a: _line(m, a)))[:3000]},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    buttons = [_button(label, url) for label, url in m.buttons()]  # Slack rejects other URLs
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": f"{m.title}: {m.summary}", "blocks": blocks}


def _button(label: str, url: str) -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
    return {**button, "style": "primary"} if label == EXPLAIN else button


class SlackReceiver:
    """Posts to a Slack incoming webhook."""

    def __init__(
        self, name: str, config: SlackConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = external_url
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"

    def __repr__(self) -> str:
        return f"SlackReceiver(name={self.name!r}, url={http.mask_url(self._url, secret=True)!r})"

    def send(self, n: Notification) -> None:
        """POST the message; 2xx or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        body = slack_message(n, self._external_url)
        if self.config.channel:
            body["channel"] = self.config.channel
        if self.config.username:
            body["username"] = self.config.username
        http.post(
            self._client,
            self._url,
            target=self._target,
            json=body,
            timeout=self.config.timeout,
            headers={"Idempotency-Key": n.key},
        )
