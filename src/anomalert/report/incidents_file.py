"""Labelled incidents from a file people already have: JSON or CSV of start and end times.

Both formats give the same items. JSON is a list of objects (or ``{"incidents": [...]}``,
and the scenario folder's ``incidents.json`` is accepted as it is); CSV has a header row.

=========  ===================================  ==================================
field      JSON keys                            CSV column
=========  ===================================  ==================================
start      ``start`` (required)                 ``start`` (required)
end        ``end`` (required, after start)      ``end`` (required)
id         ``id`` (string or number)            ``id``
service    ``service`` or ``root_service``      ``service``
title      ``title`` or ``type``                ``title``
=========  ===================================  ==================================

Times are RFC 3339 with an offset or unix seconds (a JSON number, or a plain number in a
CSV cell). The id, service and title are one line each, without control characters (a NUL
made the whole import a 500 on PostgreSQL, which cannot store it; a newline or an escape
sequence garbles the reports that show them): see :mod:`anomalert.ingest.jsonin`. A bad
item is reported with its index and field (``incidents[2].start: ...``) and the valid ones
are kept: an import never drops a good incident because of a bad one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Literal

from anomalert.errors import FieldError
from anomalert.ingest.jsonin import CONTROL, JsonError, parse_json, text_problem
from anomalert.ingest.timestamps import parse_timestamp
from anomalert.timefmt import rfc3339

Format = Literal["csv", "json"]

_ALIASES = {"service": ("service", "root_service"), "title": ("title", "type")}
_CSV_COLUMNS = ("id", "service", "title", "start", "end")
#: What a CSV cell loses at its ends: the blanks ``str.strip`` takes, but of the controls
#: only tab and line breaks. ``str.strip`` also takes \x1c-\x1f, \x0b, \x0c and \x85, so
#: a cell ending in one passed the control check with the character silently gone.
_BLANKS = "".join(
    c for c in map(chr, range(0x3001)) if c.isspace() and (c in "\t\r\n" or not CONTROL.match(c))
)


@dataclass(frozen=True)
class IncidentItem:
    """One valid labelled incident as read from a file or a request."""

    external_id: str | None
    service: str | None
    title: str
    start: float
    end: float

    def to_store(self, source: str) -> dict[str, Any]:
        """The dict :meth:`anomalert.store.Store.add_labelled_incidents` takes."""
        return {
            "external_id": self.external_id,
            "service": self.service,
            "title": self.title,
            "start": self.start,
            "end": self.end,
            "source": source,
        }


@dataclass(frozen=True)
class ItemError:
    """Why one item was rejected: its position, the field, the problem."""

    index: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"incidents[{self.index}]"
        return f"{where}.{self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """``{"index", "field", "message"}`` as the import endpoint answers."""
        return {"index": self.index, "field": self.field, "message": str(self)}


@dataclass(frozen=True)
class ParsedIncidents:
    """Valid items (with their index in the file) and the rejected ones."""

    items: tuple[IncidentItem, ...]
    indexes: tuple[int, ...]
    errors: tuple[ItemError, ...]

    def to_json(self) -> dict[str, Any]:
        """Counts and errors (the items themselves are stored, not echoed)."""
        return {"valid": len(self.items), "rejected": [e.to_json() for e in self.errors]}


def parse_incidents(text: str, fmt: Format) -> ParsedIncidents:
    """Parse a whole file; FieldError (field ``content``) when it cannot be read at all.

    >>> got = parse_incidents('[{"start": 60, "end": 120}, {"start": 60}]', "json")
    >>> [i.start for i in got.items], [str(e) for e in got.errors]
    ([60.0], ['incidents[1].end: required (RFC 3339 or unix seconds)'])
    """
    if fmt == "json":
        return _check_all(_json_items(text), cell_numbers=False)
    if fmt == "csv":
        return _check_all(_csv_items(text), cell_numbers=True)
    raise FieldError("format", f"{fmt!r} is not csv or json")


def format_of(filename: str) -> Format:
    """The format a file name says (``.csv`` or else JSON).

    >>> format_of("incidents.CSV"), format_of("incidents.json")
    ('csv', 'json')
    """
    return "csv" if filename.lower().endswith(".csv") else "json"


#: Keys of one incident sent to the API (files may carry other keys, such as severity).
ITEM_KEYS = ("id", "service", "title", "start", "end")


def parse_item(item: Any) -> IncidentItem:
    """One incident object sent to the API (keys :data:`ITEM_KEYS`); FieldError names the
    field."""
    if isinstance(item, dict):
        unknown = sorted(set(item) - set(ITEM_KEYS))
        if unknown:
            raise FieldError(unknown[0], f"unknown field; use {', '.join(ITEM_KEYS)}")
    got = _check(item, 0, cell_numbers=False)
    if isinstance(got, ItemError):
        raise FieldError(got.field or "body", got.message)
    return got


def _json_items(text: str) -> list[Any]:
    try:
        doc = parse_json(text)
    except JsonError as exc:
        raise FieldError("content", str(exc)) from None
    if isinstance(doc, dict) and "incidents" in doc:
        doc = doc["incidents"]
    if not isinstance(doc, list):
        raise FieldError("content", 'expected a list of incidents or {"incidents": [...]}')
    return doc


def _csv_items(text: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip(_BLANKS) for h in reader.fieldnames or []]
    missing = [c for c in ("start", "end") if c not in header]
    if missing:
        raise FieldError("content", f"the CSV header needs the columns {', '.join(missing)}")
    unknown = [h for h in header if h not in _CSV_COLUMNS]
    if unknown:
        raise FieldError("content", f"unknown CSV column {unknown[0]!r}: use {_CSV_COLUMNS}")
    items: list[Any] = []
    for row in reader:
        cells = {
            k.strip(_BLANKS): (v or "").strip(_BLANKS) for k, v in row.items() if k is not None
        }
        if None in row:
            cells["_extra"] = "extra cells"
        items.append({k: v for k, v in cells.items() if v != ""})
    return items


def _check_all(raw: list[Any], cell_numbers: bool) -> ParsedIncidents:
    items: list[IncidentItem] = []
    indexes: list[int] = []
    errors: list[ItemError] = []
    for i, item in enumerate(raw):
        got = _check(item, i, cell_numbers)
        if isinstance(got, ItemError):
            errors.append(got)
        else:
            items.append(got)
            indexes.append(i)
    return ParsedIncidents(tuple(items), tuple(indexes), tuple(errors))


def _check(item: Any, index: int, cell_numbers: bool) -> IncidentItem | ItemError:
    if not isinstance(item, dict):
        return ItemError(index, "", "must be an object with start and end")
    if "_extra" in item:
        return ItemError(index, "", "more cells than header columns")
    times: dict[str, float] = {}
    for key in ("start", "end"):
        value = item.get(key)
        if value is None:
            return ItemError(index, key, "required (RFC 3339 or unix seconds)")
        try:
            times[key] = _time(value, cell_numbers)
        except ValueError as exc:
            return ItemError(index, key, f"not a time: {exc}")
    if times["end"] <= times["start"]:
        return ItemError(index, "end", "must be after start")
    ext = item.get("id")
    if ext is not None and (isinstance(ext, bool) or not isinstance(ext, str | int)):
        return ItemError(index, "id", "must be a string or an integer")
    if isinstance(ext, str) and (problem := text_problem(ext)):
        return ItemError(index, "id", problem)
    texts: dict[str, str | None] = {}
    for name, keys in _ALIASES.items():
        key = next((k for k in keys if item.get(k) is not None), keys[0])
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            return ItemError(index, key, "must be a string")
        if value is not None and (problem := text_problem(value)):
            return ItemError(index, key, problem)
        texts[name] = value or None
    return IncidentItem(
        external_id=None if ext is None or ext == "" else str(ext),
        service=texts["service"],
        title=texts["title"] or "",
        start=times["start"],
        end=times["end"],
    )


def parse_time(text: str) -> float:
    """A time typed by a person (CLI option, query string): RFC 3339 or unix seconds.

    >>> parse_time("60"), parse_time("1970-01-01T00:02:00Z")
    (60.0, 120.0)
    """
    return _time(text.strip(), cell_numbers=True)


def derived_id(item: IncidentItem) -> str:
    """The key of an item that has no id, so importing the same file twice stores it once.

    >>> derived_id(IncidentItem(None, "db", "", 0.0, 60.0))
    'db@1970-01-01T00:00:00Z/1970-01-01T00:01:00Z'
    """
    return f"{item.service or '*'}@{rfc3339(item.start)}/{rfc3339(item.end)}"


def _time(value: Any, cell_numbers: bool) -> float:
    """A CSV cell holds text only: a plain number there is unix seconds."""
    if cell_numbers and isinstance(value, str) and _is_number(value):
        return parse_timestamp(float(value))
    return parse_timestamp(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
