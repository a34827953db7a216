"""Discord webhook: the title as content plus one embed (reason, facts, links).

The content is :func:`render.chat_message` (shared with Slack and Teams). The embed's title
links the lead alert's dashboard page ("Explain this alert"; its runbook without one), each
alert's line links its page, and every link is a field too. The URL is the credential
(SecretStr, only its host shown). ``allowed_mentions`` is empty so a reason that happens to
contain ``@everyone`` pings nobody. Discord has no idempotency for webhooks: a crash between
its 2xx and our record of it repeats the message once.
"""

from __future__ import annotations

from typing import Any

import httpx

from anomalert.model import Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import SecretUrlConfig
from anomalert.notify.render import chat_message, rfc3339

COLOR = {"P1": 0xE01E5A, "P2": 0xECB22E, "P3": 0x36C5F0, "resolved": 0x2EB67D}


class DiscordConfig(SecretUrlConfig):
    """``url`` (secret); optional ``username`` shown as the author."""

    username: str | None = None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def discord_message(n: Notification, base: str = "") -> dict[str, Any]:
    """The webhook body (Discord's limits respected: 2000/256/4096/1024 characters).

    ``base`` is the service's external URL (the links to the dashboard); empty, no links.
    """
    m = chat_message(n, base)
    fields = [{"name": k, "value": v, "inline": True} for k, v in m.facts]
    fields += [{"name": k, "value": _clip(v, 1024), "inline": False} for k, v in m.links]
    lines = m.lines(m.markdown_line)
    embed: dict[str, Any] = {
        "title": _clip(m.title, 256),
        "description": _clip(m.summary + "\n\n" + "\n".join(lines), 4096),
        "color": COLOR["resolved"] if m.resolved else COLOR[m.severity],
        "timestamp": rfc3339(n.time),
        "fields": fields,
    }
    buttons = m.buttons()
    if buttons:
        embed["url"] = buttons[0][1]
    return {
        "content": _clip(f"{m.title}: {m.summary}", 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


class DiscordReceiver:
    """Posts to a Discord webhook."""

    def __init__(
        self, name: str, config: DiscordConfig, client: httpx.Client, external_url: str = ""
    ) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._external_url = external_url
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"

    def __repr__(self) -> str:
        url = http.mask_url(self._url, secret=True)
        return f"DiscordReceiver(name={self.name!r}, url={url!r})"

    def send(self, n: Notification) -> None:
        """POST the message; 2xx (Discord answers 204) or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        body = discord_message(n, self._external_url)
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
