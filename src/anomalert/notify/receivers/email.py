"""E-mail over SMTP (optional implicit TLS or STARTTLS, optional login).

SMTP reply codes carry the retry semantics: 4xx is "try again later" (greylisting, a full
queue), 5xx is final (unknown mailbox, bad credentials). Connection failures and timeouts
are retryable. Each message has a ``Message-ID`` derived from the notification key, so a
copy resent after a crash is recognisably the same message (mail stores and clients that
de-duplicate by Message-ID show it once). The password is a SecretStr, redacted from every
message. The body is plain text; each alert's paragraph carries the link to its dashboard
page ("explain:"), which mail clients make clickable.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from anomalert.configbase import Duration
from anomalert.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from anomalert.model import Notification
from anomalert.notify.http import redact
from anomalert.notify.links import alert_url
from anomalert.notify.receivers.base import IntegrationConfig
from anomalert.notify.render import alert_line, rfc3339, runbook, title


class EmailConfig(IntegrationConfig):
    """``host``, ``port``, ``from``, ``to`` (one address or a list); TLS and login optional.

    ``tls`` is implicit TLS (SMTPS, usually port 465); ``starttls`` upgrades a plain
    connection (usually port 587).
    """

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    host: str = Field(min_length=1)
    port: int = Field(default=25, gt=0, lt=65536)
    sender: str = Field(alias="from", min_length=3)
    to: tuple[str, ...] = Field(min_length=1)
    tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout: Duration = Field(default=10.0, gt=0)
    send_resolved: bool = True

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> EmailConfig:
        if self.tls and self.starttls:
            raise ValueError("choose one of tls (implicit) and starttls")
        if self.password is not None and not self.username:
            raise ValueError("password given without username")
        return self


def message_id(n: Notification, sender: str) -> str:
    """A Message-ID that is the same for every resend of one notification."""
    domain = sender.rpartition("@")[2].strip(">") or "anomalert"
    return f"<{hashlib.sha256(n.key.encode()).hexdigest()[:32]}@{domain}>"


def body_text(n: Notification, base: str = "") -> str:
    """The plain-text body: one paragraph per alert, then the group.

    ``base`` is the service's external URL (the links to the dashboard); empty, no links.
    """
    parts = [title(n), ""]
    for a in n.alerts:
        parts.append(alert_line(a))
        parts.append(f"  status {a.status}, since {rfc3339(a.starts_at)}")
        for what, link in (("explain", alert_url(base, a)), ("runbook", runbook(a))):
            if link:
                parts.append(f"  {what}: {link}")
        parts.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())))
        parts.append("")
    group = ", ".join(f"{k}={v}" for k, v in sorted(n.group_labels.items())) or n.group_key
    parts.append(f"group: {group}")
    if n.tier:
        parts.append(f"escalation tier: {n.tier}")
    return "\n".join(parts) + "\n"


def build_message(n: Notification, config: EmailConfig, base: str = "") -> EmailMessage:
    """The e-mail for a notification (``base``: the service's external URL)."""
    msg = EmailMessage()
    msg["Subject"] = title(n)
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(n.time, usegmt=True)
    msg["Message-ID"] = message_id(n, config.sender)
    msg["X-Anomalert-Severity"] = n.severity
    msg.set_content(body_text(n, base))
    return msg


class EmailReceiver:
    """Sends one e-mail per notification through an SMTP server."""

    def __init__(self, name: str, config: EmailConfig, external_url: str = "") -> None:
        self.name = name
        self.config = config
        self._external_url = external_url
        self._target = f"{name} (smtp {config.host}:{config.port})"
        self._secrets = [config.password.get_secret_value()] if config.password else []

    def __repr__(self) -> str:
        return f"EmailReceiver(name={self.name!r}, host={self.config.host!r})"

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.tls:
            context = ssl.create_default_context()
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
        return smtplib.SMTP(c.host, c.port, timeout=c.timeout)

    def send(self, n: Notification) -> None:
        """Send the e-mail; return once the server accepted it, else a delivery error."""
        if n.status == "resolved" and not self.config.send_resolved:
            return
        c = self.config
        msg = build_message(n, c, self._external_url)
        try:
            with self._connect() as smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    password = c.password.get_secret_value() if c.password else ""
                    smtp.login(c.username, password)
                smtp.send_message(msg, from_addr=c.sender, to_addrs=list(c.to))
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(exc) from None

    def _error(self, exc: OSError) -> DeliveryError:
        """The delivery error an SMTP/socket failure means."""
        t = self._target
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            replies = sorted(set(exc.recipients.values()))
            codes = [code for code, _ in replies]
            first = replies[0][1].decode("utf-8", "replace") if replies else ""
            text = f"{t}: every recipient refused: SMTP {replies[0][0]} {first}".rstrip()
            retry = any(400 <= code < 500 for code in codes)
            return RetryableDeliveryError(text) if retry else PermanentDeliveryError(text)
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = exc.smtp_error
            reply_text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
            text = f"{t}: SMTP {exc.smtp_code} {redact(str(reply_text), self._secrets)}"
            if 400 <= exc.smtp_code < 500:
                return RetryableDeliveryError(text)
            return PermanentDeliveryError(text)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            reason = redact(str(exc), self._secrets)
            return RetryableDeliveryError(f"{t}: server disconnected: {reason}")
        if isinstance(exc, smtplib.SMTPException):  # no STARTTLS/AUTH support: configuration
            return PermanentDeliveryError(f"{t}: {redact(str(exc), self._secrets)}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return PermanentDeliveryError(f"{t}: TLS certificate not trusted: {exc.reason}")
        return RetryableDeliveryError(f"{t}: {exc.strerror or type(exc).__name__}")
