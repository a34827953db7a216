"""Notification links point where people reach the service: the configured URL, else the
address the service really listens on."""

from __future__ import annotations

from anomalert.config import parse_config

BASE = {"receivers": [{"name": "log", "log": {}}], "route": {"receiver": "log"}}


def test_links_follow_the_listening_address_when_no_external_url_is_set() -> None:
    config = parse_config({**BASE, "server": {"port": 9191}}, "x.yaml")
    assert config.server.link_base == "http://127.0.0.1:9191"
    moved = config.server.model_copy(update={"host": "::1", "port": 8000})
    assert moved.link_base == "http://[::1]:8000"


def test_an_external_url_wins_and_an_empty_one_turns_links_off() -> None:
    proxied = {**BASE, "server": {"external_url": "https://alerts.example.com/anomalert"}}
    assert parse_config(proxied, "x.yaml").server.link_base == (
        "https://alerts.example.com/anomalert"
    )
    off = {**BASE, "server": {"external_url": ""}}
    assert parse_config(off, "x.yaml").server.link_base == ""
