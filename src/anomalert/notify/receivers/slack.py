"""Slack incoming webhook: a header, one line per alert with its runbook link, a context line.

The webhook URL is the credential, so it is a SecretStr and messages show only its host.
Slack offers no idempotency for incoming webhooks: a crash between Slack's 200 and our
record of it repeats the message once (the header is still sent, for proxies that dedupe).
"""

from __future__ import annotations

from typing import Any

import httpx

from anomalert.model import Alert, Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import SecretUrlConfig
from anomalert.notify.render import lead_alert, runbook, summary, title

MAX_LINES = 10


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


def _line(a: Alert) -> str:
    link = runbook(a)
    text = f"*{a.severity}* `{escape(a.service or a.name)}` {escape(summary(a))}"
    text += f" (score {a.score:.2f})"
    return text + (f" · <{link}|runbook>" if link else "")


def slack_message(n: Notification) -> dict[str, Any]:
    """The webhook body: ``text`` (notifications, fallback) plus blocks."""
    lead = lead_alert(n)
    lines = [_line(a) for a in n.alerts[:MAX_LINES]]
    if len(n.alerts) > MAX_LINES:
        lines.append(f"…and {len(n.alerts) - MAX_LINES} more")
    context = f"severity {n.severity} · service {escape(lead.service or '-')}"
    if n.tier:
        context += f" · escalation tier {n.tier}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(n)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    link = runbook(lead)
    if link and link.startswith(("http://", "https://")):  # Slack rejects other button URLs
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Runbook"},
                        "url": link,
                    }
                ],
            }
        )
    return {"text": f"{title(n)}: {summary(lead)}", "blocks": blocks}


class SlackReceiver:
    """Posts to a Slack incoming webhook."""

    def __init__(self, name: str, config: SlackConfig, client: httpx.Client) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"

    def __repr__(self) -> str:
        return f"SlackReceiver(name={self.name!r}, url={http.mask_url(self._url, secret=True)!r})"

    def send(self, n: Notification) -> None:
        """POST the message; 2xx or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        body = slack_message(n)
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
