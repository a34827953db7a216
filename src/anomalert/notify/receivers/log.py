"""One readable line per notification, on a terminal stream or a logger.

What ``make run`` shows: ``time receiver STATUS severity service summary``, so someone
watching the demo sees what would have paged whom, and why, without any external service,
and (given the service's external URL) the link to the lead alert's dashboard page. The
time is the notification's time (event time in replay), not the wall clock.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from anomalert.errors import PermanentDeliveryError
from anomalert.model import Notification
from anomalert.notify.links import alert_url
from anomalert.notify.receivers.base import IntegrationConfig, os_error
from anomalert.notify.render import lead_alert, rfc3339, runbook, status_word, summary


class LogConfig(IntegrationConfig):
    """``logger``: a logger name to log to (INFO); unset, the terminal stream."""

    logger: str | None = None


def log_line(n: Notification, base: str = "") -> str:
    """``2024-01-01T09:00:00Z oncall FIRING P1 checkout p99 latency ... (score 0.97)``.

    Then ``explain: <the lead alert's page>`` under ``base`` (the external URL, if any) and
    ``runbook: <its runbook>`` (if it has one).
    """
    lead = lead_alert(n)
    text = " ".join(summary(lead).split())
    line = (
        f"{rfc3339(n.time)} {n.receiver} {status_word(n)} {lead.severity} "
        f"{lead.service or '-'} {text} (score {lead.score:.2f})"
    )
    if len(n.alerts) > 1:
        line += f" +{len(n.alerts) - 1} more"
    for what, link in (("explain", alert_url(base, lead)), ("runbook", runbook(lead))):
        if link:
            line += f" {what}: {link}"
    return line


class LogReceiver:
    """Writes :func:`log_line` to a stream (default: standard output) or a logger."""

    def __init__(
        self,
        name: str,
        config: LogConfig,
        stream: TextIO | None = None,
        external_url: str = "",
    ) -> None:
        self.name = name
        self.config = config
        self._stream = stream
        self._external_url = external_url
        self._logger = logging.getLogger(config.logger) if config.logger else None

    def __repr__(self) -> str:
        return f"LogReceiver(name={self.name!r}, logger={self.config.logger!r})"

    def send(self, n: Notification) -> None:
        """Write the line and flush it."""
        line = log_line(n, self._external_url)
        if self._logger is not None:
            self._logger.info("%s", line)
            return
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(line + "\n")
            stream.flush()
        except OSError as exc:
            raise os_error(self.name, exc) from None
        except ValueError as exc:  # a closed stream stays closed
            raise PermanentDeliveryError(f"{self.name}: {exc}") from None
