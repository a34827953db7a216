"""Flapping: a signal that keeps firing and resolving is held open as one alert."""

from __future__ import annotations

from anomalert.alert.flapping import FlapCounter, FlappingConfig
from anomalert.alert.policy import AlertPolicy, ServicePolicy
from anomalert.model import Alert, Kind, Scored

MIN = 60.0
T0 = 1_700_000_000.0


def point(minute: float, score: float) -> Scored:
    return Scored(
        series="checkout/errors",
        metric="error_rate",
        labels={"service": "checkout"},
        timestamp=T0 + minute * MIN,
        value=score if score >= 0.5 else 0.01,  # calm points are back inside the band
        score=score,
        kind=Kind.SPIKE,
        expected=0.01,
        lower=0.0,
        upper=0.02,
        reason=f"error_rate {score}",
    )


def at(minute: float) -> float:
    return T0 + minute * MIN


def run(policy: AlertPolicy, abnormal: set[int], minutes: int) -> list[tuple[float, Alert]]:
    """One point a minute (abnormal at the given minutes), a tick after each."""
    out: list[tuple[float, Alert]] = []
    for m in range(minutes):
        now = at(m)
        out += [(m, a) for a in policy.observe(point(m, 0.97 if m in abnormal else 0.1), now)]
        out += [(m, a) for a in policy.tick(now)]
    return out


def test_counter_counts_transitions_inside_the_window_only() -> None:
    c = FlapCounter(FlappingConfig(window=600, max_transitions=3))
    assert [c.record("a", t) for t in (0, 100, 200)] == [1, 2, 3]
    assert c.reaches_limit(3) and not c.reaches_limit(2)
    assert c.count("a", 650) == 2 and c.count("b", 650) == 0
    c.forget(10_000)
    assert c.state() == {}


def test_a_flapping_alert_is_held_open_and_released_after_hold_of_calm() -> None:
    policy = AlertPolicy(
        {},
        default=ServicePolicy(notify_after=0, resolve_after=600),
        flapping=FlappingConfig(window=3600, max_transitions=4, hold=1800),
    )
    events = run(policy, abnormal={0, 15, 30}, minutes=90)
    # 0 fires (1), 10 resolves (2), 15 fires (3); the resolve due at 25 would be the 4th
    # transition: held. 30 comes back during the hold: the same alert goes on, no new
    # notification; calm again from 30, the would-be resolve at 40 is held for 30 minutes.
    assert [(m, a.status) for m, a in events] == [
        (0, "firing"),
        (10, "resolved"),
        (15, "firing"),
        (70, "resolved"),
    ]
    last = events[-1][1]
    assert last.annotations["flapping"] == "true"
    assert last.fingerprint == events[2][1].fingerprint and last.starts_at == at(15)
    assert last.ends_at == at(70)


def test_while_held_the_alert_is_active_and_marked_flapping() -> None:
    policy = AlertPolicy({}, flapping=FlappingConfig(max_transitions=4, hold=1800))
    run(policy, abnormal={0, 15}, minutes=27)
    [held] = policy.active()
    assert held.status == "firing" and held.annotations["flapping"] == "true"
    assert held.starts_at == at(15)


def test_only_transitions_inside_the_window_count() -> None:
    policy = AlertPolicy({}, flapping=FlappingConfig(window=3600, max_transitions=4))
    events = run(policy, abnormal={0, 30}, minutes=60)
    # 0 fires, 10 resolves, 30 fires, 40 would be the 4th transition within the hour: held
    assert [(m, a.status) for m, a in events] == [(0, "firing"), (10, "resolved"), (30, "firing")]
    spaced = AlertPolicy({}, flapping=FlappingConfig(window=1200, max_transitions=4))
    events = run(spaced, abnormal={0, 30}, minutes=60)
    # with a 20-minute window only two transitions are ever in it: nothing is held
    assert [(m, a.status) for m, a in events] == [
        (0, "firing"),
        (10, "resolved"),
        (30, "firing"),
        (40, "resolved"),
    ]
    assert all("flapping" not in a.annotations for _, a in events)


def test_flap_history_survives_a_restart() -> None:
    flapping = FlappingConfig(window=3600, max_transitions=4, hold=1800)
    policy = AlertPolicy({}, flapping=flapping)
    run(policy, abnormal={0, 15}, minutes=20)
    restarted = AlertPolicy({}, flapping=flapping)
    restarted.restore(policy.snapshot())
    held = []
    for m in range(20, 55):
        restarted.observe(point(m, 0.1), at(m))
        held += restarted.tick(at(m))
    assert held == []  # the resolve due at 25 is held for 30 minutes
    [resolved] = restarted.tick(at(55))
    assert resolved.annotations["flapping"] == "true" and resolved.starts_at == at(15)
