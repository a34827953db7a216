"""Receiver configuration: one or many integrations per key, clear errors, stable names."""

from __future__ import annotations

import io
import typing

import httpx
import pytest
import yaml
from pydantic import ValidationError

from anomalert.errors import ConfigError
from anomalert.notify.config import INTEGRATIONS, ReceiverConfig, build_receivers
from anomalert.notify.receivers.email import EmailConfig
from anomalert.notify.receivers.log import LogReceiver
from anomalert.notify.receivers.pagerduty import EVENTS_URL, PagerDutyReceiver
from anomalert.notify.receivers.slack import SlackReceiver

YAML = """
- name: oncall
  pagerduty: {routing_key: R0UTING-SECRET}
  slack:
    - {url: "https://hooks.slack.example.com/services/A/B/C"}
    - {url: "https://hooks.slack.example.com/services/D/E/F", channel: "#ops"}
- name: team-mail
  email:
    host: smtp.example.com
    port: 587
    starttls: true
    from: anomalert@example.com
    to: oncall@example.com
    username: anomalert
    password: PW-SECRET
- name: terminal
  log: true
  jsonl: {path: out/notifications.jsonl}
- name: everything
  webhook: {url: "https://hooks.example.com/x", bearer_token: T}
  alertmanager: {url: "http://am:9093", firing_ttl: 6h}
  opsgenie: {api_key: K, responders: [{type: team, name: sre}]}
  teams: {url: "https://example.webhook.office.com/x", card: messagecard}
  discord: {url: "https://discord.example.com/api/webhooks/1/x"}
"""


def load(text: str = YAML) -> list[ReceiverConfig]:
    return [ReceiverConfig.model_validate(r) for r in yaml.safe_load(text)]


def test_one_object_or_a_list_becomes_a_tuple() -> None:
    oncall, mail, terminal, everything = load()
    assert len(oncall.pagerduty) == 1 and len(oncall.slack) == 2
    assert oncall.slack[1].channel == "#ops"
    assert oncall.pagerduty[0].url == EVENTS_URL
    assert mail.email[0].to == ("oncall@example.com",) and mail.email[0].sender.startswith("anom")
    assert terminal.log[0].logger is None
    assert everything.alertmanager[0].firing_ttl == 6 * 3600


def test_build_receivers_names_each_integration() -> None:
    with httpx.Client() as client:
        built = build_receivers(load(), client, stream=io.StringIO())
    assert {name: [r.name for r in rs] for name, rs in built.items()} == {
        "oncall": ["oncall/slack[0]", "oncall/slack[1]", "oncall/pagerduty[0]"],
        "team-mail": ["team-mail/email[0]"],
        "terminal": ["terminal/log[0]", "terminal/jsonl[0]"],
        "everything": [
            "everything/webhook[0]",
            "everything/alertmanager[0]",
            "everything/opsgenie[0]",
            "everything/teams[0]",
            "everything/discord[0]",
        ],
    }
    assert isinstance(built["oncall"][0], SlackReceiver)
    assert isinstance(built["oncall"][2], PagerDutyReceiver)
    assert isinstance(built["terminal"][0], LogReceiver)


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    configs = load()
    with httpx.Client() as client:
        built = build_receivers(configs, client)
    shown = repr(configs) + repr(built)
    for secret in ("R0UTING-SECRET", "PW-SECRET", "services/A/B/C", "api/webhooks/1/x"):
        assert secret not in shown
    with pytest.raises(ValidationError) as info:
        ReceiverConfig.model_validate(
            {"name": "x", "slack": {"url": "ftp://hooks.example.com/SLACK-SECRET"}}
        )
    assert "SLACK-SECRET" not in str(info.value)
    assert info.value.errors()[0]["loc"] == ("slack", 0, "url")


def test_a_receiver_needs_an_integration_and_the_error_names_it() -> None:
    with pytest.raises(ValidationError, match="receiver 'lonely' has no integration"):
        ReceiverConfig.model_validate({"name": "lonely"})


def test_unknown_keys_are_rejected_with_their_location() -> None:
    with pytest.raises(ValidationError) as info:
        ReceiverConfig.model_validate(
            {"name": "x", "slack": [{"url": "https://h.example.com/a", "chanel": "#ops"}]}
        )
    assert info.value.errors()[0]["loc"] == ("slack", 0, "chanel")
    with pytest.raises(ValidationError, match="hipchat"):
        ReceiverConfig.model_validate({"name": "x", "hipchat": {"url": "https://h.example.com"}})


def test_email_settings_are_checked() -> None:
    base = {"host": "smtp", "from": "a@example.com", "to": ["b@example.com"]}
    assert EmailConfig.model_validate(base).port == 25
    with pytest.raises(ValidationError, match="choose one of tls"):
        EmailConfig.model_validate({**base, "tls": True, "starttls": True})
    with pytest.raises(ValidationError, match="password given without username"):
        EmailConfig.model_validate({**base, "password": "pw"})
    with pytest.raises(ValidationError):
        EmailConfig.model_validate({**base, "to": []})


def test_duplicate_receiver_names_are_a_config_error() -> None:
    twice = load("[{name: a, log: true}, {name: b, log: true}, {name: a, log: true}]")
    with httpx.Client() as client, pytest.raises(ConfigError) as info:
        build_receivers(twice, client)
    assert info.value.problems == [("receivers[2].name", "'a' is already receivers[0]")]


def test_every_integration_key_is_a_config_field_of_its_model() -> None:
    fields = ReceiverConfig.model_fields
    assert set(fields) == {"name", *INTEGRATIONS}
    for key, (model, _) in INTEGRATIONS.items():
        assert typing.get_args(fields[key].annotation)[0] is model
