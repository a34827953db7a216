"""Read a scenario folder back: samples per (service, metric), change events, graph, incidents.

The folder contract (PRODUCT.md, "Scenario folder")::

    samples/<service>/<metric>.csv   (.csv.gz, .parquet)  columns: timestamp (ISO 8601 UTC), value
    events.json      [{"kind", "service", "timestamp", "version", "description"}, ...]
    graph.json       optional, {service: [services it depends on]}
    incidents.json   optional, [{"id", "type", "root_service", "start", "end", "severity"}]

Documented handling (nothing valid is dropped silently, everything invalid is an error):

- every problem raises :class:`ScenarioFormatError`, a ``ValueError`` (and a
  ``FileInputError``) whose message starts with the offending file's path;
- a missing ``events.json`` means "no change events"; missing ``graph.json`` or
  ``incidents.json`` mean an empty graph and no labelled incidents;
- timestamps may carry any UTC offset (converted to UTC); timestamps without one are UTC;
- sample files must be strictly increasing in time, finite, with exactly the columns
  ``timestamp,value``; duplicate or out-of-order timestamps are errors;
- event objects may also carry ``end`` (a maintenance window's end) and ``link``; unknown
  keys are errors; ``version`` may be null or absent (config changes, maintenance);
- hidden files (``.name``) and files that are not ``.csv``/``.csv.gz``/``.parquet`` under
  ``samples/`` are ignored; a sample file outside ``samples/<service>/`` is an error;
- names and text hold no control character nor lone surrogate, as over HTTP
  (:mod:`.jsonin`): a service folder, a metric file name, every string of the JSON files;
  but an event's ``description`` keeps line breaks and tabs;
- a Parquet sample file (``ingest.parquetfile`` reads it) has the same two columns, its
  ``timestamp`` a timestamp type (UTC where it carries no zone) or ISO 8601 text, its
  ``value`` a numeric type; a problem names the row (1 = the first sample), a CSV's the
  line (1 = the header).
"""

from __future__ import annotations

import json
import warnings
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from anomalert import model
from anomalert.errors import FileInputError
from anomalert.ingest.jsonin import text_problem
from anomalert.ingest.parquetfile import is_parquet, read_frame

SAMPLE_SUFFIXES = (".csv.gz", ".csv", ".parquet")
EVENT_KINDS = model.EVENT_KINDS
SEVERITIES = frozenset(model.SEVERITIES)
SeriesKey = tuple[str, str]

_EVENT_REQUIRED = ("kind", "service", "timestamp", "description")
_EVENT_OPTIONAL = ("version", "end", "link")
_INCIDENT_KEYS = ("id", "type", "root_service", "start", "end", "severity")


class ScenarioFormatError(FileInputError, ValueError):
    """Bad content in one file of a scenario folder; the message names the file."""


@dataclass(frozen=True)
class ChangeEvent:
    """A change near which anomalies are expected: a deployment, a rollback, a flag flip...

    ``end`` is set for windows (maintenance, load test); ``version`` for deployments and
    rollbacks (and config revisions), otherwise None.
    """

    kind: str
    service: str
    timestamp: datetime
    version: str | None
    description: str
    end: datetime | None = None
    link: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The events.json object for this event (``end``/``link`` only when set)."""
        obj: dict[str, Any] = {
            "kind": self.kind,
            "service": self.service,
            "timestamp": format_timestamp(self.timestamp),
            "version": self.version,
            "description": self.description,
        }
        if self.end is not None:
            obj["end"] = format_timestamp(self.end)
        if self.link is not None:
            obj["link"] = self.link
        return obj

    def as_model(self) -> model.ChangeEvent:
        """The same event as the service keeps it (unix times)."""
        return model.ChangeEvent(
            kind=self.kind,
            service=self.service,
            timestamp=self.timestamp.timestamp(),
            version=self.version,
            description=self.description,
            link=self.link,
            end=self.end.timestamp() if self.end is not None else None,
        )


@dataclass(frozen=True)
class IncidentLabel:
    """A labelled (ground-truth) incident: what went wrong where, from when to when."""

    id: str
    type: str
    root_service: str
    start: datetime
    end: datetime
    severity: str

    def to_json(self) -> dict[str, Any]:
        """The incidents.json object for this incident."""
        return {
            "id": self.id,
            "type": self.type,
            "root_service": self.root_service,
            "start": format_timestamp(self.start),
            "end": format_timestamp(self.end),
            "severity": self.severity,
        }


@dataclass(frozen=True)
class ScenarioData:
    """Everything a scenario folder holds, validated.

    ``samples`` maps (service, metric) to a float Series indexed by a UTC DatetimeIndex.
    """

    folder: Path
    samples: Mapping[SeriesKey, pd.Series]
    events: tuple[ChangeEvent, ...]
    graph: Mapping[str, tuple[str, ...]]
    incidents: tuple[IncidentLabel, ...]

    @property
    def services(self) -> tuple[str, ...]:
        """Services that have at least one sample file, sorted."""
        return tuple(sorted({service for service, _ in self.samples}))

    def metrics(self, service: str) -> tuple[str, ...]:
        """Metric names of one service, sorted."""
        return tuple(sorted(metric for svc, metric in self.samples if svc == service))

    def series(self, service: str, metric: str) -> pd.Series:
        """One series; KeyError naming it when absent."""
        try:
            return self.samples[(service, metric)]
        except KeyError:
            raise KeyError(f"no samples for {service}/{metric} in {self.folder}") from None

    def arrays(
        self, service: str, metric: str
    ) -> tuple[NDArray[np.datetime64], NDArray[np.float64]]:
        """One series as (datetime64[ns] UTC-naive timestamps, float64 values)."""
        s = self.series(service, metric)
        index = pd.DatetimeIndex(s.index).tz_convert(None)
        return index.to_numpy(dtype="datetime64[ns]"), s.to_numpy(dtype=np.float64)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, to the second: ``2026-01-05T00:00:00Z``.

    >>> format_timestamp(datetime(2026, 1, 5, 14, 28, tzinfo=UTC))
    '2026-01-05T14:28:00Z'
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Parse ISO 8601 into an aware UTC datetime (no offset means UTC); ValueError if bad.

    >>> parse_timestamp("2026-01-05T14:28:00Z").isoformat()
    '2026-01-05T14:28:00+00:00'
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def load_scenario(folder: Path | str) -> ScenarioData:
    """Read and validate a whole scenario folder."""
    root = Path(folder)
    if not root.is_dir():
        raise ScenarioFormatError(root, "not a folder")
    samples_dir = root / "samples"
    if not samples_dir.is_dir():
        raise ScenarioFormatError(samples_dir, "missing: a scenario folder needs samples/")
    samples = {key: read_samples(path) for key, path in sample_files(samples_dir).items()}
    if not samples:
        raise ScenarioFormatError(samples_dir, "no samples/<service>/<metric>.csv files")
    events_path, graph_path, incidents_path = (
        root / "events.json",
        root / "graph.json",
        root / "incidents.json",
    )
    return ScenarioData(
        folder=root,
        samples=samples,
        events=read_events(events_path) if events_path.exists() else (),
        graph=read_graph(graph_path) if graph_path.exists() else {},
        incidents=read_incidents(incidents_path) if incidents_path.exists() else (),
    )


def sample_files(samples_dir: Path) -> dict[SeriesKey, Path]:
    """Map (service, metric) to its file under ``samples/``; errors on duplicates/strays."""
    found: dict[SeriesKey, Path] = {}
    for path in sorted(samples_dir.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = next((s for s in SAMPLE_SUFFIXES if path.name.endswith(s)), None)
        if suffix is None:
            continue
        relative = path.relative_to(samples_dir)
        if len(relative.parts) != 2:
            raise ScenarioFormatError(
                path, "expected samples/<service>/<metric>.csv[.gz] or .parquet"
            )
        key = (relative.parts[0], path.name[: -len(suffix)])
        if not key[1]:
            raise ScenarioFormatError(path, "empty metric name")
        for what, name in zip(("service name", "metric name"), key, strict=True):
            problem = text_problem(name)  # a label of every sample, as over HTTP
            if problem is not None:
                raise ScenarioFormatError(path, f"{what}: {problem}")
        if key in found:
            raise ScenarioFormatError(path, f"duplicate series (also {found[key].name})")
        found[key] = path
    return found


def read_samples(path: Path | str) -> pd.Series:
    """Read one ``timestamp,value`` file (.csv, .csv.gz or .parquet) into a validated float
    Series."""
    path = Path(path)
    if is_parquet(path):
        raw_times, raw_values, times, values, line = _parquet_samples(path)
    else:
        raw_times, raw_values, times, values, line = _csv_samples(path)
    _reject_first(path, times.isna().to_numpy(), raw_times, line, "is not an ISO 8601 timestamp")
    _reject_first(path, ~np.isfinite(values), raw_values, line, "is not a finite number")
    nanos = pd.DatetimeIndex(times).asi8
    steps = np.diff(nanos)
    first = np.array([False])
    _reject_first(
        path, np.concatenate((first, steps == 0)), raw_times, line, "is a duplicate timestamp"
    )
    _reject_first(path, np.concatenate((first, steps < 0)), raw_times, line, "is out of order")
    index = pd.DatetimeIndex(times, name="timestamp")
    return pd.Series(values, index=index, name=path.name.split(".")[0], dtype=np.float64)


#: Where a file's row ``i`` (0-based, data rows) is, in the words of its format.
Line = Callable[[int], str]


#: A sample file's times and values as stored, then parsed, and how to name a row.
Samples = tuple[pd.Series, pd.Series, "pd.Series[pd.Timestamp]", NDArray[np.float64], Line]


def _csv_samples(path: Path) -> Samples:
    """A CSV's times and values (the header is line 1)."""
    try:
        with warnings.catch_warnings():
            # pandas only warns (and drops fields) when a row is longer than the header
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                index_col=False,
                skipinitialspace=True,
                compression="infer",
            )
    except pd.errors.ParserWarning:
        raise ScenarioFormatError(path, "a row has more fields than the header") from None
    except pd.errors.EmptyDataError:
        raise ScenarioFormatError(path, "empty file (expected a timestamp,value header)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
        raise ScenarioFormatError(path, f"unreadable CSV: {exc}") from None
    _check_sample_columns(path, frame)
    raw_times, raw_values = frame.iloc[:, 0], frame.iloc[:, 1]
    times = pd.to_datetime(raw_times, format="ISO8601", utc=True, errors="coerce")
    values = pd.to_numeric(raw_values, errors="coerce").to_numpy(dtype=np.float64)
    return raw_times, raw_values, times, values, lambda row: f"line {row + 2}"


def _parquet_samples(path: Path) -> Samples:
    """A Parquet file's times and values: times of a timestamp type (UTC where they carry
    no zone) or ISO 8601 text, values of a numeric type or text."""
    try:
        frame = read_frame(path)
    except FileInputError as exc:
        raise ScenarioFormatError(path, exc.problem) from None
    _check_sample_columns(path, frame)
    raw_times, raw_values = frame["timestamp"], frame["value"]
    if pd.api.types.is_datetime64_any_dtype(raw_times):
        times = pd.to_datetime(raw_times, utc=True)
    elif pd.api.types.is_numeric_dtype(raw_times):
        raise ScenarioFormatError(
            path, "column timestamp holds numbers: a timestamp type or ISO 8601 text expected"
        )
    else:
        times = pd.to_datetime(raw_times, format="ISO8601", utc=True, errors="coerce")
    if pd.api.types.is_numeric_dtype(raw_values) and not pd.api.types.is_bool_dtype(raw_values):
        values = pd.to_numeric(raw_values).to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = pd.to_numeric(raw_values, errors="coerce").to_numpy(dtype=np.float64)
    return raw_times, raw_values, times, values, lambda row: f"row {row + 1}"


def _check_sample_columns(path: Path, frame: pd.DataFrame) -> None:
    columns = [str(c).strip() for c in frame.columns]
    if columns != ["timestamp", "value"]:
        raise ScenarioFormatError(path, f"columns must be timestamp,value, got {columns}")
    if frame.empty:
        raise ScenarioFormatError(path, "no samples after the header")


def _reject_first(
    path: Path, bad: NDArray[np.bool_], raw: pd.Series, line: Line, problem: str
) -> None:
    """Raise for the first flagged row, naming where it is and its value as stored (typed
    values, a Parquet file's, as their text)."""
    if bad.any():
        row = int(np.argmax(bad))
        value = raw.iloc[row]
        raise ScenarioFormatError(path, f"{line(row)}: {str(value)!r} {problem}")


def read_events(path: Path | str) -> tuple[ChangeEvent, ...]:
    """Read ``events.json``: a list of change events, returned sorted by timestamp."""
    path = Path(path)
    items = _json_list(path)
    events = [_event(path, i, item) for i, item in enumerate(items)]
    return tuple(sorted(events, key=lambda e: e.timestamp))


def _event(path: Path, i: int, item: object) -> ChangeEvent:
    where = f"[{i}]"
    if not isinstance(item, dict):
        raise ScenarioFormatError(path, f"{where}: expected an object")
    missing = [k for k in _EVENT_REQUIRED if k not in item]
    unknown = sorted(set(item) - set(_EVENT_REQUIRED) - set(_EVENT_OPTIONAL))
    if missing or unknown:
        raise ScenarioFormatError(path, f"{where}: missing keys {missing}, unknown keys {unknown}")
    kind = _text(path, f"{where}.kind", item["kind"])
    if kind not in EVENT_KINDS:
        raise ScenarioFormatError(path, f"{where}.kind: {kind!r} not in {sorted(EVENT_KINDS)}")
    version = item.get("version")
    if version is not None and not isinstance(version, str):
        raise ScenarioFormatError(path, f"{where}.version: expected a string or null")
    link = item.get("link")
    if link is not None and not isinstance(link, str):
        raise ScenarioFormatError(path, f"{where}.link: expected a string or null")
    description = item["description"]
    if not isinstance(description, str):
        raise ScenarioFormatError(path, f"{where}.description: expected a string")
    for key, value in (("version", version), ("link", link), ("description", description)):
        if value is not None:
            _check_text(path, f"{where}.{key}", value, free=key == "description")
    timestamp = _moment(path, f"{where}.timestamp", item["timestamp"])
    end = None if item.get("end") is None else _moment(path, f"{where}.end", item["end"])
    if end is not None and end < timestamp:
        raise ScenarioFormatError(path, f"{where}.end: before its timestamp")
    return ChangeEvent(
        kind=kind,
        service=_text(path, f"{where}.service", item["service"]),
        timestamp=timestamp,
        version=version,
        description=description,
        end=end,
        link=link,
    )


def read_graph(path: Path | str) -> dict[str, tuple[str, ...]]:
    """Read ``graph.json``: ``{service: [services it depends on]}``."""
    path = Path(path)
    data = _json(path)
    if not isinstance(data, dict):
        raise ScenarioFormatError(path, "expected an object {service: [dependencies]}")
    graph: dict[str, tuple[str, ...]] = {}
    for service, deps in data.items():
        name = _text(path, "key", service)
        if not isinstance(deps, list):
            raise ScenarioFormatError(path, f"{name}: expected a list of service names")
        names = tuple(_text(path, f"{name}[{j}]", dep) for j, dep in enumerate(deps))
        if name in names:
            raise ScenarioFormatError(path, f"{name}: depends on itself")
        if len(set(names)) != len(names):
            raise ScenarioFormatError(path, f"{name}: duplicate dependencies")
        graph[name] = names
    return graph


def read_incidents(path: Path | str) -> tuple[IncidentLabel, ...]:
    """Read ``incidents.json``: the labelled incidents, in file order."""
    path = Path(path)
    incidents: list[IncidentLabel] = []
    for i, item in enumerate(_json_list(path)):
        where = f"[{i}]"
        if not isinstance(item, dict) or set(item) != set(_INCIDENT_KEYS):
            keys = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise ScenarioFormatError(
                path, f"{where}: expected keys {list(_INCIDENT_KEYS)}, got {keys}"
            )
        label = IncidentLabel(
            id=_text(path, f"{where}.id", item["id"]),
            type=_text(path, f"{where}.type", item["type"]),
            root_service=_text(path, f"{where}.root_service", item["root_service"]),
            start=_moment(path, f"{where}.start", item["start"]),
            end=_moment(path, f"{where}.end", item["end"]),
            severity=_text(path, f"{where}.severity", item["severity"]),
        )
        if label.severity not in SEVERITIES:
            raise ScenarioFormatError(path, f"{where}.severity: {label.severity!r} not P1/P2/P3")
        if label.end <= label.start:
            raise ScenarioFormatError(path, f"{where}: end is not after start")
        if any(other.id == label.id for other in incidents):
            raise ScenarioFormatError(path, f"{where}.id: duplicate id {label.id!r}")
        incidents.append(label)
    return tuple(incidents)


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScenarioFormatError(path, f"invalid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioFormatError(path, f"unreadable: {exc}") from None


def _json_list(path: Path) -> list[object]:
    data = _json(path)
    if not isinstance(data, list):
        raise ScenarioFormatError(path, "expected a JSON list")
    return data


def _text(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioFormatError(path, f"{where}: expected a non-empty string")
    return _check_text(path, where, value)


def _check_text(path: Path, where: str, value: str, *, free: bool = False) -> str:
    """``value``, or ScenarioFormatError when the HTTP ingest would refuse it: a lone
    surrogate or a control character (``free`` text, a description: but line breaks and
    tabs). Such text reaches the store and what shows it, as it would over HTTP."""
    problem = text_problem(value, free=free)
    if problem is not None:
        raise ScenarioFormatError(path, f"{where}: {problem}")
    return value


def _moment(path: Path, where: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise ScenarioFormatError(path, f"{where}: expected an ISO 8601 timestamp string")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise ScenarioFormatError(path, f"{where}: {value!r} is not ISO 8601") from None
