"""The trust loop on a real App: feedback moves thresholds, admins switch modes, and the
store (not an older checkpoint) is what a restart comes back to.

The detector is scripted (a sample's value *is* its score), so each step says exactly
which score the policy sees; everything after the detector is the real app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from anomalert.app import App, EventClock
from anomalert.config import DetectionConfig, parse_config
from anomalert.detect.ensemble import MIN_AGE
from anomalert.detect.localtime import LocalTime
from anomalert.detect.stream import Batch, StreamDetector, series_id
from anomalert.ingest.alertmanager import ExternalAlert
from anomalert.model import Kind, Sample, Scored
from anomalert.store import Store

T0 = 1_767_600_000.0
MIN = 60.0
DAY = 86400.0
LATENCY = ("checkout", "latency")
ERRORS = ("checkout", "errors")
SEARCH = ("search", "latency")


class ScriptedDetector(StreamDetector):
    """Scores each sample with its own value (0..1)."""

    def score(self, samples: Sequence[Sample]) -> Batch:
        out = []
        for s in samples:
            self._ensure(s.metric, s.labels)
            nan = float("nan")
            out.append(
                Scored(
                    series=series_id(s.metric, s.labels),
                    metric=s.metric,
                    labels=dict(s.labels),
                    timestamp=s.timestamp,
                    value=s.value,
                    score=s.value,
                    kind=Kind.SPIKE,
                    expected=0.0,
                    lower=nan,
                    upper=nan,
                    reason=f"scored {s.value}",
                )
            )
        return Batch(out, [], len(samples))


class Harness:
    """An App over a SQLite file with a jsonl receiver, on an event clock."""

    def __init__(self, tmp: Path, config: dict[str, Any] | None = None) -> None:
        self.tmp = tmp
        self.out = tmp / "notifications.jsonl"
        self.config = parse_config(
            {
                "route": {"receiver": "out", "group_wait": "0s", "group_interval": "1m"},
                "receivers": [{"name": "out", "jsonl": {"path": str(self.out)}}],
                **(config or {}),
            }
        )
        self.clock = EventClock(T0)
        self.open()

    def open(self) -> None:
        self.store = Store.open(f"sqlite:///{self.tmp}/anomalert.db")
        self.app = App(self.config, self.store, self.clock)
        self.app.detector = ScriptedDetector()

    def restart(self, checkpoint: bool = False) -> None:
        if checkpoint:
            self.app.checkpoint()
        self.app.http.close()
        self.store.close()
        self.open()

    def step(self, minutes: float, scores: dict[tuple[str, str], float]) -> list[str]:
        """Move to T0 + minutes, ingest one score per series, tick, deliver; the statuses
        of the transitions the ingest produced."""
        t = T0 + minutes * MIN
        self.clock.advance(t)
        samples = [
            Sample(metric=m, labels={"service": svc}, timestamp=t, value=v)
            for (svc, m), v in scores.items()
        ]
        result = self.app.ingest(samples)
        self.app.tick()
        self.app.deliver()
        return [a.status for a in result.transitions]

    def episode(self, start: float, series: tuple[str, str], score: float = 0.99) -> int:
        """An alert on one series: 5 minutes at ``score``, 15 calm; its id."""
        for m in range(5):
            self.step(start + m, {series: score})
        for m in range(5, 20):
            self.step(start + m, {series: 0.1})
        rows = self.store.list_alerts(service=series[0], limit=1000)
        return next(r.id for r in rows if r.labels["metric"] == series[1])

    def sent(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def close(self) -> None:
        self.app.http.close()
        self.store.close()


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def test_not_helpful_raises_the_threshold_and_a_score_in_between_no_longer_alerts(
    h: Harness,
) -> None:
    alert_id = h.episode(0, LATENCY)
    assert h.app.policy.threshold(*LATENCY) == 0.90
    results = [h.app.feedback(alert_id, False, "noise") for _ in range(4)]
    assert all(r is not None for r in results)
    last = results[-1]
    assert last is not None
    assert last.to_json() == {
        "id": last.id,
        "alert_id": alert_id,
        "helpful": False,
        "comment": "noise",
        "threshold": {
            "service": "checkout",
            "metric": "latency",
            "before": 0.9225,
            "after": 0.93,
            "explanation": "threshold raised from 0.90 to 0.93 after 4 not-helpful in 7 days",
        },
    }
    assert h.app.policy.threshold(*LATENCY) == 0.93
    assert h.app.policy.threshold(*ERRORS) == 0.90  # the other metric is untouched
    # 0.92: over the old threshold, under the new one. The untouched metric still alerts.
    assert h.step(30, {LATENCY: 0.92, ERRORS: 0.92}) == ["firing"]
    firing = h.store.list_alerts(state="firing")
    assert [r.labels["metric"] for r in firing] == ["errors"]
    assert h.step(31, {LATENCY: 0.94}) == ["firing"]  # over the new one: an alert again
    row = h.store.sensitivity(*LATENCY)
    assert row is not None and row.threshold == 0.93 and row.explanation.startswith("threshold")
    history = [x for x in h.store.history(alert_id) if x.kind == "sensitivity"]
    assert [x.detail["after"] for x in history] == [0.9075, 0.915, 0.9225, 0.93]


def test_helpful_lowers_it_cautiously(h: Harness) -> None:
    alert_id = h.episode(0, LATENCY)
    for _ in range(5):
        result = h.app.feedback(alert_id, True, "")
    assert result is not None
    assert result.threshold.after == 0.88  # 0.90 - 0.02 at most
    assert h.step(30, {LATENCY: 0.885}) == ["firing"]


def test_feedback_ages_out_and_a_reset_forgets_it(h: Harness) -> None:
    alert_id = h.episode(0, LATENCY)
    for _ in range(2):
        h.app.feedback(alert_id, False, "")
    assert h.app.policy.threshold(*LATENCY) == 0.915
    h.step(60 * 24 * 3, {})  # three days later: still counted
    assert h.app.policy.threshold(*LATENCY) == 0.915
    assert h.app.tuner.next_retune == h.clock.now() + 3600  # recomputed hourly, not per tick
    h.step(60 * 24 * 7 + 90, {})  # past the window: the hourly recompute lets go
    assert h.app.policy.threshold(*LATENCY) == 0.90
    row = h.store.sensitivity(*LATENCY)
    assert row is not None and row.threshold is None
    assert row.explanation == "at the configured 0.90: no feedback in 7 days"

    h.app.feedback(alert_id, False, "")
    assert h.app.policy.threshold(*LATENCY) == 0.9075
    change = h.app.reset_sensitivity(*LATENCY, by="ana")
    assert (change.before, change.after) == (0.9075, 0.90)
    assert change.explanation == "at the configured 0.90: no feedback since the reset"
    row = h.store.sensitivity(*LATENCY)
    assert row is not None and row.reset_at == h.clock.now()
    h.app.feedback(alert_id, False, "")  # given at the reset's instant: before it
    assert h.app.policy.threshold(*LATENCY) == 0.90
    h.step(60 * 24 * 7 + 91, {})
    h.app.feedback(alert_id, False, "")  # after the reset: counts again
    assert h.app.policy.threshold(*LATENCY) == 0.9075


def test_adaptive_off_records_feedback_but_keeps_the_threshold(tmp_path: Path) -> None:
    config = {"services": {"checkout": {"metrics": {"latency": {"adaptive": False}}}}}
    h = Harness(tmp_path, config)
    try:
        alert_id = h.episode(0, LATENCY)
        result = h.app.feedback(alert_id, False, "")
        assert result is not None and result.threshold.after == 0.90
        assert "adaptive sensitivity is off" in result.threshold.explanation
        assert len(h.store.feedback()) == 1
        assert h.app.policy.threshold(*LATENCY) == 0.90
    finally:
        h.close()


def test_feedback_on_an_external_alert_is_recorded_not_tuned(h: Harness) -> None:
    labels = {"alertname": "HighErrors", "service": "checkout", "metric": "latency"}
    h.app.ingest_alerts([ExternalAlert(labels, {}, T0, None, "", T0)])
    (row,) = h.store.list_alerts()
    result = h.app.feedback(row.id, False, "")
    assert result is not None
    assert result.threshold.before == result.threshold.after == 0.90
    assert "external alerts have thresholds of their own" in result.threshold.explanation
    assert h.app.policy.threshold(*LATENCY) == 0.90 and h.store.sensitivities() == []
    assert h.app.feedback(row.id + 100, True, "") is None


def test_a_restart_restores_thresholds_and_modes_from_the_store(h: Harness) -> None:
    alert_id = h.episode(0, LATENCY)
    h.app.set_mode("billing", "assistive", "bo")
    h.app.checkpoint()  # the checkpoint knows billing's mode, not what follows
    h.app.set_mode("billing", None, "bo")
    h.app.set_mode("search", "shadow", "ana")  # not configured: switched all the same
    for _ in range(4):
        h.app.feedback(alert_id, False, "")
    h.restart()  # a crash: no checkpoint after the changes
    assert h.app.policy.threshold(*LATENCY) == 0.93
    assert h.app.policy.service("search").mode == "shadow"
    assert h.app.policy.service("billing").mode == "alerting"
    assert h.app.policy.modes() == {"search": "shadow"}
    # And a checkpoint newer than the store's rows changes nothing either.
    h.restart(checkpoint=True)
    assert h.app.policy.threshold(*LATENCY) == 0.93
    assert h.app.policy.service("search").mode == "shadow"


def test_the_policy_snapshot_carries_runtime_modes(h: Harness) -> None:
    h.app.policy.set_mode("checkout", "shadow")
    snapshot = h.app.policy.snapshot()
    h.app.policy.set_mode("checkout", None)
    assert h.app.policy.service("checkout").mode == "alerting"
    h.app.policy.restore(snapshot)
    assert h.app.policy.service("checkout").mode == "shadow"
    assert h.app.policy.configured("checkout").mode == "alerting"
    with pytest.raises(ValueError, match="unknown mode"):
        h.app.policy.set_mode("checkout", "loud")  # type: ignore[arg-type]


def test_switching_a_service_to_shadow_stops_its_notifications(h: Harness) -> None:
    for m in range(5):  # an alerting service: the episode pages after notify_after
        h.step(m, {LATENCY: 0.99})
    assert [n["status"] for n in h.sent()] == ["firing"]
    h.app.set_mode("checkout", "shadow", "ana")
    for m in range(5, 20):  # the open alert resolves: whoever heard it fire hears that
        h.step(m, {LATENCY: 0.1})
    assert [n["status"] for n in h.sent()] == ["firing", "resolved"]
    for m in range(30, 40):  # a new episode in shadow mode: recorded, never sent
        h.step(m, {LATENCY: 0.99})
    newest = h.store.list_alerts(service="checkout", limit=1)[0]
    assert newest.status == "firing" and newest.mode == "shadow"
    assert [n["status"] for n in h.sent()] == ["firing", "resolved"]
    h.app.set_mode("checkout", None, "ana")  # back to the configured mode
    assert h.app.policy.service("checkout").mode == "alerting"
    assert h.store.service_settings()["checkout"].mode is None


class YoungUntil(ScriptedDetector):
    """The scripted scores, on series too young to alert before ``grown_up``."""

    def __init__(self, grown_up: float) -> None:
        super().__init__()
        self.grown_up = grown_up

    def score(self, samples: Sequence[Sample]) -> Batch:
        batch = super().score(samples)
        scored = [replace(s, young=s.timestamp < self.grown_up) for s in batch.scored]
        return Batch(scored, batch.late, batch.points)


def test_a_young_series_is_scored_but_opens_no_alert(h: Harness) -> None:
    """Its first days' points are held back as in a maintenance window: no alert, no page;
    the same scores once it is old enough open one."""
    h.app.detector = YoungUntil(grown_up=T0 + 10 * MIN)
    for m in range(8):
        assert h.step(m, {LATENCY: 0.99}) == []
    assert h.store.list_alerts(service="checkout", limit=10) == []
    assert h.sent() == []
    for m in range(10, 15):
        h.step(m, {LATENCY: 0.99})
    assert [n["status"] for n in h.sent()] == ["firing"]


def test_the_configured_age_reaches_both_engines(tmp_path: Path) -> None:
    harness = Harness(tmp_path, {"detection": {"min_age": "2h"}})
    try:
        app = App(harness.config, harness.store, harness.clock)
        assert app.detector.engine.series.min_age == 7200.0
        assert app.records.ensemble.min_age == 7200.0
        # The config's default is the engine's (two days), written out in config.py.
        assert DetectionConfig().min_age == MIN_AGE == 2 * DAY
    finally:
        harness.close()


def test_the_configured_time_zone_reaches_both_engines_and_outranks_a_checkpoint(
    tmp_path: Path,
) -> None:
    """``detection.timezone`` sets the wall clock of both engines, and a service's own
    ``timezone`` its series'; a restart with another zone in the config follows the
    config, not the clocks pickled in the checkpoint (and turns what was learned with
    them: ``test_clock_changes.py``)."""
    harness = Harness(
        tmp_path,
        {
            "detection": {"timezone": "Europe/Berlin"},
            "services": {"shop-us": {"timezone": "America/Chicago"}},
        },
    )
    berlin, new_york = LocalTime("Europe/Berlin"), LocalTime("America/New_York")
    try:
        app = App(harness.config, harness.store, harness.clock)
        seasonal = app.detector.engine.series.seasonal
        assert seasonal is not None and seasonal.local_time.default == berlin
        assert app.detector.engine.series.local_time.default == berlin
        assert app.records.ensemble.local_time.default == berlin
        assert app.rules.clock_of("api") == berlin  # week over week's "same hour"
        assert app.rules.clock_of("shop-us") == LocalTime("America/Chicago")
        app.ingest(
            [
                Sample(metric="latency", labels={"service": "api"}, timestamp=T0, value=1.0),
                Sample(metric="latency", labels={"service": "shop-us"}, timestamp=T0, value=1.0),
            ]
        )
        engine = app.detector.engine.series
        assert [engine.clock_of(j).zone for j in range(2)] == ["Europe/Berlin", "America/Chicago"]
        app.checkpoint()
        app.http.close()
        moved = harness.config.model_copy(
            update={"detection": DetectionConfig(timezone="America/New_York")}
        )
        again = App(moved, harness.store, harness.clock)
        assert again.detector.n == 2  # resumed from the checkpoint
        engine = again.detector.engine.series
        assert [engine.clock_of(j).zone for j in range(2)] == [
            "America/New_York",
            "America/Chicago",
        ]
        assert again.detector.settings.timezone == "America/New_York"
        assert again.records.ensemble.local_time.default == new_york
        again.http.close()
    finally:
        harness.close()
