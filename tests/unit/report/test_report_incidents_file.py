"""Labelled incidents from JSON and CSV: every valid item kept, every bad one named."""

from __future__ import annotations

import json

import pytest

from anomalert.errors import FieldError
from anomalert.report.incidents_file import IncidentItem, parse_incidents, parse_item

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_json_list_with_aliases_and_both_time_forms() -> None:
    text = json.dumps(
        [
            {
                "id": "INC-1",
                "root_service": "db",
                "type": "disk_full",
                "start": "2026-01-01T00:00:00Z",
                "end": "2026-01-01T01:30:00+01:00",
                "severity": "P1",
            },
            {"start": T0 + 3600, "end": T0 + 7200, "service": "api", "title": "slow"},
            {"id": 7, "start": T0, "end": T0 + 60},
        ]
    )
    got = parse_incidents(text, "json")
    assert got.errors == ()
    assert got.items == (
        IncidentItem("INC-1", "db", "disk_full", T0, T0 + 1800),
        IncidentItem(None, "api", "slow", T0 + 3600, T0 + 7200),
        IncidentItem("7", None, "", T0, T0 + 60),
    )
    assert got.indexes == (0, 1, 2)


def test_json_object_with_incidents_key() -> None:
    got = parse_incidents(json.dumps({"incidents": [{"start": T0, "end": T0 + 1}]}), "json")
    assert len(got.items) == 1


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"end": T0}, "incidents[0].start: required (RFC 3339 or unix seconds)"),
        ({"start": "yesterday", "end": T0}, "incidents[0].start: not a time"),
        ({"start": T0, "end": "2026-01-01T00:00:00"}, "incidents[0].end: not a time"),
        ({"start": T0, "end": T0 * 1000}, "incidents[0].end: not a time: looks like milli"),
        ({"start": T0 + 60, "end": T0}, "incidents[0].end: must be after start"),
        ({"start": T0, "end": T0 + 1, "service": 3}, "incidents[0].service: must be a string"),
        ({"start": T0, "end": T0 + 1, "id": [1]}, "incidents[0].id: must be a string or an"),
        ("INC-1", "incidents[0]: must be an object"),
    ],
)
def test_a_bad_json_item_is_named(item: object, message: str) -> None:
    got = parse_incidents(json.dumps([item]), "json")
    assert got.items == ()
    (err,) = got.errors
    assert str(err).startswith(message), str(err)
    assert err.to_json()["index"] == 0


def test_bad_items_do_not_drop_good_ones() -> None:
    items = [{"start": T0, "end": T0 + 60}, {"start": T0}, {"start": T0, "end": T0 + 1}]
    got = parse_incidents(json.dumps(items), "json")
    assert got.indexes == (0, 2)
    assert [(e.index, e.field) for e in got.errors] == [(1, "end")]


def test_csv_with_unix_and_rfc3339_cells() -> None:
    text = (
        "id,service,title,start,end\n"
        f"A,checkout,latency,{T0:.0f},{T0 + 600:.0f}\n"
        "B,,,2026-01-01T02:00:00Z,2026-01-01T03:00:00Z\n"
        "C,db,,2026-01-01T02:00:00Z,not-a-time\n"
        "D,db,,2026-01-01T05:00:00Z,2026-01-01T04:00:00Z\n"
    )
    got = parse_incidents(text, "csv")
    assert got.items == (
        IncidentItem("A", "checkout", "latency", T0, T0 + 600),
        IncidentItem("B", None, "", T0 + 7200, T0 + 10800),
    )
    assert [str(e).split(":")[0] for e in got.errors] == ["incidents[2].end", "incidents[3].end"]


@pytest.mark.parametrize(
    ("text", "fmt", "words"),
    [
        ("[{", "json", "not valid JSON"),
        ('{"start": 1}', "json", "expected a list"),
        ("id,begin,end\nA,1,2\n", "csv", "needs the columns start"),
        ("start,end,owner\n1,2,x\n", "csv", "unknown CSV column 'owner'"),
    ],
)
def test_an_unreadable_file_is_one_error(text: str, fmt: str, words: str) -> None:
    with pytest.raises(FieldError, match=words) as info:
        parse_incidents(text, fmt)  # type: ignore[arg-type]
    assert info.value.field == "content"


def test_one_api_item_is_strict() -> None:
    assert parse_item({"start": T0, "end": T0 + 1, "title": "x"}).title == "x"
    with pytest.raises(FieldError) as info:
        parse_item({"start": T0, "end": T0 + 1, "severity": "P1"})
    assert info.value.field == "severity"
    with pytest.raises(FieldError) as info:
        parse_item({"start": T0})
    assert info.value.field == "end"


@pytest.mark.parametrize("control", ["\x1c", "\x1f", "\x0b", "\x0c", "\x85"])
def test_a_csv_cell_ending_in_a_control_character_is_refused_not_trimmed(control: str) -> None:
    """``str.strip`` takes these as blanks: trimmed away, the cell passed the control check
    with its character silently gone."""
    times = f"{T0:.0f},{T0 + 60:.0f}"
    text = f"id,service,start,end\nA,db{control},{times}\nB,\t db \u00a0,{times}\n"
    got = parse_incidents(text, "csv")
    assert got.items == (IncidentItem("B", "db", "", T0, T0 + 60),)
    (err,) = got.errors
    assert (err.index, err.field) == (0, "service")
    assert "control characters" in err.message
