"""Discord webhook: the title as content plus one embed (reason, facts, runbook link).

The URL is the credential (SecretStr, only its host shown). ``allowed_mentions`` is empty
so a reason that happens to contain ``@everyone`` pings nobody. Discord has no idempotency
for webhooks: a crash between its 2xx and our record of it repeats the message once.
"""

from __future__ import annotations

from typing import Any

import httpx

from anomalert.model import Notification
from anomalert.notify import http
from anomalert.notify.receivers.base import SecretUrlConfig
from anomalert.notify.render import alert_line, lead_alert, rfc3339, runbook, summary, title

MAX_LINES = 10
COLOR = {"P1": 0xE01E5A, "P2": 0xECB22E, "P3": 0x36C5F0, "resolved": 0x2EB67D}


class DiscordConfig(SecretUrlConfig):
    """``url`` (secret); optional ``username`` shown as the author."""

    username: str | None = None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def discord_message(n: Notification) -> dict[str, Any]:
    """The webhook body (Discord's limits respected: 2000/256/4096/1024 characters)."""
    lead = lead_alert(n)
    lines = [alert_line(a) for a in n.alerts[:MAX_LINES]]
    if len(n.alerts) > MAX_LINES:
        lines.append(f"…and {len(n.alerts) - MAX_LINES} more")
    fields = [
        {"name": "Severity", "value": n.severity, "inline": True},
        {"name": "Service", "value": lead.service or "-", "inline": True},
        {"name": "Score", "value": f"{lead.score:.2f}", "inline": True},
    ]
    embed: dict[str, Any] = {
        "title": _clip(title(n), 256),
        "description": _clip(summary(lead) + "\n\n" + "\n".join(lines), 4096),
        "color": COLOR["resolved"] if n.status == "resolved" else COLOR[n.severity],
        "timestamp": rfc3339(n.time),
        "fields": fields,
    }
    link = runbook(lead)
    if link:
        fields.append({"name": "Runbook", "value": _clip(link, 1024), "inline": False})
        if link.startswith(("http://", "https://")):
            embed["url"] = link
    return {
        "content": _clip(f"{title(n)}: {summary(lead)}", 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


class DiscordReceiver:
    """Posts to a Discord webhook."""

    def __init__(self, name: str, config: DiscordConfig, client: httpx.Client) -> None:
        self.name = name
        self.config = config
        self._client = client
        self._url = config.url.get_secret_value()
        self._target = f"{name} ({http.mask_url(self._url, secret=True)})"

    def __repr__(self) -> str:
        url = http.mask_url(self._url, secret=True)
        return f"DiscordReceiver(name={self.name!r}, url={url!r})"

    def send(self, n: Notification) -> None:
        """POST the message; 2xx (Discord answers 204) or a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        body = discord_message(n)
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
