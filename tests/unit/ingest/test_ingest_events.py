"""Change events over HTTP and from files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from anomalert.errors import FieldError, FileInputError
from anomalert.ingest.events import load_events_file, parse_events
from anomalert.ingest.samples import Rejection
from anomalert.model import ChangeEvent

T = 1_767_623_280.0


def event(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "deployment",
        "service": "checkout",
        "timestamp": "2026-01-05T14:28:00Z",
        "version": "v2.3.1",
        "description": "new cart",
        "link": "https://ci.example/run/42",
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not ...}


def test_a_full_event() -> None:
    assert parse_events(event()) == (
        [
            ChangeEvent(
                "deployment", "checkout", T, "v2.3.1", "new cart", "https://ci.example/run/42"
            )
        ],
        [],
    )


def test_optional_fields_default() -> None:
    minimal = {"kind": "config", "service": "auth", "timestamp": T}
    assert parse_events([minimal, {**minimal, "version": None, "description": None}]) == (
        [ChangeEvent("config", "auth", T)] * 2,
        [],
    )


def test_windows_have_an_end_after_their_start() -> None:
    body = {
        "events": [
            event(kind="maintenance", end="2026-01-05T15:28:00Z"),
            event(kind="load_test", end=T),
            event(kind="deployment", end=T + 60),
        ]
    }
    accepted, rejected = parse_events(body)
    assert [(e.kind, e.end) for e in accepted] == [("maintenance", T + 3600)]
    assert rejected == [
        Rejection(1, "events[1].end: must be after timestamp"),
        Rejection(
            2,
            "events[2].end: only maintenance and load_test events are windows (kind is deployment)",
        ),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"kind": "deploy"},
            "events[0].kind: must be one of config, deployment, feature_flag, load_test, "
            'maintenance, rollback (got "deploy")',
        ),
        ({"kind": ...}, "events[0].kind: required"),
        ({"service": " "}, 'events[0].service: must be a non-empty string (got " ")'),
        ({"timestamp": "soon"}, "events[0].timestamp: is not an RFC 3339 timestamp"),
        ({"timestamp": ...}, "events[0].timestamp: required"),
        ({"version": 2}, "events[0].version: must be a non-empty string (got 2)"),
        ({"description": ["x"]}, 'events[0].description: must be a string (got ["x"])'),
        ({"link": "javascript:alert(1)"}, "events[0].link: must be an http(s) URL"),
        (
            {"service": "check\x00out"},
            "events[0].service: must not contain control characters (got \\x00 at character 6)",
        ),
        ({"service": "check\nout"}, "events[0].service: must not contain control characters"),
        ({"version": "v2\x85"}, "events[0].version: must not contain control characters"),
        ({"link": "https://ci/\x7f"}, "events[0].link: must not contain control characters"),
        (
            {"description": "new\ncart\x00"},
            "events[0].description: must not contain control characters other than line "
            "breaks and tabs (got \\x00 at character 9)",
        ),
        (
            {"description": "\x1b[2Jnew cart"},
            "events[0].description: must not contain control characters other than",
        ),
        ({"author": "me"}, "events[0].author: unknown key (expected kind, service, timestamp,"),
    ],
)
def test_each_problem_names_its_field(overrides: dict[str, Any], message: str) -> None:
    accepted, rejected = parse_events([event(), event(**overrides)])
    assert len(accepted) == 1
    assert [r.index for r in rejected] == [1]
    assert rejected[0].error.replace("events[1]", "events[0]").startswith(message)


def test_a_description_keeps_its_line_breaks_and_tabs() -> None:
    text = "new cart\n\t- one-click checkout\r\n\t- saved carts"
    (accepted,), _ = parse_events(event(description=text))
    assert accepted.description == text


def test_old_events_are_welcome_on_live_endpoints() -> None:
    accepted, _ = parse_events(event(timestamp=1000))
    assert accepted[0].timestamp == 1000.0


@pytest.mark.parametrize("body", [3, "x", None])
def test_a_malformed_body_is_refused_whole(body: object) -> None:
    with pytest.raises(FieldError, match="events: the body must be an event or a list"):
        parse_events(body)


def test_a_file_of_events_loads_all_or_nothing(tmp_path: Path) -> None:
    good = tmp_path / "events.json"
    good.write_text(json.dumps([event(), event(kind="rollback", version="v2.3.0")]))
    assert [e.kind for e in load_events_file(good)] == ["deployment", "rollback"]

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([event(), event(kind="oops")]))
    with pytest.raises(FileInputError) as info:
        load_events_file(bad)
    assert info.value.path == str(bad)
    assert "events[1].kind: must be one of" in str(info.value)


@pytest.mark.parametrize(
    ("content", "problem"),
    [("[{", "not valid JSON"), ('"x"', "events: the body must be an event or a list")],
)
def test_a_broken_file_names_the_file(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "events.json"
    path.write_text(content)
    with pytest.raises(FileInputError, match=problem) as info:
        load_events_file(path)
    assert str(info.value).startswith(str(path))


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileInputError, match="cannot read"):
        load_events_file(tmp_path / "nope.json")
