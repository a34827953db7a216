"""A real SMTP server in the test process (aiosmtpd on 127.0.0.1 and a free port).

Tests steer its replies (``data_reply``, ``rcpt_reply``, ``delay``) to exercise the
retryable (4xx, timeouts) and permanent (5xx) paths of a client against real SMTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.message
import email.policy
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.procs import free_port


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: email.message.EmailMessage


@dataclass
class SmtpServer:
    """The running server: where it listens, what it got, how it answers next."""

    host: str
    port: int
    messages: list[Received] = field(default_factory=list)
    data_reply: str = "250 OK"
    rcpt_reply: str | None = None
    delay: float = 0.0
    logins: list[tuple[str, bool]] = field(default_factory=list)


class _Handler:
    def __init__(self, state: SmtpServer) -> None:
        self.state = state

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.state.rcpt_reply is not None:
            return self.state.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.state.delay:
            await asyncio.sleep(self.state.delay)
        if not self.state.data_reply.startswith("250"):
            return self.state.data_reply
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        self.state.messages.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), msg))
        return "250 OK"


class _Authenticator:
    def __init__(self, state: SmtpServer, username: str, password: str) -> None:
        self.state, self.username, self.password = state, username, password

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        self.state.logins.append((login, ok))
        return AuthResult(success=ok, handled=False)


@contextlib.contextmanager
def smtp_server(auth: tuple[str, str] | None = None) -> Iterator[SmtpServer]:
    """Run an SMTP server until the block ends; ``auth`` = (user, password) enables AUTH."""
    state = SmtpServer(host="127.0.0.1", port=free_port())
    kwargs: dict[str, Any] = {}
    if auth is not None:
        kwargs = {
            "authenticator": _Authenticator(state, *auth),
            "auth_require_tls": False,  # plain AUTH on loopback, for the test only
        }
    # aiosmtpd logs a deprecation notice of its own on every successful AUTH; not ours to fix.
    mail_log = logging.getLogger("mail.log")
    level = mail_log.level
    mail_log.setLevel(logging.ERROR)
    controller = Controller(_Handler(state), hostname=state.host, port=state.port, **kwargs)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
        mail_log.setLevel(level)
