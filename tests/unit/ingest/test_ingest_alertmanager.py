"""Alerts posted in Alertmanager's API v2 format, and their conversion to pipeline alerts."""

from __future__ import annotations

from typing import Any

import pytest

from anomalert.errors import FieldError
from anomalert.ingest.alertmanager import ExternalAlert, parse_alertmanager_alerts, to_alert
from anomalert.ingest.samples import Rejection
from anomalert.model import fingerprint

NOW = 1_767_623_280.0  # 2026-01-05T14:28:00Z


def alert(**overrides: Any) -> dict[str, Any]:
    """What Prometheus 2.x sends for a firing rule (endsAt is 4 evaluation intervals ahead)."""
    item: dict[str, Any] = {
        "labels": {"alertname": "HighLatency", "job": "checkout", "severity": "critical"},
        "annotations": {"summary": "p99 above 800 ms", "runbook_url": "https://rb/latency"},
        "startsAt": "2026-01-05T14:20:00.123456789Z",
        "endsAt": "2026-01-05T14:32:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not ...}


def test_a_firing_alert_from_prometheus() -> None:
    (ext,), rejected = parse_alertmanager_alerts([alert()], NOW)
    assert rejected == []
    assert ext.labels == {"alertname": "HighLatency", "job": "checkout", "severity": "critical"}
    assert ext.starts_at == pytest.approx(NOW - 480 + 0.123456789)
    assert ext.ends_at == NOW + 240
    assert ext.generator_url == "http://prometheus:9090/graph?g0.expr=x"
    assert not ext.resolved()

    firing = to_alert(ext)
    assert firing.status == "firing"
    assert firing.ends_at is None
    assert firing.severity == "P1"
    assert firing.labels == {
        "alertname": "HighLatency",
        "job": "checkout",
        "severity": "P1",
        "service": "checkout",
    }
    assert firing.fingerprint == fingerprint(ext.labels)
    assert firing.annotations["runbook_url"] == "https://rb/latency"
    assert firing.annotations["summary"] == "p99 above 800 ms"
    # kept for the notifications' generatorURL, instead of a link to our dashboard
    assert firing.annotations["generator_url"] == "http://prometheus:9090/graph?g0.expr=x"
    assert (firing.source, firing.mode, firing.updated_at) == ("external", "alerting", NOW)


def test_an_end_time_in_the_past_resolves_and_keeps_the_fingerprint() -> None:
    (firing,), _ = parse_alertmanager_alerts([alert()], NOW)
    (ext,), _ = parse_alertmanager_alerts([alert(endsAt="2026-01-05T14:27:00Z")], NOW)
    assert ext.resolved()
    resolved = to_alert(ext, mode="shadow")
    assert (resolved.status, resolved.ends_at, resolved.mode) == ("resolved", NOW - 60, "shadow")
    assert resolved.fingerprint == to_alert(firing).fingerprint


def test_status_is_judged_at_the_clock_given() -> None:
    (ext,), _ = parse_alertmanager_alerts([alert()], NOW)  # endsAt NOW + 240
    later = to_alert(ext, now=NOW + 240)
    assert (later.status, later.ends_at, later.updated_at) == ("resolved", NOW + 240, NOW + 240)
    sooner = to_alert(ext, now=NOW + 239)
    assert (sooner.status, sooner.ends_at, sooner.updated_at) == ("firing", None, NOW + 239)


def test_a_firing_alert_expires_at_its_end_or_a_resolve_timeout_after_it_was_sent() -> None:
    """As Alertmanager: not sent again by then, it resolves (``alert.external``)."""
    (ext,), _ = parse_alertmanager_alerts([alert()], NOW)  # endsAt NOW + 240
    assert to_alert(ext).expires_at == NOW + 240
    assert to_alert(ext, now=NOW + 240).expires_at is None  # resolved
    open_ended = without_start()
    assert to_alert(open_ended, now=NOW + 30).expires_at == NOW + 30 + 300
    assert to_alert(open_ended, resolve_timeout=60).expires_at == NOW + 60
    assert to_alert(without_start(NOW - 10)).expires_at is None


def test_missing_or_zero_times_mean_now_and_open_ended() -> None:
    items = [
        alert(startsAt=..., endsAt=...),
        alert(startsAt="0001-01-01T00:00:00Z", endsAt="0001-01-01T00:00:00Z"),
    ]
    accepted, rejected = parse_alertmanager_alerts(items, NOW)
    assert rejected == []
    assert [(a.starts_at, a.ends_at, a.start_given) for a in accepted] == [
        (NOW, None, False),
        (NOW, None, False),
    ]
    assert to_alert(accepted[0]).status == "firing"
    assert parse_alertmanager_alerts([alert()], NOW)[0][0].start_given


def without_start(ends_at: float | None = None, now: float = NOW) -> ExternalAlert:
    item = alert(startsAt=..., endsAt=... if ends_at is None else ends_at)
    (ext,), rejected = parse_alertmanager_alerts([item], now)
    assert rejected == []
    return ext


def test_a_resend_without_start_continues_the_firing_episode() -> None:
    """Alertmanager keeps one alert per fingerprint while it fires; stored by fingerprint
    and start, "now" for each re-send was a new alert every minute."""
    started = NOW - 600
    again = to_alert(without_start(NOW + 240), latest=(started, None))
    assert (again.status, again.starts_at, again.ends_at) == ("firing", started, None)
    assert again.annotations["summary"] == "p99 above 800 ms"
    fresh = to_alert(without_start(NOW + 240), latest=None)
    assert (fresh.status, fresh.starts_at, fresh.ends_at) == ("firing", NOW, None)


def test_a_resolve_without_start_ends_the_firing_episode() -> None:
    started = NOW - 600
    ext = without_start(NOW - 10)  # before the arrival: no longer refused as before startsAt
    resolved = to_alert(ext, latest=(started, None))
    assert (resolved.status, resolved.starts_at, resolved.ends_at) == (
        "resolved",
        started,
        NOW - 10,
    )
    # sent again, later: the same episode, its end kept
    again = to_alert(without_start(NOW - 10, now=NOW + 60), latest=(started, NOW - 10))
    assert (again.status, again.starts_at, again.ends_at) == ("resolved", started, NOW - 10)
    late = to_alert(without_start(NOW - 30, now=NOW + 60), latest=(started, NOW - 10))
    assert (late.starts_at, late.ends_at) == (started, NOW - 10)


def test_without_start_after_the_episode_ended_is_a_new_episode() -> None:
    ended = (NOW - 600, NOW - 300)
    firing = to_alert(without_start(NOW + 240), latest=ended)
    assert (firing.status, firing.starts_at, firing.ends_at) == ("firing", NOW, None)
    resolve = to_alert(without_start(NOW - 60), latest=ended)  # ends after the episode did
    assert (resolve.status, resolve.starts_at, resolve.ends_at) == ("resolved", NOW - 60, NOW - 60)
    nothing = to_alert(without_start(NOW - 60), latest=None)  # Alertmanager: starts at its end
    assert (nothing.starts_at, nothing.ends_at) == (NOW - 60, NOW - 60)


def test_an_alert_with_its_start_keeps_it_whatever_is_stored() -> None:
    (ext,), _ = parse_alertmanager_alerts([alert()], NOW)
    assert to_alert(ext, latest=(NOW - 9000, None)).starts_at == ext.starts_at


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("critical", "P1"), ("warning", "P2"), ("info", "P3"), ("P3", "P3"), ("p1", "P1")],
)
def test_severity_labels_map_to_ours(severity: str, expected: str) -> None:
    labels = {"alertname": "A", "service": "api", "severity": severity}
    (ext,), _ = parse_alertmanager_alerts([alert(labels=labels)], NOW)
    assert to_alert(ext).severity == expected


def test_unknown_or_missing_severity_takes_the_default() -> None:
    ext = ExternalAlert({"alertname": "A", "severity": "page"}, {}, NOW, None, "", NOW)
    assert to_alert(ext, default_severity="P3").severity == "P3"
    bare = ExternalAlert({"alertname": "A", "service": "api"}, {}, NOW, None, "", NOW)
    converted = to_alert(bare)
    assert converted.severity == "P2"
    assert converted.labels == {"alertname": "A", "service": "api", "severity": "P2"}


def test_a_description_stands_in_for_a_missing_summary() -> None:
    ext = ExternalAlert({"alertname": "A"}, {"description": "disk full"}, NOW, None, "", NOW)
    assert to_alert(ext).annotations == {"description": "disk full", "summary": "disk full"}


def test_empty_label_values_are_absent_labels() -> None:
    labels = {"alertname": "A", "service": "api", "team": ""}
    (ext,), _ = parse_alertmanager_alerts([alert(labels=labels)], NOW)
    assert ext.labels == {"alertname": "A", "service": "api"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"labels": ...}, "alerts[1].labels: required"),
        ({"labels": {}}, "alerts[1].labels: must not be empty"),
        ({"labels": {"alertname": ""}}, "alerts[1].labels: must not be empty"),
        ({"labels": {"job": "x"}}, "alerts[1].labels.alertname: required"),
        ({"labels": {"alertname": "A", "x-y": "1"}}, "alerts[1].labels.x-y: is not a label name"),
        ({"annotations": {"summary": 3}}, "alerts[1].annotations.summary: must be a string"),
        (
            {"labels": {"alertname": "A", "service": "d\x00b"}},
            "alerts[1].labels.service: must not contain control characters (got \\x00 at "
            "character 2)",
        ),
        (
            {"labels": {"alertname": "Disk\nFull"}},
            "alerts[1].labels.alertname: must not contain control characters (got \\n",
        ),
        (
            {"annotations": {"summary": "disk\x00"}},
            "alerts[1].annotations.summary: must not contain control characters other than "
            "line breaks and tabs (got \\x00 at character 5)",
        ),
        (
            {"annotations": {"description": "a\x1b[2Jb"}},
            "alerts[1].annotations.description: must not contain control characters other",
        ),
        ({"startsAt": "yesterday"}, "alerts[1].startsAt: is not an RFC 3339 timestamp"),
        ({"endsAt": "2026-01-05T14:00:00Z"}, "alerts[1].endsAt: before startsAt"),
        ({"generatorURL": 5}, "alerts[1].generatorURL: must be a string (got 5)"),
        (
            {"generatorURL": "http://prom/\x00"},
            "alerts[1].generatorURL: must not contain control characters (got \\x00",
        ),
        ({"status": "firing"}, "alerts[1].status: unknown key (expected labels, annotations,"),
    ],
)
def test_each_problem_names_its_field(overrides: dict[str, Any], message: str) -> None:
    accepted, rejected = parse_alertmanager_alerts([alert(), alert(**overrides)], NOW)
    assert len(accepted) == 1
    assert [r.index for r in rejected] == [1]
    assert rejected[0].error.startswith(message)


def test_annotations_keep_line_breaks_and_tabs() -> None:
    """A description written in a rule file over several lines, as Prometheus sends it."""
    text = "Disk of db-1 is 97% full.\n\tFree space: 3 GB\r\nRunbook below."
    (ext,), rejected = parse_alertmanager_alerts([alert(annotations={"description": text})], NOW)
    assert rejected == [] and ext.annotations == {"description": text}


def test_a_non_object_alert_is_rejected() -> None:
    assert parse_alertmanager_alerts(["x"], NOW) == (
        [],
        [Rejection(0, 'alerts[0]: must be an object (got "x")')],
    )


@pytest.mark.parametrize("body", [alert(), {"alerts": []}, None])
def test_the_body_must_be_a_list(body: object) -> None:
    with pytest.raises(FieldError, match="alerts: the body must be a list of alerts"):
        parse_alertmanager_alerts(body, NOW)
