"""The issue's bar on the demo: every incident is one notification group, nothing else pages."""

from __future__ import annotations

import json
from pathlib import Path

from anomalert.demo.scenario import ScenarioSpec, generate
from anomalert.demo.writer import write_scenario
from anomalert.replay import replay


def test_replaying_the_demo_pages_once_per_incident_and_never_outside(tmp_path: Path) -> None:
    folder = tmp_path / "scenario"
    write_scenario(generate(ScenarioSpec()), folder)
    out = tmp_path / "notifications.jsonl"
    summary = replay(folder, out)
    assert summary.incidents == 5
    assert summary.covered == summary.incidents
    assert all(groups == 1 for groups in summary.groups_per_incident.values())
    assert summary.outside == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    required = {"time", "receiver", "status", "service", "labels", "severity", "score", "reason"}
    assert all(required <= set(n) for n in lines)
    # Every page that fired was followed by its resolve.
    firing = {n["group_key"] for n in lines if n["status"] == "firing"}
    resolved = {n["group_key"] for n in lines if n["status"] == "resolved"}
    assert firing == resolved
