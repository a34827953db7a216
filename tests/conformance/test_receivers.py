"""Conformance suite: every integration through the same delivery checks.

Each integration gets a *rig*: the receiver plus whatever it talks to. SaaS endpoints that
cannot run here (Slack, PagerDuty, Opsgenie, Teams, Discord, a webhook, Alertmanager's API
shape) answer through ``httpx.MockTransport``; e-mail goes to a real SMTP server in the test
process (aiosmtpd); ``jsonl`` writes a temp file and ``log`` a ``StringIO``. A rig can make
its counterpart fail in named ways (``throttled``, ``timeout``, ``unauthorized`` ...) and says
which delivery error each must become. The checks, for every integration:

- a firing then a resolved notification are delivered and say which they are;
- the runbook link of the alerts is in the firing delivery;
- so is the link to each alert's dashboard page (under a prefixed ``server.external_url``),
  wherever the format has a place for one (``log``, one line, links the lead alert's page;
  ``jsonl``, the replay format, has none);
- the dedup/idempotency key is carried, and is the same when a notification is resent;
- each failure maps to Retryable (with ``retry_after`` for a 429) or Permanent;
- no secret appears in an error's text or in the receiver's repr, even when the failing
  server quotes the request back.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from pydantic import SecretStr

from anomalert.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from anomalert.model import Alert, Notification, fingerprint
from anomalert.notify.links import alert_url
from anomalert.notify.receivers.alertmanager import AlertmanagerConfig, AlertmanagerReceiver
from anomalert.notify.receivers.base import BasicAuth, Receiver
from anomalert.notify.receivers.discord import DiscordConfig, DiscordReceiver
from anomalert.notify.receivers.email import EmailConfig, EmailReceiver, message_id
from anomalert.notify.receivers.jsonl import JsonlReceiver
from anomalert.notify.receivers.log import LogConfig, LogReceiver
from anomalert.notify.receivers.opsgenie import OpsgenieConfig, OpsgenieReceiver
from anomalert.notify.receivers.pagerduty import PagerDutyConfig, PagerDutyReceiver
from anomalert.notify.receivers.slack import SlackConfig, SlackReceiver
from anomalert.notify.receivers.teams import TeamsConfig, TeamsReceiver
from anomalert.notify.receivers.webhook import WebhookConfig, WebhookReceiver
from anomalert.notify.render import dedup_key, lead_alert
from tests.support.procs import free_port
from tests.support.smtp import SmtpServer, smtp_server

SECRET = "s3cr3t-T0KEN-never-shown"
T0 = 1_704_099_600.0  # 2024-01-01 09:00 UTC
RESOLVED_AT = T0 + 1200.0
RUNBOOK = "https://runbooks.example.com/checkout/latency"
EXTERNAL_URL = "https://alerts.example.com/anomalert"


def _alert(name: str, severity: str, score: float, resolved: bool) -> Alert:
    labels = {"alertname": name, "service": "checkout", "severity": severity, "env": "prod"}
    return Alert(
        fingerprint=fingerprint(labels),
        labels=labels,
        annotations={
            "summary": f"{name}: p99 latency 840 ms, 4.2σ above the usual 210 ms",
            "runbook_url": RUNBOOK if severity == "P1" else RUNBOOK + "-errors",
        },
        starts_at=T0,
        ends_at=RESOLVED_AT if resolved else None,
        status="resolved" if resolved else "firing",
        score=score,
        severity="P1" if severity == "P1" else "P2",
        mode="alerting",
        source="anomaly",
        updated_at=RESOLVED_AT if resolved else T0,
    )


def notification(status: str) -> Notification:
    """A group of two checkout alerts, firing or resolved."""
    resolved = status == "resolved"
    alerts = (
        _alert("HighLatency", "P1", 0.97, resolved),
        _alert("HighErrorRate", "P2", 0.93, resolved),
    )
    return Notification(
        key=f"oncall/checkout/{status}/0",
        receiver="oncall",
        group_key='{}:{service="checkout"}',
        group_labels={"service": "checkout"},
        status="resolved" if resolved else "firing",
        alerts=alerts,
        time=RESOLVED_AT if resolved else T0,
        severity="P1",
    )


FIRING, RESOLVED = notification("firing"), notification("resolved")
RETRYABLE, PERMANENT = RetryableDeliveryError, PermanentDeliveryError
REMOTE_OUTCOMES: dict[str, type[DeliveryError]] = {
    "throttled": RETRYABLE,
    "unavailable": RETRYABLE,
    "timeout": RETRYABLE,
    "unreachable": RETRYABLE,
    "bad_request": PERMANENT,
    "unauthorized": PERMANENT,
    "not_found": PERMANENT,
}
_RETRY_HTTP = {"throttled", "unavailable", "timeout", "unreachable"}
LOCAL_OUTCOMES: dict[str, type[DeliveryError]] = {"disk_full": RETRYABLE, "unwritable": PERMANENT}


# --- HTTP integrations ---------------------------------------------------------------


def _json(r: httpx.Request) -> Any:
    return json.loads(r.content)


def _word(text: str) -> str:
    return "resolved" if "[RESOLVED" in text else "firing" if "[FIRING" in text else "?"


def _am_status(r: httpx.Request) -> str:
    ends = [datetime.fromisoformat(a["endsAt"]).timestamp() for a in _json(r)]
    return "resolved" if all(e <= RESOLVED_AT for e in ends) else "firing"


def _am_key(r: httpx.Request) -> str:
    return ",".join(sorted(fingerprint(a["labels"]) for a in _json(r)))


def _header_key(r: httpx.Request) -> str:
    return r.headers.get("idempotency-key", "")


@dataclass(frozen=True)
class HttpCase:
    """How one HTTP integration is built, answers success, and shows status and key."""

    build: Callable[[httpx.Client], Receiver]
    ok: int
    status_of: Callable[[httpx.Request], str]
    key_of: Callable[[httpx.Request], str]
    expected_key: Callable[[Notification], str]


HTTP_CASES: dict[str, HttpCase] = {
    "webhook": HttpCase(
        lambda c: WebhookReceiver(
            "oncall/webhook[0]",
            WebhookConfig(
                url=SecretStr(f"https://hooks.example.com/alerts/{SECRET}?token={SECRET}"),
                bearer_token=SecretStr(SECRET),
            ),
            c,
            external_url=EXTERNAL_URL,
        ),
        200,
        lambda r: _json(r)["status"],
        _header_key,
        lambda n: n.key,
    ),
    "alertmanager": HttpCase(
        lambda c: AlertmanagerReceiver(
            "oncall/alertmanager[0]",
            AlertmanagerConfig(
                url="http://am.example.com:9093",
                basic_auth=BasicAuth(username="anomalert", password=SecretStr(SECRET)),
            ),
            c,
            external_url=EXTERNAL_URL,
        ),
        200,
        _am_status,
        _am_key,
        lambda n: ",".join(sorted(a.fingerprint for a in n.alerts)),
    ),
    "slack": HttpCase(
        lambda c: SlackReceiver(
            "oncall/slack[0]",
            SlackConfig(url=SecretStr(f"https://hooks.slack.example.com/services/T0/B0/{SECRET}")),
            c,
            external_url=EXTERNAL_URL,
        ),
        200,
        lambda r: _word(_json(r)["text"]),
        _header_key,
        lambda n: n.key,
    ),
    "pagerduty": HttpCase(
        lambda c: PagerDutyReceiver(
            "oncall/pagerduty[0]",
            PagerDutyConfig(routing_key=SecretStr(SECRET)),
            c,
            external_url=EXTERNAL_URL,
        ),
        202,
        lambda r: {"trigger": "firing", "resolve": "resolved"}[_json(r)["event_action"]],
        lambda r: _json(r)["dedup_key"],
        dedup_key,
    ),
    "opsgenie": HttpCase(
        lambda c: OpsgenieReceiver(
            "oncall/opsgenie[0]",
            OpsgenieConfig(api_key=SecretStr(SECRET)),
            c,
            external_url=EXTERNAL_URL,
        ),
        202,
        lambda r: "resolved" if r.url.path.endswith("/close") else "firing",
        lambda r: _json(r)["alias"] if r.url.path == "/v2/alerts" else r.url.path.split("/")[3],
        dedup_key,
    ),
    "teams": HttpCase(
        lambda c: TeamsReceiver(
            "oncall/teams[0]",
            TeamsConfig(url=SecretStr(f"https://example.webhook.office.com/wh/{SECRET}")),
            c,
            external_url=EXTERNAL_URL,
        ),
        202,
        lambda r: _word(_json(r)["attachments"][0]["content"]["body"][0]["text"]),
        _header_key,
        lambda n: n.key,
    ),
    "discord": HttpCase(
        lambda c: DiscordReceiver(
            "oncall/discord[0]",
            DiscordConfig(url=SecretStr(f"https://discord.example.com/api/webhooks/1/{SECRET}")),
            c,
            external_url=EXTERNAL_URL,
        ),
        204,
        lambda r: _word(_json(r)["content"]),
        _header_key,
        lambda n: n.key,
    ),
}

_STATUS = {"throttled": 429, "unavailable": 500, "bad_request": 400, "unauthorized": 401}
_STATUS["not_found"] = 404


class HttpRig:
    """An HTTP integration against a mock transport that records every request."""

    outcomes: dict[str, type[DeliveryError]] = REMOTE_OUTCOMES

    def __init__(self, case: HttpCase) -> None:
        self.case = case
        self.outcome = "ok"
        self.requests: list[httpx.Request] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.outcome == "ok":
            return httpx.Response(self.case.ok, text="" if self.case.ok == 204 else "ok")
        if self.outcome == "timeout":
            raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)
        if self.outcome == "unreachable":
            raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)
        status = _STATUS[self.outcome]
        # a hostile (or just chatty) server quoting the request back
        echo = f"rejected {request.url} {dict(request.headers)} {request.content.decode()}"
        headers = {"Retry-After": "7"} if status == 429 else {}
        return httpx.Response(status, headers=headers, text=echo)

    def receiver(self, outcome: str = "ok") -> Receiver:
        self.outcome = outcome
        return self.case.build(self.client)

    def deliveries(self) -> list[httpx.Request]:
        return list(self.requests)

    def status_of(self, d: httpx.Request) -> str:
        return self.case.status_of(d)

    def text_of(self, d: httpx.Request) -> str:
        return d.content.decode()

    def key_of(self, d: httpx.Request) -> str | None:
        return self.case.key_of(d)

    def expected_key(self, n: Notification) -> str | None:
        return self.case.expected_key(n)


# --- e-mail over real SMTP ---------------------------------------------------------------

SMTP_USER = "anomalert"


class SmtpRig:
    """The e-mail integration against a real SMTP server that requires a login."""

    outcomes: dict[str, type[DeliveryError]] = REMOTE_OUTCOMES

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def receiver(self, outcome: str = "ok") -> Receiver:
        s = self.server
        s.delay, s.data_reply, s.rcpt_reply = 0.0, "250 OK", None
        port, password = s.port, SECRET
        if outcome == "throttled":
            s.rcpt_reply = "452 4.5.3 Too many recipients, try later"
        elif outcome == "unavailable":
            s.data_reply = "451 4.3.0 Temporary local problem"
        elif outcome == "timeout":
            s.delay = 0.8
        elif outcome == "unreachable":
            port = free_port()
        elif outcome == "bad_request":
            s.data_reply = "554 5.6.0 Message rejected"
        elif outcome == "unauthorized":
            password = SECRET + "-wrong"
        elif outcome == "not_found":
            s.rcpt_reply = "550 5.1.1 No such user"
        config = EmailConfig.model_validate(
            {
                "host": s.host,
                "port": port,
                "from": "anomalert@example.com",
                "to": ["oncall@example.com"],
                "username": SMTP_USER,
                "password": password,
                "timeout": 0.3,
            }
        )
        return EmailReceiver("oncall/email[0]", config, external_url=EXTERNAL_URL)

    def deliveries(self) -> list[Any]:
        return [m.message for m in self.server.messages]

    def status_of(self, d: Any) -> str:
        return _word(str(d["Subject"]))

    def text_of(self, d: Any) -> str:
        return str(d["Subject"]) + "\n" + str(d.get_body().get_content())

    def key_of(self, d: Any) -> str | None:
        return str(d["Message-ID"])

    def expected_key(self, n: Notification) -> str | None:
        return message_id(n, "anomalert@example.com")


# --- local integrations ------------------------------------------------------------------


class JsonlRig:
    """The JSONL integration writing a temp file."""

    outcomes: dict[str, type[DeliveryError]] = LOCAL_OUTCOMES

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "out" / "notifications.jsonl"

    def receiver(self, outcome: str = "ok") -> Receiver:
        path = {"disk_full": Path("/dev/full"), "unwritable": self.path.parent}.get(
            outcome, self.path
        )
        if outcome == "unwritable":
            path.mkdir(parents=True, exist_ok=True)  # a folder where the file should be
        return JsonlReceiver(path, name="oncall/jsonl[0]")

    def deliveries(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def status_of(self, d: dict[str, Any]) -> str:
        return str(d["status"])

    def text_of(self, d: dict[str, Any]) -> str:
        return json.dumps(d)

    def key_of(self, d: dict[str, Any]) -> str | None:
        return str(d["key"])

    def expected_key(self, n: Notification) -> str | None:
        return n.key


class _FullStream(io.StringIO):
    """A terminal stream on a full disk (what writing to /dev/full gives, without buffering)."""

    def write(self, s: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class LogRig:
    """The log integration writing to an in-memory stream (or a full / closed one)."""

    outcomes: dict[str, type[DeliveryError]] = LOCAL_OUTCOMES

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def receiver(self, outcome: str = "ok") -> Receiver:
        stream: Any = self.stream
        if outcome == "disk_full":
            stream = _FullStream()
        elif outcome == "unwritable":
            stream = io.StringIO()
            stream.close()
        return LogReceiver("oncall/log[0]", LogConfig(), stream, external_url=EXTERNAL_URL)

    def deliveries(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def status_of(self, d: str) -> str:
        return d.split()[2].lower()

    def text_of(self, d: str) -> str:
        return d

    def key_of(self, d: str) -> str | None:
        return None  # a line for people to read: nothing downstream de-duplicates it

    def expected_key(self, n: Notification) -> str | None:
        return None


class Rig(Protocol):
    """An integration plus its counterpart; ``d`` is one captured delivery."""

    outcomes: dict[str, type[DeliveryError]]

    def receiver(self, outcome: str = "ok") -> Receiver: ...
    def deliveries(self) -> list[Any]: ...
    def status_of(self, d: Any) -> str: ...
    def text_of(self, d: Any) -> str: ...
    def key_of(self, d: Any) -> str | None: ...
    def expected_key(self, n: Notification) -> str | None: ...


INTEGRATIONS = [*HTTP_CASES, "email", "jsonl", "log"]
FAILURES = [
    (name, outcome)
    for name in INTEGRATIONS
    for outcome in (LOCAL_OUTCOMES if name in ("jsonl", "log") else REMOTE_OUTCOMES)
]


@contextlib.contextmanager
def make_rig(name: str, tmp: Path) -> Iterator[Rig]:
    with contextlib.ExitStack() as stack:
        rig: Rig
        if name in HTTP_CASES:
            http_rig = HttpRig(HTTP_CASES[name])
            stack.callback(http_rig.client.close)
            rig = http_rig
        elif name == "email":
            rig = SmtpRig(stack.enter_context(smtp_server(auth=(SMTP_USER, SECRET))))
        elif name == "jsonl":
            rig = JsonlRig(tmp)
        else:
            rig = LogRig()
        yield rig


@pytest.fixture
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    with make_rig(request.param, tmp_path) as r:
        yield r


@pytest.mark.parametrize("rig", INTEGRATIONS, indirect=True)
def test_delivers_firing_then_resolved(rig: Rig) -> None:
    receiver = rig.receiver()
    receiver.send(FIRING)
    receiver.send(RESOLVED)
    deliveries = rig.deliveries()
    assert [rig.status_of(d) for d in deliveries] == ["firing", "resolved"]
    assert "checkout" in rig.text_of(deliveries[0])


@pytest.mark.parametrize("rig", INTEGRATIONS, indirect=True)
def test_renders_runbook_link(rig: Rig) -> None:
    rig.receiver().send(FIRING)
    (delivery,) = rig.deliveries()
    assert RUNBOOK in rig.text_of(delivery)


@pytest.mark.parametrize("rig", [n for n in INTEGRATIONS if n != "jsonl"], indirect=True)
def test_links_each_alert_to_its_dashboard_page(rig: Rig) -> None:
    rig.receiver().send(FIRING)
    (delivery,) = rig.deliveries()
    text = rig.text_of(delivery)
    for a in [lead_alert(FIRING)] if isinstance(rig, LogRig) else FIRING.alerts:
        link = alert_url(EXTERNAL_URL, a)
        assert link.startswith(f"{EXTERNAL_URL}/alerts/by-fingerprint/{a.fingerprint}?")
        assert link in text


@pytest.mark.parametrize("rig", [n for n in INTEGRATIONS if n != "log"], indirect=True)
def test_carries_dedup_key_stable_across_resends(rig: Rig) -> None:
    receiver = rig.receiver()
    receiver.send(FIRING)
    receiver.send(FIRING)  # the resend after a crash between "accepted" and "recorded"
    receiver.send(RESOLVED)
    first, again, resolved = rig.deliveries()
    assert rig.key_of(first) == rig.key_of(again) == rig.expected_key(FIRING)
    assert rig.key_of(resolved) == rig.expected_key(RESOLVED)
    assert rig.key_of(first)


def _fail(rig: Rig, outcome: str) -> tuple[Receiver, DeliveryError]:
    receiver = rig.receiver(outcome)
    with pytest.raises(DeliveryError) as info:
        receiver.send(FIRING)
    return receiver, info.value


@pytest.mark.parametrize(("rig", "outcome"), FAILURES, indirect=["rig"])
def test_failure_maps_to_retry_semantics(rig: Rig, outcome: str) -> None:
    _, error = _fail(rig, outcome)
    assert type(error) is rig.outcomes[outcome], str(error)
    if isinstance(rig, HttpRig):
        assert isinstance(error, RetryableDeliveryError) == (outcome in _RETRY_HTTP)
        if outcome == "throttled":
            assert isinstance(error, RetryableDeliveryError) and error.retry_after == 7.0
    if isinstance(error, RetryableDeliveryError) and not isinstance(rig, HttpRig):
        assert error.retry_after is None


@pytest.mark.parametrize(("rig", "outcome"), FAILURES, indirect=["rig"])
def test_failure_never_shows_a_secret(rig: Rig, outcome: str) -> None:
    receiver, error = _fail(rig, outcome)
    for text in (str(error), repr(error), repr(receiver), str(getattr(receiver, "config", ""))):
        assert SECRET not in text
    assert error.__cause__ is None  # nothing chained that could carry the request
    assert receiver.name in str(error)  # but it does say which integration failed


@pytest.mark.parametrize("name", sorted(HTTP_CASES))
def test_http_error_message_quotes_status_and_body(name: str, tmp_path: Path) -> None:
    with make_rig(name, tmp_path) as rig:
        _, error = _fail(rig, "bad_request")
    assert "HTTP 400" in str(error)
    assert "rejected" in str(error)  # the body excerpt, secrets redacted
