"""Rules beside the ML on explicit timelines: static, dynamic and week-over-week."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from anomalert.alert.rules import RuleEngine, RulesConfig
from anomalert.detect.localtime import LocalTime
from anomalert.model import Alert, Sample, fingerprint

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
T0 = 1_699_920_000.0  # a Tuesday 00:00 UTC


def run(
    engine: RuleEngine,
    metric: str,
    labels: dict[str, str],
    start: float,
    end: float,
    step: float,
    value: Callable[[float], float],
) -> list[tuple[float, Alert]]:
    """A sample every ``step`` seconds, an evaluation right after each."""
    out: list[tuple[float, Alert]] = []
    n = round((end - start) / step)
    for i in range(n):
        t = start + i * step
        engine.observe(Sample(metric, labels, t, value(t)))
        out += [(t, a) for a in engine.evaluate(t)]
    return out


def config(**rules: object) -> RulesConfig:
    return RulesConfig.model_validate(rules)


CPU = {"service": "checkout", "instance": "a"}


def test_static_rule_fires_after_for_and_resolves_on_the_first_good_sample() -> None:
    engine = RuleEngine(
        config(
            static=[
                {
                    "name": "cpu-high",
                    "metric": "cpu",
                    "labels": {"service": "checkout"},
                    "op": ">",
                    "value": 0.9,
                    "for": "5m",
                    "runbook_url": "https://rb/cpu",
                }
            ]
        )
    )

    def cpu(t: float) -> float:
        return 0.95 if T0 + 10 * MIN <= t < T0 + 30 * MIN else 0.5

    events = run(engine, "cpu", CPU, T0, T0 + 40 * MIN, MIN, cpu)
    assert [(t, a.status) for t, a in events] == [
        (T0 + 15 * MIN, "firing"),
        (T0 + 30 * MIN, "resolved"),
    ]
    fired, resolved = events[0][1], events[1][1]
    identity = {**CPU, "alertname": "cpu-high", "metric": "cpu"}
    assert fired.fingerprint == resolved.fingerprint == fingerprint(identity)
    assert fired.labels == {**identity, "severity": "P2"}
    assert fired.starts_at == T0 + 10 * MIN and resolved.ends_at == T0 + 30 * MIN
    assert fired.source == "rule" and fired.mode == "alerting"
    assert fired.annotations["summary"] == "cpu 0.95 is above 0.9 for 5m"
    assert fired.annotations["runbook_url"] == "https://rb/cpu"


def test_static_rule_selects_by_labels_and_resolves_a_silent_series() -> None:
    engine = RuleEngine(
        config(
            static=[{"name": "low", "metric": "cpu", "labels": {"service": "x"}, "value": 0.9}],
            stale_after="10m",
        ),
        mode_of=lambda s: "shadow",
    )
    engine.observe(Sample("cpu", {"service": "y"}, T0, 0.99))  # another service
    engine.observe(Sample("mem", {"service": "x"}, T0, 0.99))  # another metric
    assert engine.evaluate(T0) == []
    engine.observe(Sample("cpu", {"service": "x"}, T0, 0.99))
    [fired] = engine.evaluate(T0)
    assert fired.mode == "shadow"
    assert engine.evaluate(T0 + 10 * MIN) == []
    [gone] = engine.evaluate(T0 + 10 * MIN + 1)
    assert gone.status == "resolved" and gone.annotations["stale"] == "true"


def error_rate(spikes: list[tuple[float, float]], level: float = 0.08) -> Callable[[float], float]:
    def f(t: float) -> float:
        if any(a <= t < b for a, b in spikes):
            return level
        return 0.02 + 0.004 * math.sin(2 * math.pi * t / DAY)

    return f


DYNAMIC = {
    "name": "errors-2x",
    "metric": "error_rate",
    "labels": {"service": "checkout"},
    "factor": 2,
    "for": "5m",
    "baseline": "7d",
    "min_history": "1d",
    "runbook_url": "https://rb/errors",
}


def test_dynamic_rule_needs_history_then_fires_on_twice_its_average() -> None:
    engine = RuleEngine(config(dynamic=[DYNAMIC]))
    early = (T0 + 12 * HOUR, T0 + 13 * HOUR)  # before a day of history: no alert
    spike = (T0 + 36 * HOUR, T0 + 36 * HOUR + 20 * MIN)
    events = run(
        engine,
        "error_rate",
        {"service": "checkout"},
        T0,
        T0 + 40 * HOUR,
        2 * MIN,
        error_rate([early, spike]),
    )
    assert [(t, a.status) for t, a in events] == [
        (spike[0] + 6 * MIN, "firing"),  # samples every 2 minutes: the first >= 5m after
        (spike[1], "resolved"),
    ]
    summary = events[0][1].annotations["summary"]
    assert summary.startswith("error_rate 0.08 is ") and "its 7-day average 0.0" in summary
    assert summary.endswith("for 5m")
    ratio = float(summary.split(" is ")[1].split("x")[0])
    assert 3.0 < ratio < 4.5
    assert events[0][1].annotations["runbook_url"] == "https://rb/errors"


def test_dynamic_rule_never_fires_under_its_floor_or_under_the_factor() -> None:
    quiet = RuleEngine(config(dynamic=[{**DYNAMIC, "floor": 0.1}]))
    spike = (T0 + 30 * HOUR, T0 + 31 * HOUR)
    f = error_rate([spike])
    assert run(quiet, "error_rate", {"service": "checkout"}, T0, T0 + 32 * HOUR, 5 * MIN, f) == []
    mild = RuleEngine(config(dynamic=[{**DYNAMIC, "factor": 5}]))
    assert run(mild, "error_rate", {"service": "checkout"}, T0, T0 + 32 * HOUR, 5 * MIN, f) == []


def enrollments(drops: list[tuple[float, float]]) -> Callable[[float], float]:
    def f(t: float) -> float:
        return 30.0 if any(a <= t < b for a, b in drops) else 100.0

    return f


def test_week_over_week_needs_last_week_and_fires_on_a_halving() -> None:
    engine = RuleEngine(
        config(
            week_over_week=[
                {"name": "enrollments-down", "metric": "enrollments", "drop": 0.5, "for": "15m"}
            ]
        )
    )
    early = (T0 + 3 * DAY, T0 + 3 * DAY + 3 * HOUR)  # no data a week before: no alert
    drop = (T0 + WEEK + 10 * HOUR, T0 + WEEK + 13 * HOUR)
    events = run(
        engine,
        "enrollments",
        {"service": "signup"},
        T0,
        T0 + WEEK + 15 * HOUR,
        5 * MIN,
        enrollments([early, drop]),
    )
    # The last hour holds 12 samples; its mean goes under 50 (half of last week's 100) with
    # the 9th sample at 30 (drop + 40m); that must last 15 minutes: fires at drop + 55m.
    # Recovery: the mean is back over 50 with the 4th sample at 100 (end + 15m).
    assert [(t, a.status) for t, a in events] == [
        (drop[0] + 55 * MIN, "firing"),
        (drop[1] + 15 * MIN, "resolved"),
    ]
    fired = events[0][1]
    assert fired.starts_at == drop[0] + 40 * MIN
    assert fired.labels["alertname"] == "enrollments-down" and fired.service == "signup"
    assert "below 100 in the same hour last week for 15m" in fired.annotations["summary"]
    assert fired.annotations["last_week"] == "100"


def test_rule_state_survives_a_restart_mid_episode() -> None:
    cfg = config(dynamic=[DYNAMIC])
    engine = RuleEngine(cfg)
    spike = (T0 + 30 * HOUR, T0 + 31 * HOUR)
    f = error_rate([spike])
    labels = {"service": "checkout"}
    before = run(engine, "error_rate", labels, T0, spike[0] + 30 * MIN, 5 * MIN, f)
    assert [a.status for _, a in before] == ["firing"]

    restarted = RuleEngine(cfg)
    restarted.restore(engine.snapshot())
    assert [a.fingerprint for a in restarted.active()] == [before[0][1].fingerprint]
    after = run(restarted, "error_rate", labels, spike[0] + 30 * MIN, T0 + 32 * HOUR, 5 * MIN, f)
    assert [(t, a.status) for t, a in after] == [(spike[1], "resolved")]
    assert after[0][1].fingerprint == before[0][1].fingerprint
    assert after[0][1].starts_at == before[0][1].starts_at


def test_names_must_be_unique_and_keys_known() -> None:
    rule = {"name": "x", "metric": "m", "value": 1}
    with pytest.raises(ValidationError, match="unique"):
        config(static=[rule], dynamic=[{"name": "x", "metric": "m"}])
    with pytest.raises(ValidationError, match="treshold"):
        config(static=[{**rule, "treshold": 2}])
    assert RuleEngine(config(static=[rule])).metrics == frozenset({"m"})


def test_week_over_week_compares_the_same_hour_on_the_services_clock() -> None:
    """A Berlin shop busy 09:00-17:00 local (1,000 sign-ups an hour, 10 otherwise), across
    the spring change of 2027-03-28. On the shop's clock "the same hour last week" is the
    same local hour, and nothing fires; read in UTC, each closing hour of the week after
    was compared with an open hour of the week before, and the rule fired every evening
    at 17:45 local (the three evenings of this run)."""
    berlin = LocalTime("Europe/Berlin")

    def signups(t: float) -> float:
        hour = ((t + berlin.offset(t)) % DAY) / HOUR
        return 1000.0 if 9 <= hour < 17 else 10.0

    start = datetime(2027, 3, 19, tzinfo=UTC).timestamp()
    rule = {"name": "signups-down", "metric": "signups", "drop": 0.5, "for": "15m"}
    fired = {}
    for name, clock_of in (("local", lambda service: berlin), ("utc", None)):
        engine = RuleEngine(config(week_over_week=[rule]), clock_of=clock_of)
        events = run(
            engine, "signups", {"service": "shop"}, start, start + 12 * DAY, 5 * MIN, signups
        )
        fired[name] = sorted(
            {
                datetime.fromtimestamp(t, UTC).strftime("%m-%d")
                for t, a in events
                if a.status == "firing"
            }
        )
    assert fired["local"] == []
    assert fired["utc"] == ["03-28", "03-29", "03-30"]
