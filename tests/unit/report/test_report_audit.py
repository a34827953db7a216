"""The weekly audit on concrete weeks: ignored ratios, noisy flags, suggested changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from anomalert.detect.localtime import LocalTime
from anomalert.report.audit import audit_report, suggest
from anomalert.store.reports import AlertFacts

H = 3600.0
DAY = 86400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday
UNTIL = T0 + 7 * DAY


def alert(i: int, start: float, **kw: Any) -> AlertFacts:
    fields: dict[str, Any] = {
        "id": i,
        "service": "checkout",
        "metric": "latency_p99_ms",
        "alertname": "Anomaly",
        "summary": "",
        "severity": "P2",
        "score": 0.95,
        "mode": "alerting",
        "source": "anomaly",
        "starts_at": start,
        "ends_at": start + H,
        "notified": True,
    }
    fields.update(kw)
    return AlertFacts(**fields)


def test_counts_ratio_and_noisy_flag() -> None:
    acked = {"acked_at": 1.0}
    alerts = [
        alert(1, T0 + 1 * DAY + 10 * H, **acked, helpful=True),
        alert(2, T0 + 2 * DAY + 11 * H, **acked),
        alert(3, T0 + 3 * DAY + 12 * H, **acked, helpful=False),  # acked, then not helpful
        alert(4, T0 + 4 * DAY + 13 * H),  # nobody took it
        alert(5, T0 + 5 * DAY + 14 * H),
        alert(6, T0 + 6 * DAY + 15 * H, notified=False, severity="P3"),  # dashboard only
        alert(7, T0 - 1 * H),  # before the week
        alert(8, T0 + 2 * DAY, service="db", metric="cpu", notified=False, severity="P3"),
    ]
    report = audit_report(alerts, until=UNTIL, threshold_of=lambda s, m: 0.9)
    noisy, quiet = report.groups
    assert (noisy.service, noisy.metric, noisy.alertname) == (
        "checkout",
        "latency_p99_ms",
        "Anomaly",
    )
    assert (noisy.alerts, noisy.notified, noisy.acknowledged) == (6, 5, 3)
    assert (noisy.helpful, noisy.not_helpful, noisy.ignored) == (1, 1, 3)
    assert noisy.ignored_ratio == 3 / 5 and noisy.noisy
    assert noisy.suggestion == "move to assistive mode (nobody acknowledged 2 of 5)"
    # Never notified: counted, not judged.
    assert (quiet.service, quiet.alerts, quiet.notified, quiet.ignored_ratio) == ("db", 1, 0, None)
    assert not quiet.noisy and quiet.suggestion is None
    out = report.to_json()
    assert out["noisy"] == 1 and out["since"] == "2026-01-01T00:00:00Z"
    assert out["until"] == "2026-01-08T00:00:00Z"
    assert out["groups"][0]["ignored_ratio"] == 0.6


def test_half_ignored_or_too_few_is_not_noisy() -> None:
    half = [alert(i, T0 + i * DAY, acked_at=1.0 if i % 2 else None) for i in range(4)]
    two = [alert(9, T0 + DAY, metric="cpu"), alert(10, T0 + 2 * DAY, metric="cpu")]
    report = audit_report(half + two, until=UNTIL)
    assert [(g.metric, g.ignored, g.notified, g.noisy) for g in report.groups] == [
        ("latency_p99_ms", 2, 4, False),
        ("cpu", 2, 2, False),
    ]


def test_not_helpful_raises_the_threshold_above_their_scores() -> None:
    scores = [0.91, 0.925, 0.92, 0.93, 0.915]
    alerts = [
        alert(i, T0 + i * DAY + i * H, score=s, helpful=False, acked_at=1.0)
        for i, s in enumerate(scores)
    ]
    alerts.append(alert(9, T0 + 6 * DAY, score=0.99, helpful=True, acked_at=1.0))
    (group,) = audit_report(alerts, UNTIL, threshold_of=lambda s, m: 0.90).groups
    assert group.noisy
    assert group.suggestion == "raise the threshold from 0.90 to 0.94 (5 of 6 marked not helpful)"


def test_same_hour_suggests_a_maintenance_window() -> None:
    alerts = [alert(i, T0 + i * DAY + 2 * H + i * 60) for i in range(5)]
    alerts.append(alert(9, T0 + 5 * DAY + 14 * H))
    (group,) = audit_report(alerts, UNTIL, threshold_of=lambda s, m: 0.9).groups
    assert (
        group.suggestion
        == "a maintenance window or silence at 02:00-03:00 UTC (5 of 6 at that hour)"
    )


def test_same_hour_is_the_hour_on_the_services_clock() -> None:
    """A nightly job at 03:10 Berlin time pages on six nights around the spring change of
    2027-03-28 (02:10 UTC before it, 01:10 UTC after): on Berlin's clock one hour holds
    all six; in UTC no hour holds most of them, and the suggestion was another."""
    berlin = LocalTime("Europe/Berlin")
    zone = ZoneInfo("Europe/Berlin")
    nights = [datetime(2027, 3, 25 + k, 3, 10, tzinfo=zone).timestamp() for k in range(6)]
    alerts = [alert(i, s) for i, s in enumerate(nights)]
    until = nights[-1] + DAY
    (group,) = audit_report(alerts, until, clock_of=lambda service: berlin).groups
    assert group.suggestion == (
        "a maintenance window or silence at 03:00-04:00 Europe/Berlin (6 of 6 at that hour)"
    )
    (group,) = audit_report(alerts, until).groups
    assert group.suggestion is not None and "maintenance window" not in group.suggestion


def test_blips_suggest_a_for() -> None:
    alerts = [alert(i, T0 + i * 7 * H, ends_at=T0 + i * 7 * H + 240) for i in range(4)]
    alerts += [alert(9, T0 + 5 * DAY + 5 * H), alert(10, T0 + 6 * DAY + 9 * H)]
    (group,) = audit_report(alerts, UNTIL).groups
    assert group.suggestion == "add for: 10m (4 of 6 resolved within 5 minutes)"


def test_rule_alerts_and_a_threshold_at_its_ceiling() -> None:
    rule = [
        alert(i, T0 + i * 7 * H, source="rule", alertname="cpu-high", helpful=False)
        for i in range(3)
    ]
    assert suggest(rule, None) == "raise the rule's threshold (3 of 3 marked not helpful)"
    # Rule groups never get the anomaly threshold, even with a lookup.
    (group,) = audit_report(rule, UNTIL, threshold_of=lambda s, m: 0.9).groups
    assert group.suggestion == "raise the rule's threshold (3 of 3 marked not helpful)"
    high = [alert(i, T0 + i * 7 * H, helpful=False, score=0.995) for i in range(3)]
    assert suggest(high, 0.99) == "move to assistive mode (nobody acknowledged 3 of 3)"
