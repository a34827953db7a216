"""SLO burn-rate alerts: a total outage pages fast, a slow burn only opens a ticket."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from anomalert.alert.rules import RuleEngine, RulesConfig
from anomalert.alert.slo import SloConfig
from anomalert.model import Alert, Sample

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % DAY)

AVAILABILITY = {
    "name": "checkout-availability",
    "service": "checkout",
    "objective": 0.999,
    "errors": "http_errors",
    "total": "http_requests",
    "runbook_url": "https://rb/slo",
}


def run(
    engine: RuleEngine,
    start: float,
    end: float,
    bad_fraction: Callable[[float], float],
    every: float = MIN,
) -> list[tuple[float, Alert]]:
    """1,000 requests a minute (errors and totals as two series), evaluated each ``every``."""
    out: list[tuple[float, Alert]] = []
    for i in range(round((end - start) / MIN)):
        t = start + i * MIN
        total = 1000.0
        labels = {"service": "checkout", "instance": "a"}
        engine.observe(Sample("http_requests", labels, t, total))
        engine.observe(Sample("http_errors", labels, t, total * bad_fraction(t)))
        if i % round(every / MIN) == 0:
            out += [(t, a) for a in engine.evaluate(t)]
    return out


def test_a_total_outage_pages_within_five_minutes_and_resolves_after_it() -> None:
    engine = RuleEngine(RulesConfig.model_validate({"slos": [AVAILABILITY]}))
    outage = (T0 + DAY, T0 + DAY + 30 * MIN)

    def bad(t: float) -> float:
        return 1.0 if outage[0] <= t < outage[1] else 0.0

    events = run(engine, T0, T0 + DAY + 2 * HOUR, bad)
    pages = [(t, a) for t, a in events if a.labels["slo_action"] == "page"]
    first_t, first = pages[0]
    assert outage[0] <= first_t <= outage[0] + 5 * MIN
    assert first.status == "firing" and first.severity == "P1"
    assert first.labels == {
        "alertname": "checkout-availability",
        "service": "checkout",
        "slo": "checkout-availability",
        "slo_action": "page",
        "burn_window": "1h/5m",
        "severity": "P1",
    }
    assert float(first.annotations["burn_rate_short"]) >= 14.4
    assert first.annotations["window_long"] == "1h" and first.annotations["window_short"] == "5m"
    assert first.annotations["runbook_url"] == "https://rb/slo"
    assert "burning its error budget" in first.annotations["summary"]
    # each page tier resolves once its short window is calm again, and not before
    resolved = {a.labels["burn_window"]: t for t, a in events if a.status == "resolved"}
    assert outage[1] < resolved["1h/5m"] <= outage[1] + 5 * MIN
    assert outage[1] + 5 * MIN < resolved["6h/30m"] <= outage[1] + 30 * MIN
    assert all(t >= outage[0] for t, _ in events)  # nothing on the healthy day


def test_a_slow_burn_opens_a_ticket_and_never_pages() -> None:
    engine = RuleEngine(RulesConfig.model_validate({"slos": [AVAILABILITY]}))
    start_burn = T0 + DAY

    def bad(t: float) -> float:
        return 0.002 if t >= start_burn else 0.0  # burn rate 2: the month's budget in 15 days

    events = run(engine, T0, T0 + 3 * DAY, bad, every=5 * MIN)
    assert [(a.labels["slo_action"], a.status, a.severity) for _, a in events] == [
        ("ticket", "firing", "P2")
    ]
    t, ticket = events[0]
    # The 3-day window burns 1x once errors cover half of the data seen: a day after the start.
    assert start_burn + DAY - 10 * MIN <= t <= start_burn + DAY + 10 * MIN
    assert ticket.labels["burn_window"] == "3d/6h"
    assert float(ticket.annotations["burn_rate_short"]) == pytest.approx(2.0)


def test_error_ratio_slo_and_an_overridden_window_table() -> None:
    slo = {
        "name": "login-errors",
        "service": "login",
        "objective": 0.99,
        "error_ratio": "error_ratio",
        "windows": [{"long": "10m", "short": "2m", "burn_rate": 5, "severity": "P2"}],
    }
    engine = RuleEngine(RulesConfig.model_validate({"slos": [slo]}))
    out: list[tuple[float, Alert]] = []
    for i in range(40):
        t = T0 + i * MIN
        ratio = 0.2 if 20 <= i < 25 else 0.001
        for instance in ("a", "b"):
            engine.observe(Sample("error_ratio", {"service": "login", "pod": instance}, t, ratio))
        engine.observe(Sample("error_ratio", {"service": "other"}, t, 1.0))  # not this SLO
        out += [(t, a) for a in engine.evaluate(t)]
    # burn 5 on a 99 % objective is an error ratio of 0.05. The 10-minute window gets there
    # with the third bad minute: (3 * 0.2 + 7 * 0.001) / 10 = 0.061 (two give 0.041).
    # Minute 26: the 2-minute window (25, 26) is calm again: resolves.
    assert [(t, a.status, a.severity) for t, a in out] == [
        (T0 + 22 * MIN, "firing", "P2"),
        (T0 + 26 * MIN, "resolved", "P2"),
    ]
    assert out[0][1].labels["burn_window"] == "10m/2m"


def test_slo_config_is_validated() -> None:
    base = {"name": "s", "service": "x", "objective": 0.999}
    with pytest.raises(ValidationError, match="either errors and total"):
        SloConfig.model_validate(base)
    with pytest.raises(ValidationError, match="either errors and total"):
        SloConfig.model_validate({**base, "errors": "e", "error_ratio": "r", "total": "t"})
    with pytest.raises(ValidationError, match="either errors and total"):
        SloConfig.model_validate({**base, "errors": "e"})
    with pytest.raises(ValidationError, match="shorter than long"):
        SloConfig.model_validate(
            {**base, "error_ratio": "r", "windows": [{"long": "5m", "short": "1h", "burn_rate": 2}]}
        )
    ok = SloConfig.model_validate({**base, "error_ratio": "r"})
    assert [w.tier for w in ok.windows] == ["1h/5m", "6h/30m", "3d/6h"]


def test_slo_state_survives_a_restart_mid_outage() -> None:
    cfg = RulesConfig.model_validate({"slos": [AVAILABILITY]})
    engine = RuleEngine(cfg)
    outage_start = T0 + 2 * HOUR

    def bad(t: float) -> float:
        return 1.0 if outage_start <= t < outage_start + 20 * MIN else 0.0

    before = run(engine, T0, outage_start + 10 * MIN, bad)
    fired = {a.labels["burn_window"]: a for _, a in before if a.status == "firing"}
    assert "1h/5m" in fired
    restarted = RuleEngine(cfg)
    restarted.restore(engine.snapshot())
    after = run(restarted, outage_start + 10 * MIN, outage_start + 40 * MIN, bad)
    assert not any(a.status == "firing" for _, a in after)  # no second page after restart
    [resolved] = [a for _, a in after if a.labels["burn_window"] == "1h/5m"]
    assert resolved.status == "resolved"
    assert resolved.fingerprint == fired["1h/5m"].fingerprint
    assert resolved.starts_at == fired["1h/5m"].starts_at
