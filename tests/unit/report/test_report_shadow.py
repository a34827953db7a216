"""The shadow-mode report on concrete timelines: matches, pages, lead times, verdicts."""

from __future__ import annotations

from typing import Any

from anomalert.report.shadow import Readiness, shadow_report
from anomalert.store.reports import AlertFacts
from anomalert.store.rows import LabelledIncidentRow

H = 3600.0
DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def alert(i: int, start: float, end: float | None, severity: str = "P2", **kw: Any) -> AlertFacts:
    fields: dict[str, Any] = {
        "id": i,
        "service": "checkout",
        "metric": "latency_p99_ms",
        "alertname": "Anomaly",
        "summary": f"alert {i}",
        "severity": severity,
        "score": 0.95,
        "mode": "shadow",
        "source": "anomaly",
        "starts_at": start,
        "ends_at": end,
    }
    fields.update(kw)
    return AlertFacts(**fields)


def incident(
    i: int, start: float, end: float, service: str | None = "checkout"
) -> LabelledIncidentRow:
    return LabelledIncidentRow(i, f"INC-{i}", service, "", start, end, "json", T0)


def test_matching_pages_lead_times_and_precision() -> None:
    incidents = [
        incident(1, T0 + 10 * H, T0 + 11 * H),  # seen 20 minutes early
        incident(2, T0 + 30 * H, T0 + 31 * H),  # seen 10 minutes late
        incident(3, T0 + 50 * H, T0 + 51 * H),  # missed
        incident(4, T0 + 70 * H, T0 + 71 * H, service="payments"),  # another service's
        incident(5, T0 + 90 * H, T0 + 90.5 * H, service=None),  # names no service: counts
    ]
    alerts = [
        alert(1, T0 + 10 * H - 20 * 60, T0 + 10.5 * H, "P1"),
        alert(2, T0 + 10 * H + 5 * 60, T0 + 10.2 * H, "P3"),
        alert(3, T0 + 30 * H + 10 * 60, T0 + 30.5 * H, "P2"),
        alert(4, T0 + 20 * H, T0 + 20.1 * H, "P2"),  # false page
        alert(5, T0 + 9 * H, T0 + 9.4 * H, "P3"),  # ends 36 min before incident 1: too early
        alert(6, T0 + 90 * H - 40 * 60, T0 + 90 * H - 25 * 60, "P3"),  # 40 min early: counts
        alert(7, T0 + 70 * H, T0 + 71 * H, "P1", service="payments"),  # not this service
        alert(8, T0 + 90.25 * H, None, "P3"),  # still firing: active until `until`
    ]
    report = shadow_report(alerts, incidents, {"checkout": "shadow"}, until=T0 + 100 * H)
    (svc,) = report.services
    assert (svc.alerts, svc.would_page, svc.incidents, svc.detected) == (7, 3, 4, 3)
    assert [(p.alert_id, p.incident) for p in svc.pages] == [(1, "INC-1"), (4, None), (3, "INC-2")]
    assert svc.precision_pages == 2 / 3
    assert svc.precision_alerts == 5 / 7
    assert svc.recall == 3 / 4
    assert svc.lead_times_minutes == (20.0, -10.0, 40.0)
    assert svc.median_lead_time_minutes == 20.0
    assert svc.false_pages == 1
    out = report.to_json()
    assert out["since"] == "2026-01-01T09:00:00Z" and out["until"] == "2026-01-05T04:00:00Z"
    entry = out["services"][0]
    assert entry["pages"][1] == {
        "alert_id": 4,
        "time": "2026-01-01T20:00:00Z",
        "metric": "latency_p99_ms",
        "alertname": "Anomaly",
        "severity": "P2",
        "score": 0.95,
        "summary": "alert 4",
        "incident_id": None,
        "incident": None,
        "via": None,
    }
    assert entry["precision_pages"] == 0.6667 and entry["recall"] == 0.75
    # 4 incidents over 3.8 days (shown as 3): enough evidence; precision 0.67 < 0.8 holds it back.
    assert svc.verdict == "stay in shadow: 1 false page in 3 days (precision 0.67 < 0.8)"
    assert not svc.ready and svc.next_mode == "assistive"
    assert "precision ≥ 0.8" in report.rule and "30 minutes before" in report.rule


def _three_incidents(
    detected: int, false_pages: int
) -> tuple[list[AlertFacts], list[LabelledIncidentRow]]:
    incidents = [incident(i, T0 + i * DAY, T0 + i * DAY + H) for i in range(1, 4)]
    alerts = [alert(i, T0 + i * DAY - 600, T0 + i * DAY + 600) for i in range(1, detected + 1)]
    alerts += [
        alert(10 + i, T0 + 0.5 * DAY + i * H, T0 + 0.5 * DAY + i * H + 60)
        for i in range(false_pages)
    ]
    return alerts, incidents


def test_ready_when_precise_and_catching_incidents() -> None:
    alerts, incidents = _three_incidents(detected=2, false_pages=0)
    (svc,) = shadow_report(
        alerts, incidents, {"checkout": "shadow"}, until=T0 + 5 * DAY, since=T0
    ).services
    assert svc.ready
    assert (
        svc.verdict
        == "ready for assistive: precision 1.00 ≥ 0.8 and recall 0.67 ≥ 0.5 over 3 incidents"
    )
    assert svc.lead_times_minutes == (10.0, 10.0)


def test_assistive_moves_to_alerting() -> None:
    alerts, incidents = _three_incidents(detected=3, false_pages=0)
    (svc,) = shadow_report(
        alerts, incidents, {"checkout": "assistive"}, until=T0 + 5 * DAY
    ).services
    assert svc.next_mode == "alerting" and svc.verdict.startswith("ready for alerting: ")


def test_stays_on_low_recall() -> None:
    alerts, incidents = _three_incidents(detected=1, false_pages=0)
    (svc,) = shadow_report(alerts, incidents, {"checkout": "shadow"}, until=T0 + 5 * DAY).services
    assert svc.verdict == "stay in shadow: recall 0.33 < 0.5 (detected 1 of 3 incidents)"


def test_needs_evidence_before_recommending_a_move() -> None:
    alerts, incidents = _three_incidents(detected=2, false_pages=0)
    (svc,) = shadow_report(
        alerts, incidents[:2], {"checkout": "shadow"}, until=T0 + 5 * DAY, since=T0
    ).services
    assert not svc.ready
    assert svc.verdict == (
        "stay in shadow: not enough evidence yet "
        "(2 incidents over 5 days; needs 3 incidents or 14 days)"
    )
    # Fourteen quiet days are evidence too: no pages, no incidents, nothing missed.
    (quiet,) = shadow_report([], [], {"checkout": "shadow"}, until=T0 + 14 * DAY, since=T0).services
    assert quiet.ready and quiet.precision_pages is None and quiet.recall is None
    assert quiet.verdict == (
        "ready for assistive: no would-be pages in 14 days and no labelled incidents to miss"
    )


def test_false_pages_over_two_weeks_keep_it_in_shadow() -> None:
    fp = [alert(i, T0 + i * DAY, T0 + i * DAY + 60, "P1") for i in range(2)]
    ok = [alert(9, T0 + 5 * DAY, T0 + 5 * DAY + 60, "P1")]
    inc = [incident(1, T0 + 5 * DAY, T0 + 5 * DAY + H)]
    (svc,) = shadow_report(
        fp + ok, inc, {"checkout": "shadow"}, until=T0 + 14 * DAY, since=T0
    ).services
    assert svc.verdict == "stay in shadow: 2 false pages in 14 days (precision 0.33 < 0.8)"


def test_custom_rule_and_empty_services() -> None:
    rule = Readiness(min_precision=0.5, min_recall=0.3, min_incidents=1, early=0.0)
    inc = [incident(1, T0 + H, T0 + 2 * H)]
    early = [alert(1, T0 + H - 60, T0 + H - 30, "P3")]  # early by a minute: no slack now
    report = shadow_report(
        early, inc, {"checkout": "shadow", "search": "shadow"}, until=T0 + DAY, rule=rule
    )
    checkout, search = report.services
    assert checkout.detected == 0 and checkout.verdict == (
        "stay in shadow: recall 0.00 < 0.3 (detected 0 of 1 incident)"
    )
    assert search.alerts == 0 and search.incidents == 0
    assert "precision ≥ 0.5" in report.rule


def test_an_alert_during_an_upstream_incident_is_not_a_false_page() -> None:
    incidents = [
        incident(1, T0 + 10 * H, T0 + 11 * H, service="db"),  # checkout -> payments -> db
        incident(2, T0 + 20 * H, T0 + 21 * H, service="search"),  # not a dependency
    ]
    alerts = [alert(1, T0 + 10.2 * H, T0 + 10.4 * H), alert(2, T0 + 20.2 * H, T0 + 20.4 * H)]
    graph = {"checkout": ["payments"], "payments": ["db"], "db": []}
    report = shadow_report(
        alerts, incidents, {"checkout": "shadow"}, until=T0 + DAY, depends_on=graph
    )
    (svc,) = report.services
    assert [(p.incident, p.via) for p in svc.pages] == [("INC-1", "db"), (None, None)]
    assert svc.precision_pages == 0.5
    # Recall and lead times are about checkout's own incidents: it has none.
    assert (svc.incidents, svc.detected, svc.recall, svc.lead_times_minutes) == (0, 0, None, ())
    (alone,) = shadow_report(alerts, incidents, {"checkout": "shadow"}, until=T0 + DAY).services
    assert alone.precision_pages == 0.0
