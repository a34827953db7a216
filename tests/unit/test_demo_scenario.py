"""The demo scenario generator, its folder writer and the scenario folder loader."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomalert.demo.scenario import (
    DEFAULT_START,
    EXTRA_METRICS,
    Scenario,
    ScenarioSpec,
    generate,
)
from anomalert.demo.writer import main, write_scenario
from anomalert.errors import FileInputError
from anomalert.ingest.scenario import EVENT_KINDS, ScenarioData, load_scenario

APP = [
    "latency_p50_ms",
    "latency_p99_ms",
    "request_rate",
    "error_rate_5xx",
    "error_rate_4xx",
    "cpu_percent",
    "memory_percent",
]
EXPECTED_SERIES = {
    "checkout": set(APP),
    "payments": {*APP, "payments_success_ratio"},
    "auth": {*APP, "auth_failure_rate"},
    "search": set(APP),
    "db": {
        "latency_p50_ms",
        "latency_p99_ms",
        "request_rate",
        "cpu_percent",
        "memory_percent",
        "connections",
    },
}
EXPECTED_GRAPH = {
    "checkout": ["payments", "auth", "search"],
    "payments": ["db", "auth"],
    "auth": [],
    "search": ["db"],
    "db": [],
}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(ScenarioSpec())


@pytest.fixture(scope="module")
def calm() -> Scenario:
    """The same spec without incidents: the counterfactual of every incident window."""
    return generate(ScenarioSpec(inject_incidents=False))


@pytest.fixture(scope="module")
def folder(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scenario(scenario, tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-day folder without incidents, to copy and break."""
    spec = ScenarioSpec(days=1, inject_incidents=False)
    return write_scenario(generate(spec), tmp_path_factory.mktemp("tiny"))


def window(series: pd.Series, start: datetime, end: datetime) -> pd.Series:
    """Samples in [start, end)."""
    return series[start : end - SECOND]


def files_of(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- determinism and shape --------------------------------------------------------------------


def test_same_seed_gives_byte_identical_folders(tmp_path: Path) -> None:
    spec = ScenarioSpec(seed=11, days=3)
    for name, use_gzip in (("a", False), ("b", False), ("c", True), ("d", True)):
        write_scenario(generate(spec), tmp_path / name, gzip=use_gzip)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert files_of(tmp_path / "c") == files_of(tmp_path / "d")
    other = generate(ScenarioSpec(seed=12, days=3))
    same = generate(spec)
    assert not np.array_equal(
        other.samples[("checkout", "latency_p99_ms")], same.samples[("checkout", "latency_p99_ms")]
    )


def test_series_names_and_time_axis(scenario: Scenario) -> None:
    by_service: dict[str, set[str]] = {}
    for service, metric in scenario.samples:
        by_service.setdefault(service, set()).add(metric)
    assert by_service == EXPECTED_SERIES
    assert {k: list(v) for k, v in scenario.graph.items()} == EXPECTED_GRAPH
    first = pd.Timestamp(scenario.timestamps[0]).to_pydatetime().replace(tzinfo=UTC)
    assert first == DEFAULT_START and first.weekday() == 0 and first.hour == 0
    assert len(scenario.timestamps) == 14 * 24 * 60
    assert set(np.diff(scenario.timestamps).astype(int).tolist()) == {60}
    for values in scenario.samples.values():
        assert len(values) == len(scenario.timestamps) and np.isfinite(values).all()


def test_value_ranges(scenario: Scenario) -> None:
    for (service, metric), values in scenario.samples.items():
        assert values.min() >= 0, (service, metric)
        if metric.startswith("error_rate") or metric in EXTRA_METRICS:
            assert values.max() <= 1, (service, metric)
        if metric in ("cpu_percent", "memory_percent"):
            assert values.max() <= 100, (service, metric)
    assert (
        scenario.samples[("checkout", "latency_p99_ms")]
        >= scenario.samples[("checkout", "latency_p50_ms")]
    ).all()


def test_ten_second_resolution_is_supported() -> None:
    fine = generate(ScenarioSpec(days=3, step_seconds=10))
    assert len(fine.timestamps) == 3 * 8640
    spike = fine.incident("latency_spike")
    p99 = fine.series("checkout", "latency_p99_ms")
    assert window(p99, spike.start, spike.end).median() > 3 * p99[: spike.start].median()


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="step_seconds"):
        ScenarioSpec(step_seconds=7)
    with pytest.raises(ValueError, match="UTC"):
        ScenarioSpec(start=datetime(2026, 1, 5))
    with pytest.raises(ValueError, match="days"):
        ScenarioSpec(days=1)
    assert generate(ScenarioSpec(days=1, inject_incidents=False)).incidents == ()


def test_generation_is_fast() -> None:
    began = time.perf_counter()
    generate(ScenarioSpec(seed=3))
    assert time.perf_counter() - began < 5.0  # ~0.2 s on a developer machine


# --- realism ----------------------------------------------------------------------------------


def test_traffic_has_daily_and_weekly_seasonality(scenario: Scenario) -> None:
    rate = scenario.series("checkout", "request_rate")
    index = pd.DatetimeIndex(rate.index)
    weekday = rate[index.day_of_week < 5]
    by_hour = weekday.groupby(pd.DatetimeIndex(weekday.index).hour).median()
    assert 12 <= int(by_hour.index.to_numpy()[np.argmax(by_hour.to_numpy())]) <= 16
    assert by_hour.max() > 3 * by_hour[3]
    first_week = index < pd.Timestamp(DEFAULT_START + timedelta(days=7))
    weekend = rate[first_week & (index.day_of_week >= 5)]
    days = rate[first_week & (index.day_of_week < 5)]
    assert 0.3 < weekend.mean() / days.mean() < 0.5


def test_latency_and_cpu_follow_traffic(calm: Scenario) -> None:
    rate = calm.samples[("search", "request_rate")]
    for metric in ("latency_p50_ms", "cpu_percent"):
        assert np.corrcoef(rate, calm.samples[("search", metric)])[0, 1] > 0.5, metric


def test_some_deployments_shift_the_normal_without_incidents(scenario: Scenario) -> None:
    deployments = [e for e in scenario.events if e.kind == "deployment"]
    assert len(deployments) >= 8
    assert scenario.level_shifts
    changes = {(e.service, e.timestamp) for e in scenario.events}
    assert all((s.service, s.timestamp) in changes for s in scenario.level_shifts)
    for event in deployments:
        assert event.timestamp.weekday() < 5 and 9 <= event.timestamp.hour < 18
        assert event.version is not None and re.fullmatch(r"v\d+\.\d+\.\d+", event.version)
    kinds = {e.kind for e in scenario.events}
    assert {"deployment", "rollback", "config", "feature_flag"} <= kinds
    assert kinds & {"maintenance", "load_test"}


def test_incidents_leave_everything_else_alone(scenario: Scenario, calm: Scenario) -> None:
    first = min(i.start for i in scenario.incidents) - timedelta(minutes=10)
    before = scenario.index_at(first)
    for key, values in scenario.samples.items():
        assert np.array_equal(values[:before], calm.samples[key][:before]), key


# --- injected incidents -----------------------------------------------------------------------


def test_incident_labels(scenario: Scenario) -> None:
    history_end = DEFAULT_START + timedelta(days=7)
    types = [i.type for i in scenario.incidents]
    assert types == ["latency_spike", "error_burst", "memory_leak", "traffic_drop", "db_slowdown"]
    for incident in scenario.incidents:
        assert history_end <= incident.start < incident.end
        assert incident.severity in ("P1", "P2")


def test_latency_spike_after_a_checkout_deploy(scenario: Scenario) -> None:
    spike = scenario.incident("latency_spike")
    assert spike.root_service == "checkout"
    assert timedelta(minutes=35) <= spike.end - spike.start <= timedelta(minutes=45)
    deploy = [
        e
        for e in scenario.events
        if e.kind == "deployment"
        and e.service == "checkout"
        and timedelta(minutes=5) <= spike.start - e.timestamp <= timedelta(minutes=10)
    ]
    assert len(deploy) == 1
    rollback = [e for e in scenario.events if e.kind == "rollback" and e.service == "checkout"]
    assert len(rollback) == 1 and spike.start < rollback[0].timestamp <= spike.end
    day = timedelta(days=1)
    for metric, low, high in (("latency_p99_ms", 3.0, 6.0), ("latency_p50_ms", 1.2, 2.0)):
        series = scenario.series("checkout", metric)
        during = window(series, spike.start, spike.end).median()
        hour = spike.start.replace(minute=0) - day
        usual = window(series, hour, hour + timedelta(hours=1)).median()
        assert low < during / usual < high, metric


def test_error_burst_in_payments(scenario: Scenario) -> None:
    burst = scenario.incident("error_burst")
    assert burst.root_service == "payments" and burst.end - burst.start == timedelta(minutes=15)
    errors = scenario.series("payments", "error_rate_5xx")
    assert 0.06 < window(errors, burst.start, burst.end).mean() < 0.1
    assert window(errors, burst.start - timedelta(days=1), burst.start).median() < 0.005
    success = scenario.series("payments", "payments_success_ratio")
    assert window(success, burst.start, burst.end).mean() < 0.92 < success.median()


def test_memory_leak_in_search(scenario: Scenario) -> None:
    leak = scenario.incident("memory_leak")
    assert leak.root_service == "search"
    assert timedelta(hours=5) <= leak.end - leak.start <= timedelta(hours=7)
    memory = scenario.series("search", "memory_percent")
    ten = timedelta(minutes=10)
    assert 48 < window(memory, leak.start - ten, leak.start).mean() < 62
    assert window(memory, leak.end - ten, leak.end).max() > 90
    assert window(memory, leak.end, leak.end + ten).mean() < 65  # the restart
    hourly = window(memory, leak.start, leak.end).resample("1h").mean()
    assert (np.diff(hourly.to_numpy()) > 0).all()


def test_traffic_drop_in_auth(scenario: Scenario) -> None:
    drop = scenario.incident("traffic_drop")
    assert drop.root_service == "auth" and drop.end - drop.start == timedelta(minutes=30)
    rate = scenario.series("auth", "request_rate")
    week = timedelta(days=7)
    ratio = (
        window(rate, drop.start, drop.end).mean()
        / window(rate, drop.start - week, drop.end - week).mean()
    )
    assert 0.2 < ratio < 0.45
    failures = scenario.series("auth", "auth_failure_rate")
    hour = timedelta(hours=1)
    assert (
        window(failures, drop.start, drop.end).mean()
        > 5 * window(failures, drop.start - hour, drop.start).mean()
    )


def test_db_slowdown_propagates_upstream(scenario: Scenario, calm: Scenario) -> None:
    slow = scenario.incident("db_slowdown")
    assert slow.root_service == "db"
    effect_end = slow.start + timedelta(minutes=30)

    def ratio(service: str, metric: str) -> float:
        hit = window(scenario.series(service, metric), slow.start, effect_end).mean()
        return float(hit / window(calm.series(service, metric), slow.start, effect_end).mean())

    def onset(service: str) -> pd.Timestamp:
        hit, base = (
            scenario.series(service, "latency_p99_ms"),
            calm.series(service, "latency_p99_ms"),
        )
        ratios = window(hit / base, slow.start - timedelta(minutes=10), slow.end)
        return ratios[ratios > 1.2].index[0]

    assert ratio("db", "latency_p99_ms") > 4
    assert ratio("db", "latency_p50_ms") > 4
    assert 1.5 < ratio("payments", "latency_p99_ms") < ratio("db", "latency_p99_ms")
    assert 1.5 < ratio("search", "latency_p99_ms") < ratio("db", "latency_p99_ms")
    assert 1.2 < ratio("checkout", "latency_p99_ms") < ratio("payments", "latency_p99_ms")
    assert ratio("auth", "latency_p99_ms") == pytest.approx(1.0)
    assert onset("db") < onset("payments") < onset("checkout") <= slow.start + timedelta(minutes=3)
    assert onset("payments") == onset("search")
    assert ratio("db", "connections") > 2


# --- the folder and the loader ----------------------------------------------------------------


def test_folder_format(folder: Path, scenario: Scenario) -> None:
    for service, metrics in EXPECTED_SERIES.items():
        found = {p.name.removesuffix(".csv") for p in (folder / "samples" / service).iterdir()}
        assert found == metrics
    lines = (folder / "samples" / "checkout" / "latency_p99_ms.csv").read_text().splitlines()
    assert lines[0] == "timestamp,value"
    assert lines[1].startswith("2026-01-05T00:00:00Z,")
    assert len(lines) == 1 + len(scenario.timestamps)
    assert all(ISO_Z.match(line.split(",")[0]) for line in lines[1:])
    assert json.loads((folder / "graph.json").read_text()) == EXPECTED_GRAPH
    events = json.loads((folder / "events.json").read_text())
    for event in events:
        assert set(event) - {"end", "link"} == {
            "kind",
            "service",
            "timestamp",
            "version",
            "description",
        }
        assert event["kind"] in EVENT_KINDS and event["service"] in EXPECTED_GRAPH
        assert ISO_Z.match(event["timestamp"])
    incidents = json.loads((folder / "incidents.json").read_text())
    assert len(incidents) == 5
    for incident in incidents:
        assert list(incident) == ["id", "type", "root_service", "start", "end", "severity"]
        assert ISO_Z.match(incident["start"]) and ISO_Z.match(incident["end"])


def assert_round_trip(loaded: ScenarioData, scenario: Scenario) -> None:
    assert set(loaded.samples) == set(scenario.samples)
    expected_index = scenario.series("db", "connections").index
    for (service, metric), values in scenario.samples.items():
        series = loaded.series(service, metric)
        assert series.index.equals(expected_index)
        np.testing.assert_allclose(series.to_numpy(), values, rtol=0, atol=1e-9)
    times, values = loaded.arrays("auth", "request_rate")
    assert times[0] == np.datetime64("2026-01-05T00:00:00")
    assert loaded.events == scenario.events
    assert loaded.incidents == scenario.incidents
    assert dict(loaded.graph) == dict(scenario.graph)


def test_loader_round_trip_csv(folder: Path, scenario: Scenario) -> None:
    assert_round_trip(load_scenario(folder), scenario)


def test_loader_round_trip_gzip_replacing_csv(tmp_path: Path) -> None:
    small = generate(ScenarioSpec(days=2, seed=5))
    write_scenario(small, tmp_path)
    write_scenario(small, tmp_path, gzip=True)
    assert not list(tmp_path.rglob("*.csv"))
    gz = tmp_path / "samples" / "db" / "connections.csv.gz"
    assert gzip.decompress(gz.read_bytes()).startswith(b"timestamp,value\n2026-01-05T00:00:00Z,")
    assert_round_trip(load_scenario(tmp_path), small)


def test_command_line_writes_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "out"), "--days", "2", "--seed", "3", "--gzip"]) == 0
    assert "36 series" in capsys.readouterr().out
    loaded = load_scenario(tmp_path / "out")
    assert len(loaded.samples) == 36 and len(loaded.incidents) == 5


GOOD = "timestamp,value\n2026-01-05T00:00:00Z,1.5\n2026-01-05T00:01:00Z,2.0\n"
BAD_SAMPLES = {
    "header": "time,value\n2026-01-05T00:00:00Z,1\n",
    "extra column": "timestamp,value,x\n2026-01-05T00:00:00Z,1,2\n",
    "long row": GOOD + "2026-01-05T00:02:00Z,1,2\n",
    "not a number": GOOD + "2026-01-05T00:02:00Z,abc\n",
    "nan": GOOD + "2026-01-05T00:02:00Z,nan\n",
    "empty value": GOOD + "2026-01-05T00:02:00Z,\n",
    "timestamp": GOOD + "yesterday,1\n",
    "duplicate": GOOD + "2026-01-05T00:01:00Z,3\n",
    "out of order": GOOD + "2026-01-05T00:00:30Z,3\n",
    "empty": "",
    "header only": "timestamp,value\n",
}


@pytest.mark.parametrize("case", sorted(BAD_SAMPLES))
def test_loader_names_the_malformed_sample_file(tiny: Path, tmp_path: Path, case: str) -> None:
    shutil.copytree(tiny, tmp_path, dirs_exist_ok=True)
    bad = tmp_path / "samples" / "search" / "cpu_percent.csv"
    bad.write_text(BAD_SAMPLES[case])
    with pytest.raises(ValueError, match=re.escape(str(bad))) as caught:
        load_scenario(tmp_path)
    assert isinstance(caught.value, FileInputError)


def test_loader_names_a_corrupt_gzip_file(tmp_path: Path) -> None:
    write_scenario(generate(ScenarioSpec(days=1, inject_incidents=False)), tmp_path, gzip=True)
    bad = tmp_path / "samples" / "db" / "connections.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        load_scenario(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "events.json",
            '[{"kind": "party", "service": "db", "timestamp": "2026-01-05T00:00:00Z",'
            ' "version": null, "description": ""}]',
            "kind",
        ),
        (
            "events.json",
            '[{"kind": "config", "service": "db", "timestamp": "soon",'
            ' "version": null, "description": ""}]',
            "timestamp",
        ),
        ("events.json", "{not json", "invalid JSON"),
        ("incidents.json", '[{"id": "x"}]', "expected keys"),
        ("graph.json", '{"db": "auth"}', "list"),
    ],
)
def test_loader_names_the_malformed_json_file(
    tiny: Path, tmp_path: Path, name: str, content: str, problem: str
) -> None:
    shutil.copytree(tiny, tmp_path, dirs_exist_ok=True)
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / name))) as caught:
        load_scenario(tmp_path)
    assert problem in str(caught.value)


EVENT = {
    "kind": "deployment",
    "service": "db",
    "timestamp": "2026-01-05T00:00:00Z",
    "version": "v1",
    "description": "rolled out",
}
INCIDENT = {
    "id": "INC-1",
    "type": "latency",
    "root_service": "db",
    "start": "2026-01-05T01:00:00Z",
    "end": "2026-01-05T02:00:00Z",
    "severity": "P2",
}


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        (
            "events.json",
            [{**EVENT, "service": "d\x00b"}],
            "[0].service: must not contain control characters (got \\x00 at character 2)",
        ),
        ("events.json", [{**EVENT, "version": "v\x07"}], "[0].version: must not contain"),
        ("events.json", [{**EVENT, "link": "https://ci/\x7f"}], "[0].link: must not contain"),
        (
            "events.json",
            [{**EVENT, "description": "rolled\nout\x00"}],
            "[0].description: must not contain control characters other than line breaks and "
            "tabs (got \\x00 at character 11)",
        ),
        (
            "events.json",
            [{**EVENT, "version": "\ud800"}],
            "[0].version: must be valid Unicode (a lone surrogate \\ud800)",
        ),
        ("incidents.json", [{**INCIDENT, "id": "INC\x001"}], "[0].id: must not contain"),
        ("incidents.json", [{**INCIDENT, "type": "lat\x85"}], "[0].type: must not contain"),
        ("graph.json", {"db": ["au\x1bth"]}, "db[0]: must not contain control characters"),
    ],
)
def test_loader_refuses_control_characters_in_json_text(
    tiny: Path, tmp_path: Path, name: str, content: object, problem: str
) -> None:
    """As the HTTP ingest does: a replay stores this text and shows it (a lone surrogate
    failed the store: a traceback)."""
    shutil.copytree(tiny, tmp_path, dirs_exist_ok=True)
    (tmp_path / name).write_text(json.dumps(content))
    with pytest.raises(FileInputError) as caught:
        load_scenario(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / name}: {problem}")


def test_loader_keeps_line_breaks_and_tabs_in_an_event_description(
    tiny: Path, tmp_path: Path
) -> None:
    shutil.copytree(tiny, tmp_path, dirs_exist_ok=True)
    text = "rolled out\n\t- to 5%\r\n\t- then all"
    (tmp_path / "events.json").write_text(json.dumps([{**EVENT, "description": text}]))
    (loaded,) = load_scenario(tmp_path).events
    assert loaded.description == text


@pytest.mark.parametrize(
    ("service", "metric", "problem"),
    [
        ("d\x07b", "cpu", "service name: must not contain control characters (got \\x07 at"),
        ("d\nb", "cpu", "service name: must not contain control characters (got \\n at"),
        ("db", "\x1b[31mcpu", "metric name: must not contain control characters (got \\x1b"),
        ("db", "cpu\x85", "metric name: must not contain control characters (got \\x85"),
    ],
)
def test_loader_refuses_control_characters_in_sample_file_names(
    tmp_path: Path, service: str, metric: str, problem: str
) -> None:
    """A service folder and a metric file name become labels of every sample."""
    bad = tmp_path / "samples" / service / f"{metric}.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text(GOOD)
    with pytest.raises(FileInputError) as caught:
        load_scenario(tmp_path)
    assert str(caught.value).startswith(f"{bad}: {problem}")


def test_loader_rejects_two_files_for_one_series(tiny: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny, tmp_path, dirs_exist_ok=True)
    (tmp_path / "samples" / "db" / "connections.csv.gz").write_bytes(gzip.compress(GOOD.encode()))
    with pytest.raises(ValueError, match="duplicate series"):
        load_scenario(tmp_path)


def test_loader_accepts_offsets_and_optional_files(tmp_path: Path) -> None:
    service = tmp_path / "samples" / "web"
    service.mkdir(parents=True)
    (service / "rate.csv").write_text("timestamp,value\n2026-01-05T01:00:00+01:00,1\n")
    loaded = load_scenario(tmp_path)
    assert loaded.events == () and loaded.incidents == () and dict(loaded.graph) == {}
    assert loaded.series("web", "rate").index[0] == pd.Timestamp("2026-01-05T00:00:00Z")
