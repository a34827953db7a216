"""The service's command line: check-config, routes test, export prometheus-rules, replay.

Run in-process through ``typer.testing.CliRunner`` (the same ``app`` the script calls), so
exit codes and the "one line on stderr per problem" contract are checked without paying a
process start per case. ``anomalert run`` itself is driven as a real process in
``tests/acceptance/test_run_process.py``.

The replay scenario is the demo generator's, made small so a replay takes seconds: two
services, three days of history, one day with two incidents, a sample every five minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from anomalert.cli import EXIT_BAD_INPUT, app
from anomalert.demo.scenario import DEFAULT_SERVICES, IncidentTemplate, ScenarioSpec, generate
from anomalert.demo.writer import write_scenario

REPLAY_FIELDS = ("time", "receiver", "status", "service", "labels", "severity", "score", "reason")

TREE = """\
route:
  receiver: default
  group_by: [service]
  group_wait: 30s
  routes:
    - matchers: ['severity="P1"']
      receiver: pager
      continue: true
      routes:
        - matchers: ['service="db"']
          receiver: dba
    - matchers: ['team=~"store.*"']
      receiver: storefront
receivers:
  - {name: default, log: {}}
  - {name: pager, log: {}}
  - {name: dba, log: {}}
  - {name: storefront, log: {}}
rules:
  static:
    - {name: cpu-high, metric: cpu_percent, op: ">", value: 90, for: 10m, severity: P1}
  dynamic:
    - {name: errors-doubled, metric: error_rate, labels: {service: checkout}, factor: 2}
  slos:
    - {name: checkout-availability, service: checkout, objective: 0.999,
       error_ratio: error_rate}
"""


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    path = tmp_path / "tree.yaml"
    path.write_text(TREE)
    return path


# -- check-config ----------------------------------------------------------------------------


def test_check_config_ok(tree: Path) -> None:
    code, out, err = invoke("check-config", tree)
    assert code == 0, err
    assert lines(out) == [f"{tree}: ok (0 services, 4 receivers, 0 inhibit rules, 0 escalations)"]


def test_check_config_names_every_problem_on_its_own_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "server:\n  port: 99999\n  bogus: 1\n"
        "route: {receiver: hook}\n"
        "receivers:\n  - name: hook\n    webhook: {timeout: 5s}\n"
    )
    code, out, err = invoke("check-config", bad)
    assert code == EXIT_BAD_INPUT and out == ""
    got = lines(err)
    assert len(got) == 3, err
    assert all(line.startswith(f"error: {bad}: ") for line in got)
    where = [line.removeprefix(f"error: {bad}: ").split(":")[0] for line in got]
    assert sorted(where) == ["receivers[0].webhook[0].url", "server.bogus", "server.port"]


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "route: {receiver: nope}\nreceivers: [{name: hook, log: {}}]\n",
            "",
            "unknown receiver (route.receiver: nope)",
        ),
        (
            "route: {receiver: hook}\n"
            "receivers: [{name: hook, webhook: {url: '${ANOMALERT_TEST_UNSET_VAR}'}}]\n",
            "receivers[0].webhook.url",
            "ANOMALERT_TEST_UNSET_VAR is not set",
        ),
        ("route: {receiver: hook\n", "line ", "not valid YAML"),
        ("- just\n- a list\n", "", "must hold a mapping"),
    ],
)
def test_check_config_errors(tmp_path: Path, text: str, where: str, words: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    code, out, err = invoke("check-config", path)
    assert code == EXIT_BAD_INPUT and out == ""
    got = lines(err)
    assert len(got) == 1, f"one line per problem, got:\n{err}"
    assert got[0].startswith(f"error: {path}: {where}") and words in got[0], got[0]


def test_check_config_missing_file(tmp_path: Path) -> None:
    code, _, err = invoke("check-config", tmp_path / "absent.yaml")
    assert code == EXIT_BAD_INPUT
    (line,) = lines(err)
    assert "absent.yaml" in line and "cannot read" in line


# -- routes test -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=P3", "service=search"], ["default"]),
        (["severity=P2", "team=storefront"], ["storefront"]),
        (["severity=P1", "team=storefront"], ["pager", "storefront"]),  # continue: true
        (["severity=P1", "service=db"], ["dba"]),  # the deepest matching route wins
    ],
)
def test_routes_test_walks_the_tree(tree: Path, labels: list[str], receivers: list[str]) -> None:
    code, out, err = invoke("routes", "test", tree, *labels)
    assert code == 0, err
    assert lines(out) == receivers


def test_routes_test_refuses_a_label_without_value(tree: Path) -> None:
    code, out, err = invoke("routes", "test", tree, "service=db", "severity")
    assert code == EXIT_BAD_INPUT and out == ""
    assert lines(err) == ["error: 'severity' is not name=value"]


# -- export prometheus-rules -----------------------------------------------------------------


def test_export_prometheus_rules(tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "rules.yml"
    code, out, err = invoke("export", "prometheus-rules", tree, "--output", target)
    assert code == 0 and out == "", err
    text = target.read_text()
    assert invoke("export", "prometheus-rules", tree)[1] == text  # stdout: the same file

    groups = {g["name"]: g["rules"] for g in yaml.safe_load(text)["groups"]}
    alerts = {r["alert"]: r for r in groups["anomalert.alerts"]}
    assert alerts["cpu_high"]["expr"] == "cpu_percent > 90"
    assert alerts["cpu_high"]["for"] == "10m"
    assert alerts["cpu_high"]["labels"] == {"severity": "P1", "rule": "cpu-high"}
    assert alerts["errors_doubled"]["labels"]["rule"] == "errors-doubled"
    assert "anomalert:error_rate:avg7d" in alerts["errors_doubled"]["expr"]
    recorded = {r["record"] for r in groups["anomalert.recording"]}
    assert "anomalert:error_rate:avg7d" in recorded
    slo = [r for r in groups["anomalert.alerts"] if r["labels"]["rule"] == "checkout-availability"]
    assert {r["labels"]["severity"] for r in slo} == {"P1", "P2"}  # page and ticket windows

    promtool = shutil.which("promtool")
    if promtool is not None:
        done = subprocess.run(
            [promtool, "check", "rules", str(target)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_export_prometheus_rules_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("route: {receiver: hook}\nreceivers: []\nrules: {static: [{name: x}]}\n")
    code, out, err = invoke("export", "prometheus-rules", path)
    assert code == EXIT_BAD_INPUT and out == ""
    assert all(line.startswith(f"error: {path}: rules.static[0].") for line in lines(err)), err


# -- replay ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo scenario: checkout and payments, two incidents on the fourth day."""
    services = tuple(s for s in DEFAULT_SERVICES if s.name in ("checkout", "payments"))
    spec = ScenarioSpec(
        days=4,
        history_days=3,
        step_seconds=300,
        services=services,
        dependencies=(("checkout", ("payments",)), ("payments", ())),
        incidents=(
            IncidentTemplate("error_burst", "payments", 0, 10 * 60 + 15, 30, "P1", 0.08),
            IncidentTemplate("latency_spike", "checkout", 0, 14 * 60 + 28, 40, "P2", 4.0),
        ),
    )
    return write_scenario(generate(spec), tmp_path_factory.mktemp("scenario"))


@pytest.fixture(scope="module")
def replayed(scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The default replay of the scenario: its JSONL file and the summary it printed."""
    out = tmp_path_factory.mktemp("replay") / "notifications.jsonl"
    code, stdout, err = invoke("replay", scenario, "--notifications", out, "--no-progress")
    assert code == 0, err
    return out, lines(stdout)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_replay_writes_the_notification_contract(replayed: tuple[Path, list[str]]) -> None:
    path, _ = replayed
    notes = read_jsonl(path)
    assert notes, "the incidents raise notifications"
    for n in notes:
        missing = [f for f in REPLAY_FIELDS if f not in n]
        assert not missing, (missing, n)
        assert n["status"] in ("firing", "resolved")
        assert n["receiver"] == "replay"  # the default config's one receiver
        assert n["service"] in ("checkout", "payments") and n["labels"]["service"] == n["service"]
        assert n["severity"] in ("P1", "P2") and n["labels"]["severity"] == n["severity"]
        assert 0.0 <= n["score"] <= 1.0
        assert isinstance(n["reason"], str) and n["reason"]
        datetime.fromisoformat(n["time"].replace("Z", "+00:00"))
    times = [datetime.fromisoformat(n["time"].replace("Z", "+00:00")) for n in notes]
    assert times == sorted(times)  # written as event time goes by
    firing = {a["fingerprint"] for n in notes if n["status"] == "firing" for a in n["alerts"]}
    resolved = {a["fingerprint"] for n in notes if n["status"] == "resolved" for a in n["alerts"]}
    assert resolved <= firing  # nothing resolves that never fired


def test_replay_summary_matches_the_file(replayed: tuple[Path, list[str]]) -> None:
    path, summary = replayed
    notes = read_jsonl(path)
    firing = sum(1 for n in notes if n["status"] == "firing")
    assert summary[0].startswith("anomalies raised: ")
    assert summary[1].startswith("alerts: ")
    assert f"notifications: {len(notes)} ({firing} firing)" in summary
    assert "incidents covered: 2/2" in summary  # two plain incidents, both notified
    assert summary[-1].startswith("pages outside any incident: ")


def test_replay_with_a_config_routes_to_its_receivers(scenario: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "route:\n  receiver: team\n  group_by: [service]\n"
        "  routes: [{matchers: ['severity=\"P1\"'], receiver: pager}]\n"
        "receivers: [{name: team, log: {}}, {name: pager, log: {}}]\n"
    )
    out = tmp_path / "out.jsonl"
    code, _, err = invoke(
        "replay", scenario, "--config", config, "--notifications", out, "--no-progress"
    )
    assert code == 0, err
    notes = read_jsonl(out)
    assert {n["receiver"] for n in notes} <= {"team", "pager"}
    assert all((n["receiver"] == "pager") == (n["severity"] == "P1") for n in notes)


def test_replay_bad_folder(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    code, stdout, err = invoke("replay", tmp_path / "absent", "--notifications", out)
    assert code == EXIT_BAD_INPUT and stdout == ""
    (line,) = lines(err)
    assert "absent" in line and line.startswith("error: ")

    empty = tmp_path / "empty"
    empty.mkdir()
    code, stdout, err = invoke("replay", empty, "--notifications", out, "--no-progress")
    assert code == EXIT_BAD_INPUT and stdout == ""
    (line,) = lines(err)
    assert "samples" in line and line.startswith("error: ")


def test_replay_refuses_a_control_character_in_one_line(tmp_path: Path) -> None:
    """A service folder named with a newline: the error names it escaped, on one line."""
    folder = tmp_path / "scenario"
    bad = folder / "samples" / "d\nb" / "cpu.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("timestamp,value\n2026-01-05T00:00:00Z,1.5\n")
    out = tmp_path / "out.jsonl"
    code, stdout, err = invoke("replay", folder, "--notifications", out, "--no-progress")
    assert code == EXIT_BAD_INPUT and stdout == ""
    assert err.splitlines() == [
        f"error: {folder}/samples/d\\nb/cpu.csv: service name: must not contain control "
        "characters (got \\n at character 2)"
    ]


def test_replay_bad_config(scenario: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("route: {receiver: nope}\nreceivers: [{name: hook, log: {}}]\n")
    out = tmp_path / "out.jsonl"
    code, stdout, err = invoke(
        "replay", scenario, "--config", config, "--notifications", out, "--no-progress"
    )
    assert code == EXIT_BAD_INPUT and stdout == ""
    (line,) = lines(err)
    assert str(config) in line and "unknown receiver (route.receiver: nope)" in line
    assert not out.exists()  # refused before anything ran
