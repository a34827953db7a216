"""``make eval``'s demo stage: the engine's alerts on a generated scenario against its incidents."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from anomalert.demo.run import Alert
from anomalert.evaluate import demo
from anomalert.evaluate.run import check_floors, main
from anomalert.model import ChangeEvent, Kind


def test_a_short_scenario_is_scored_against_its_incidents() -> None:
    """Nine days (a week of history, then the five incidents): every incident is alerted
    on, and the counts add up."""
    summary = demo.score_demo((1,), days=9)
    assert summary.scenarios == 1 and summary.days == 9 and summary.series == 36
    assert summary.incidents == 5 and summary.caught == 5
    assert summary.incident_recall == 1.0
    assert 0 < summary.in_incidents <= summary.alerts
    assert summary.alert_precision == summary.in_incidents / summary.alerts
    assert summary.false_per_series_day == pytest.approx(
        (summary.alerts - summary.in_incidents) / (36 * 9)
    )
    assert summary.median_lead_minutes is not None and summary.median_lead_minutes >= 0.0
    assert 0 <= summary.held_in_incidents <= summary.held <= summary.alerts
    served = summary.alerts - summary.held
    assert summary.served_precision == (summary.in_incidents - summary.held_in_incidents) / served
    # The service pages far less than the engine alerts (policy, grouping, P3 unsent),
    # and pages every incident.
    assert 0 < summary.pages_in_incidents <= summary.pages < summary.alerts
    assert summary.incidents_paged == 5 and summary.page_recall == 1.0
    assert summary.page_precision == summary.pages_in_incidents / summary.pages


def test_an_alert_in_a_maintenance_window_of_its_own_service_is_held_back() -> None:
    """As the service applies windows (``ChangeEvent.window``): the event's own service
    only, from its start to its end (an hour without one), maintenance and load tests only."""
    t0 = datetime(2026, 1, 3, 2, 0, tzinfo=UTC)
    events = [
        ChangeEvent("maintenance", "db", t0.timestamp(), end=(t0 + timedelta(hours=2)).timestamp()),
        ChangeEvent("load_test", "search", t0.timestamp()),  # no end: an hour
        ChangeEvent("deployment", "checkout", t0.timestamp(), version="v2"),
    ]

    def alert(service: str, minutes: float) -> Alert:
        return Alert(
            service, "latency_p99_ms", t0 + timedelta(minutes=minutes), 0.95, Kind.SPIKE, ""
        )

    assert demo.held_back(alert("db", 0), events) and demo.held_back(alert("db", 120), events)
    assert not demo.held_back(alert("db", 121), events)
    assert not demo.held_back(alert("db", -1), events)
    assert not demo.held_back(alert("payments", 30), events)  # another service: paged
    assert demo.held_back(alert("search", 60), events) and not demo.held_back(
        alert("search", 61), events
    )
    assert not demo.held_back(alert("checkout", 5), events)  # a deploy holds nothing back


def test_served_precision_leaves_the_held_alerts_out() -> None:
    summary = demo.DemoSummary(
        scenarios=1,
        series=1,
        days=1,
        alerts=10,
        in_incidents=4,
        incidents=1,
        caught=1,
        median_lead_minutes=0.0,
        held=3,
        held_in_incidents=1,
    )
    assert summary.alert_precision == 0.4 and summary.served_precision == 3 / 7
    nothing_served = dataclasses.replace(summary, held=10, held_in_incidents=4)
    assert nothing_served.served_precision == 1.0


def test_no_seed_is_an_error() -> None:
    with pytest.raises(ValueError, match="seeds"):
        demo.score_demo(())


def test_make_eval_runs_the_demo_alone_and_checks_its_floors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--only demo`` needs no dataset; its floors are checked and the others skipped."""
    monkeypatch.setattr(demo, "SEEDS", (2,))
    monkeypatch.setattr(demo, "DAYS", 9)
    floors = tmp_path / "floors.json"
    floors.write_text(
        json.dumps(
            {"demo.incident_recall": 1.0, "demo.alert_precision": 1.01, "nab.as_is.standard": 99}
        )
    )
    out = tmp_path / "out"
    status = main(
        [
            "--only",
            "demo",
            "--datasets",
            str(tmp_path / "none"),
            "--out",
            str(out),
            "--floors",
            str(floors),
            "--no-progress",
        ]
    )
    report = json.loads((out / "eval.json").read_text())
    assert report["errors"] == []
    assert report["headline"]["demo.incident_recall"] == 1.0
    held, alerts = report["demo"]["held"], report["demo"]["alerts"]
    assert 0 <= report["demo"]["held_in_incidents"] <= held <= alerts
    assert 0.0 <= report["headline"]["demo.served_precision"] <= 1.0
    # Precision can never reach 1.01: below its floor, exit 1; NAB's floor is skipped.
    assert status == 1
    assert [b.split(" =")[0] for b in report["floors"]["below"]] == ["demo.alert_precision"]
    assert report["demo"]["seeds"] == [2]


def test_demo_floors_are_skipped_when_the_demo_does_not_run() -> None:
    below, unknown = check_floors(
        {"nab.as_is.standard": 50.0}, {"demo.alert_precision": 0.4}, ("nab",)
    )
    assert below == [] and unknown == []
