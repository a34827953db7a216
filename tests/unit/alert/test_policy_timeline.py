"""The alert policy on explicit timelines: for, hysteresis, resolve, stale, severity, hold."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from anomalert.alert.policy import AlertPolicy, MetricPolicy, ServicePolicy
from anomalert.model import Alert, Kind, Scored, fingerprint

MIN = 60.0
T0 = 1_700_000_000.0


def point(
    minute: float,
    score: float,
    service: str = "checkout",
    metric: str = "latency_p99_ms",
    kind: Kind = Kind.SPIKE,
    extra: dict[str, str] | None = None,
) -> Scored:
    value = 210.0 + 1000.0 * max(0.0, score - 0.5)
    labels = {"service": service, **(extra or {})}
    return Scored(
        series=fingerprint({**labels, "__name__": metric}),
        metric=metric,
        labels=labels,
        timestamp=T0 + minute * MIN,
        value=value,
        score=score,
        kind=kind,
        expected=210.0,
        lower=150.0,
        upper=270.0,
        reason=f"{metric} {value:.0f} ms, far above the usual 210 ms (score {score})",
    )


def at(minute: float) -> float:
    return T0 + minute * MIN


def feed(policy: AlertPolicy, points: list[Scored]) -> list[tuple[float, Alert]]:
    """Observe each point at its own time and tick right after; collect the transitions."""
    out: list[tuple[float, Alert]] = []
    for p in points:
        now = p.timestamp
        out += [(now, a) for a in policy.observe(p, now)]
        out += [(now, a) for a in policy.tick(now)]
    return out


def test_a_spike_fires_on_its_first_point_with_the_documented_shape() -> None:
    policy = AlertPolicy(
        {
            "checkout": ServicePolicy(
                notify_after=0,
                runbook_url="https://runbooks.example/checkout",
                labels={"team": "payments", "env": "prod"},
            )
        }
    )
    assert policy.observe(point(0, 0.5), at(0)) == []
    [alert] = policy.observe(point(1, 0.96, extra={"region": "eu"}), at(1))
    identity = {
        "alertname": "Anomaly",
        "service": "checkout",
        "metric": "latency_p99_ms",
        "region": "eu",
    }
    assert alert.fingerprint == fingerprint(identity)
    assert alert.labels == {
        **identity,
        "team": "payments",
        "env": "prod",
        "severity": "P2",
        "kind": "spike",
    }
    assert alert.status == "firing" and alert.ends_at is None
    assert alert.starts_at == at(1) and alert.updated_at == at(1)
    assert alert.score == 0.96 and alert.severity == "P2"
    assert alert.mode == "alerting" and alert.source == "anomaly"
    notes = alert.annotations
    assert notes["summary"].startswith("latency_p99_ms 670 ms, far above the usual 210 ms")
    assert notes["runbook_url"] == "https://runbooks.example/checkout"
    assert (notes["value"], notes["expected"], notes["lower"], notes["upper"]) == (
        "670",
        "210",
        "150",
        "270",
    )
    assert notes["kind"] == "spike" and "flapping" not in notes
    assert [a.fingerprint for a in policy.active()] == [alert.fingerprint]


def test_for_waits_on_sample_time_and_a_dip_starts_over() -> None:
    policy = AlertPolicy({}, default=ServicePolicy.model_validate({"for": "5m", "notify_after": 0}))
    # 0-1 over threshold, 2 dips, 3.. over again: the 5 minutes count from minute 3.
    points = [point(0, 0.95), point(1, 0.95), point(2, 0.6)]
    points += [point(m, 0.95) for m in range(3, 12)]
    fired = [(now, a) for now, a in feed(policy, points) if a.status == "firing"]
    assert [now for now, _ in fired] == [at(8)]
    assert fired[0][1].starts_at == at(3)


def test_hysteresis_keeps_the_alert_open_between_threshold_minus_hysteresis_and_threshold() -> None:
    # threshold 0.90, hysteresis 0.2, resolve_after 10m
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0))
    points = [point(0, 0.95)]
    points += [point(m, 0.75) for m in range(1, 21)]  # under 0.90, over 0.70: still abnormal
    points += [point(m, 0.3) for m in range(21, 40)]
    events = feed(policy, points)
    assert [(now, a.status) for now, a in events] == [(at(0), "firing"), (at(30), "resolved")]
    resolved = events[-1][1]
    assert resolved.ends_at == at(30) and resolved.starts_at == at(0)
    assert resolved.fingerprint == events[0][1].fingerprint
    assert policy.active() == []


def test_resolve_after_counts_calm_time_on_the_tick_clock() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0, resolve_after=600))
    assert len(policy.observe(point(0, 0.97), at(0))) == 1
    assert policy.observe(point(1, 0.2), at(1)) == []  # calm data arrived
    assert policy.tick(at(9.9)) == []
    [resolved] = policy.tick(at(10))
    assert resolved.status == "resolved" and resolved.ends_at == at(10)
    assert "stale" not in resolved.annotations
    assert policy.tick(at(11)) == []


def test_a_series_that_goes_silent_resolves_as_stale_not_as_calm() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0, stale_after=1800))
    policy.observe(point(0, 0.97), at(0))
    assert policy.tick(at(10)) == []  # no calm points: silence is not recovery
    assert policy.tick(at(29.9)) == []
    [resolved] = policy.tick(at(30))
    assert resolved.status == "resolved" and resolved.annotations["stale"] == "true"
    # a pending episode (waiting for `for`) is forgotten the same way, without a transition
    slow = AlertPolicy({}, default=ServicePolicy.model_validate({"for": "10m", "notify_after": 0}))
    assert slow.observe(point(0, 0.97), at(0)) == []
    assert slow.tick(at(31)) == []
    assert slow.observe(point(32, 0.97), at(32)) == []  # `for` starts again from 32
    assert slow.observe(point(41, 0.97), at(41)) == []
    assert len(slow.observe(point(42, 0.97), at(42))) == 1


def test_a_louder_score_updates_the_same_alert_and_a_quieter_one_does_not() -> None:
    # medium criticality: P3 < 0.95 <= P2 < 0.995 <= P1
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0))
    [first] = policy.observe(point(0, 0.92), at(0))
    assert first.severity == "P3"
    [p2] = policy.observe(point(1, 0.96, kind=Kind.LEVEL_SHIFT), at(1))
    assert policy.observe(point(2, 0.955), at(2)) == []  # same severity: no transition
    assert policy.observe(point(3, 0.97), at(3)) == []  # louder score, same severity
    [p1] = policy.observe(point(4, 0.999), at(4))
    assert (p2.severity, p1.severity) == ("P2", "P1")
    assert first.fingerprint == p2.fingerprint == p1.fingerprint
    assert p2.starts_at == p1.starts_at == at(0)
    assert p2.labels["kind"] == "level shift" and p2.labels["severity"] == "P2"
    assert p1.score == 0.999 and "score 0.999" in p1.annotations["summary"]
    assert p1.updated_at == at(4)


def test_a_hold_suppresses_new_alerts_only() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0))
    window = "maintenance window of db until 03:00"
    [open_] = policy.observe(point(0, 0.95, metric="cpu"), at(0))
    # during the window: a new anomaly on another metric opens nothing ...
    for m in range(1, 6):
        assert policy.observe(point(m, 0.99), at(m), hold=window) == []
    # ... while the alert already firing carries on (and still gets louder)
    louder = policy.observe(point(6, 0.999, metric="cpu"), at(6), hold=window)
    assert [a.fingerprint for a in louder] == [open_.fingerprint]
    assert [a.labels["metric"] for a in policy.active()] == ["cpu"]
    # after the window the same deviation fires at once
    [after] = policy.observe(point(7, 0.99), at(7))
    assert after.labels["metric"] == "latency_p99_ms" and after.starts_at == at(7)


def test_metric_overrides_and_runtime_thresholds() -> None:
    service = ServicePolicy.model_validate(
        {
            "criticality": "medium",
            "notify_after": 0,
            "runbook_url": "https://runbooks.example/svc",
            "metrics": {
                "cpu": {"threshold": 0.99, "criticality": "high", "runbook_url": "https://rb/cpu"},
                "disk": {"disabled": True},
                "memory": {"for": "2m"},
            },
        }
    )
    policy = AlertPolicy({"checkout": service})
    assert policy.observe(point(0, 0.95, metric="cpu"), at(0)) == []
    [cpu] = policy.observe(point(1, 0.995, metric="cpu"), at(1))
    assert cpu.severity == "P1"  # high criticality pages from 0.97
    assert cpu.annotations["runbook_url"] == "https://rb/cpu"
    assert policy.observe(point(1, 0.9999, metric="disk"), at(1)) == []
    assert policy.observe(point(0, 0.95, metric="memory"), at(0)) == []
    assert len(policy.observe(point(2, 0.95, metric="memory"), at(2))) == 1
    [lat] = policy.observe(point(1, 0.95), at(1))
    assert lat.annotations["runbook_url"] == "https://runbooks.example/svc"

    policy.set_threshold("checkout", "errors", 0.99)
    assert policy.threshold("checkout", "errors") == 0.99
    assert policy.observe(point(3, 0.95, metric="errors"), at(3)) == []
    policy.set_threshold("checkout", "errors", None)
    assert policy.threshold("checkout", "errors") == 0.90
    assert len(policy.observe(point(4, 0.95, metric="errors"), at(4))) == 1
    with pytest.raises(ValueError, match="outside"):
        policy.set_threshold("checkout", "errors", 0.2)


def test_mode_is_carried_and_unknown_services_use_the_default() -> None:
    policy = AlertPolicy(
        {"checkout": ServicePolicy(notify_after=0, mode="shadow")},
        default=ServicePolicy(notify_after=0, mode="assistive", criticality="high"),
    )
    [shadow] = policy.observe(point(0, 0.95), at(0))
    [other] = policy.observe(point(0, 0.95, service="billing"), at(0))
    assert shadow.mode == "shadow"
    assert other.mode == "assistive" and other.severity == "P2"


def test_config_is_strict_and_validated() -> None:
    with pytest.raises(ValidationError, match="threshold"):
        ServicePolicy.model_validate({"threshold": 1.5})
    with pytest.raises(ValidationError, match="treshold"):
        MetricPolicy.model_validate({"treshold": 0.9})
    eff = ServicePolicy.model_validate({"for": "1m", "metrics": {"x": {"for": 30}}})
    assert eff.effective("x").for_ == 30.0 and eff.effective("y").for_ == 60.0


def test_snapshot_and_restore_mid_episode_continue_the_same_alert() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0))
    [first] = policy.observe(point(0, 0.92), at(0))
    policy.observe(point(1, 0.8), at(1))
    policy.set_threshold("checkout", "cpu", 0.97)
    blob = policy.snapshot()

    restarted = AlertPolicy({}, default=ServicePolicy(notify_after=0))
    restarted.restore(blob)
    assert restarted.threshold("checkout", "cpu") == 0.97
    assert [a.fingerprint for a in restarted.active()] == [first.fingerprint]
    [louder] = restarted.observe(point(2, 0.96), at(2))
    assert louder.fingerprint == first.fingerprint and louder.starts_at == at(0)
    assert louder.status == "firing" and louder.severity == "P2"
    restarted.observe(point(3, 0.1), at(3))
    [resolved] = restarted.tick(at(12))
    assert resolved.fingerprint == first.fingerprint and resolved.starts_at == at(0)


def test_a_blip_stays_on_the_dashboard_and_a_lasting_anomaly_notifies_after_notify_after() -> None:
    policy = AlertPolicy({"checkout": ServicePolicy(criticality="high")})  # notify_after 3m
    # A one-point blip: fires as P3 (dashboard only), never louder, resolves quietly.
    blip = feed(policy, [point(0, 0.5), point(1, 0.999), *(point(m, 0.3) for m in range(2, 14))])
    assert [(a.status, a.severity) for _, a in blip] == [("firing", "P3"), ("resolved", "P3")]
    # A lasting anomaly: P3 at once, then the same alert becomes P1 three minutes in.
    later = feed(policy, [point(m, 0.999) for m in range(20, 26)])
    assert [(now, a.status, a.severity) for now, a in later] == [
        (at(20), "firing", "P3"),
        (at(23), "firing", "P1"),
    ]
    assert later[0][1].fingerprint == later[1][1].fingerprint


def _pt(minute: float, score: float, value: float, expected: float = 210.0) -> Scored:
    return Scored(
        series="s",
        metric="latency_p99_ms",
        labels={"service": "checkout"},
        timestamp=at(minute),
        value=value,
        score=score,
        kind=Kind.SPIKE if value >= expected else Kind.DROP,
        expected=expected,
        lower=expected * 0.7,
        upper=expected * 1.3,
        reason="r",
    )


def test_an_accepted_level_keeps_the_page_open_until_the_value_comes_back() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0, keep_open_for=7200))
    # Spike to 1000 (band 147..273); after 30 points the engine's scores fall although the
    # value stays at 1000: the alert stays open. Back at 210, the engine sees a "drop" from
    # its new level (high score, opposite side, inside the old band): that is the recovery.
    points = [_pt(m, 0.99, 1000.0) for m in range(0, 30)]
    points += [_pt(m, 0.2, 1000.0, expected=990.0) for m in range(30, 60)]
    points += [_pt(m, 0.99, 210.0, expected=990.0) for m in range(60, 75)]
    got = [(now, a.status) for now, a in feed(policy, points)]
    assert got[0] == (at(0), "firing")
    assert got[1][1] == "resolved" and at(69) <= got[1][0] <= at(70)  # 10 calm minutes
    assert len(got) == 2


def test_a_new_level_that_lasts_past_keep_open_for_resolves_as_new_normal() -> None:
    policy = AlertPolicy({}, default=ServicePolicy(notify_after=0, keep_open_for=3600))
    points = [_pt(m, 0.99, 1000.0) for m in range(0, 30)]
    points += [_pt(m, 0.2, 1000.0, expected=990.0) for m in range(30, 90)]
    got = [(now, a.status) for now, a in feed(policy, points)]
    assert [s for _, s in got] == ["firing", "resolved"]
    assert at(60) <= got[1][0] <= at(71)
