"""Receivers as configured: a name and one or more integrations, and the table that builds them.

Each integration's settings model lives next to its code (``receivers/slack.py`` holds
``SlackConfig``) and is re-exported here, where :class:`ReceiverConfig` composes them.
:data:`INTEGRATIONS` is the single table of integration keys: the config model, the
builder and (through ``ReceiverConfig``) the YAML keys all come from it, so adding an
integration is one row.

In YAML::

    receivers:
      - name: oncall
        pagerduty: {routing_key: "..."}
        slack: [{url: "..."}, {url: "...", channel: "#ops"}]

Every integration key takes one object or a list of them; integrations are named
``<receiver>/<key>[<index>]`` (``oncall/slack[1]``), stable as long as the list order is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx
from pydantic import ConfigDict, Field, field_validator, model_validator

from anomalert.configbase import StrictModel
from anomalert.errors import ConfigError
from anomalert.notify.receivers.alertmanager import AlertmanagerConfig, AlertmanagerReceiver
from anomalert.notify.receivers.base import Receiver
from anomalert.notify.receivers.discord import DiscordConfig, DiscordReceiver
from anomalert.notify.receivers.email import EmailConfig, EmailReceiver
from anomalert.notify.receivers.jsonl import JsonlConfig, JsonlReceiver
from anomalert.notify.receivers.log import LogConfig, LogReceiver
from anomalert.notify.receivers.opsgenie import OpsgenieConfig, OpsgenieReceiver
from anomalert.notify.receivers.pagerduty import PagerDutyConfig, PagerDutyReceiver
from anomalert.notify.receivers.slack import SlackConfig, SlackReceiver
from anomalert.notify.receivers.teams import TeamsConfig, TeamsReceiver
from anomalert.notify.receivers.webhook import WebhookConfig, WebhookReceiver

__all__ = [
    "INTEGRATIONS",
    "AlertmanagerConfig",
    "DiscordConfig",
    "EmailConfig",
    "JsonlConfig",
    "LogConfig",
    "OpsgenieConfig",
    "PagerDutyConfig",
    "ReceiverConfig",
    "SlackConfig",
    "TeamsConfig",
    "WebhookConfig",
    "build_receivers",
]


@dataclass(frozen=True)
class Deps:
    """What builders may need besides their config: the shared HTTP client, the terminal,
    the service's external URL (the base of the links back to the dashboard)."""

    client: httpx.Client
    stream: TextIO | None
    external_url: str = ""


Builder = Callable[[str, Any, Deps], Receiver]

#: Integration key -> (config model, builder). Order is the order integrations are built in.
INTEGRATIONS: dict[str, tuple[type[StrictModel], Builder]] = {
    "webhook": (
        WebhookConfig,
        lambda name, c, d: WebhookReceiver(name, c, d.client, d.external_url),
    ),
    "alertmanager": (
        AlertmanagerConfig,
        lambda name, c, d: AlertmanagerReceiver(name, c, d.client, d.external_url),
    ),
    "slack": (SlackConfig, lambda name, c, d: SlackReceiver(name, c, d.client, d.external_url)),
    "pagerduty": (
        PagerDutyConfig,
        lambda name, c, d: PagerDutyReceiver(name, c, d.client, d.external_url),
    ),
    "opsgenie": (
        OpsgenieConfig,
        lambda name, c, d: OpsgenieReceiver(name, c, d.client, d.external_url),
    ),
    "email": (EmailConfig, lambda name, c, d: EmailReceiver(name, c, d.external_url)),
    "teams": (TeamsConfig, lambda name, c, d: TeamsReceiver(name, c, d.client, d.external_url)),
    "discord": (
        DiscordConfig,
        lambda name, c, d: DiscordReceiver(name, c, d.client, d.external_url),
    ),
    "log": (LogConfig, lambda name, c, d: LogReceiver(name, c, d.stream, d.external_url)),
    "jsonl": (JsonlConfig, lambda name, c, d: JsonlReceiver(c.path, name=name)),
}


class ReceiverConfig(StrictModel):
    """A named receiver and its integrations (at least one).

    ``log: true`` stands for ``log: {}`` (the terminal with default settings).
    """

    model_config = ConfigDict(hide_input_in_errors=True)

    name: str = Field(min_length=1, pattern=r"^[^/\s]+$")
    webhook: tuple[WebhookConfig, ...] = ()
    alertmanager: tuple[AlertmanagerConfig, ...] = ()
    slack: tuple[SlackConfig, ...] = ()
    pagerduty: tuple[PagerDutyConfig, ...] = ()
    opsgenie: tuple[OpsgenieConfig, ...] = ()
    email: tuple[EmailConfig, ...] = ()
    teams: tuple[TeamsConfig, ...] = ()
    discord: tuple[DiscordConfig, ...] = ()
    log: tuple[LogConfig, ...] = ()
    jsonl: tuple[JsonlConfig, ...] = ()

    @field_validator(*INTEGRATIONS, mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return ()
        if value is True:
            return ({},)
        return value if isinstance(value, list | tuple) else (value,)

    @model_validator(mode="after")
    def _has_integration(self) -> ReceiverConfig:
        if not any(self.integrations()):
            keys = ", ".join(INTEGRATIONS)
            raise ValueError(f"receiver {self.name!r} has no integration; add one of: {keys}")
        return self

    def integrations(self) -> list[tuple[str, int, StrictModel]]:
        """(key, index, config) of every integration, in :data:`INTEGRATIONS` order."""
        return [(key, i, c) for key in INTEGRATIONS for i, c in enumerate(getattr(self, key))]


def build_receivers(
    configs: Sequence[ReceiverConfig],
    client: httpx.Client,
    *,
    stream: TextIO | None = None,
    external_url: str = "",
) -> dict[str, list[Receiver]]:
    """Receiver name -> its integrations, named ``<receiver>/<key>[<index>]``.

    ``client`` is shared by every HTTP integration (connection pooling; tests inject a
    mock transport); ``stream`` is where ``log`` integrations write (default stdout);
    ``external_url`` (``server.external_url``) is where the links in messages point (each
    alert's page on the dashboard; empty: no links). Duplicate receiver names are a
    ConfigError naming both places.
    """
    seen: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for i, rc in enumerate(configs):
        if rc.name in seen:
            first = seen[rc.name]
            problems.append((f"receivers[{i}].name", f"{rc.name!r} is already receivers[{first}]"))
        seen.setdefault(rc.name, i)
    if problems:
        raise ConfigError("receivers", problems)
    deps = Deps(client=client, stream=stream, external_url=external_url)
    built: dict[str, list[Receiver]] = {}
    for rc in configs:
        built[rc.name] = [
            INTEGRATIONS[key][1](f"{rc.name}/{key}[{i}]", c, deps)
            for key, i, c in rc.integrations()
        ]
    return built
