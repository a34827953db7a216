"""A deployment restarts its service's processes: their memory falling right after is no page.

``Restarts`` keeps a window per series after a deployment or rollback of its service; a
would-be alert below its expectation in that window starts a quiet run (the page withheld
after the decision, the detectors learning exactly as before), which stays quiet until it
ends. A rise is news, and so is a fall that begins after the window.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from anomalert.app import App, EventClock
from anomalert.config import parse_config
from anomalert.detect.engine import BatchEngine, Episodes, Settings
from anomalert.detect.registry import SERVICE_UNIVARIATE
from anomalert.detect.restarts import RestartConfig, Restarts
from anomalert.model import ChangeEvent, Sample
from anomalert.store import Store

HOUR = 3600.0
T0 = 1_767_600_000.0
MIN_AGE = 3 * HOUR
#: Six hours of history a minute apart, then the change at minute 360.
AT = 360
N = 8


def test_a_window_covers_its_span_and_holds_while_its_run_is_quiet() -> None:
    r = Restarts()
    r.expect([1, 3], 100.0, 200.0)
    t = np.full(4, 50.0)
    assert r.mask(t) is None  # before the event
    mask = r.mask(np.full(4, 150.0))
    assert mask is not None and mask.tolist() == [False, True, False, True]
    quiet = np.array([False, True, False, False])
    r.settle(np.full(4, 190.0), quiet)  # 1 is in a quiet run
    r.settle(np.full(4, 250.0), quiet)  # ended: 1 is still in its run, 3 in none
    assert set(r.windows) == {1}
    mask = r.mask(np.full(4, 900.0))
    assert mask is not None and mask.tolist() == [False, True, False, False]
    r.settle(np.array([np.nan, np.nan, 0.0, 0.0]), np.zeros(4, dtype=bool))
    assert set(r.windows) == {1}  # no sample this tick: nothing known
    r.settle(np.full(4, 950.0), np.zeros(4, dtype=bool))  # the run ended
    assert r.windows == {}
    r.expect([2], 0.0, 10.0)
    r.forget([2])
    assert r.windows == {}
    r.expect([0], 1.0, 2.0)
    assert pickle.loads(pickle.dumps(r)).windows == {0: (1.0, 2.0, False)}
    r.settle(np.full(4, 1.5), np.ones(4, dtype=bool))
    assert r.windows == {0: (1.0, 2.0, True)}
    r.expect([0], 1.0, 2.0)  # the same event again (the service restarted): the run goes on
    assert r.windows == {0: (1.0, 2.0, True)}


def test_the_config_names_memory_and_refuses_what_it_cannot_use() -> None:
    config = RestartConfig()
    assert config.resets("memory_percent") and config.resets("jvm_heap_used_bytes")
    assert config.resets("process_resident_memory_bytes")
    assert not config.resets("cpu_percent") and not config.resets("latency_p99_ms")
    assert not RestartConfig(metrics=()).resets("memory_percent")
    with pytest.raises(ValidationError, match="window"):
        RestartConfig(window=0)
    with pytest.raises(ValidationError, match="pattern"):
        RestartConfig(metrics=("",))


def _replay(step: float, event: int | None, window: int = 60) -> tuple[int, list[int]]:
    """N memory series (50 % and a little noise), a change of ``step`` at minute ``AT``
    (lasting), a restart event at minute ``event`` (None: none) opening a window of
    ``window`` minutes; the alerts raised, and the minute each series' shift was accepted."""
    rng = np.random.default_rng(7)
    minutes = AT + 180
    x = 50.0 + 0.3 * rng.standard_normal((minutes, N))
    x[AT:] += step
    engine = BatchEngine(N, Settings(univariate=SERVICE_UNIVARIATE, min_age=MIN_AGE))
    episodes = Episodes(N, engine.settings.cooldown)
    restarts = Restarts()
    explained = event is not None and event <= AT <= event + window and step < 0
    alerts = 0
    accepted = [-1] * N
    for k in range(minutes):
        t = np.full(N, T0 + 60.0 * k)
        if k == event:
            restarts.expect(range(N), float(t[0]), float(t[0]) + 60.0 * window)
        s = engine.step(t, x[k], restarting=restarts.mask(t)).series
        restarts.settle(t, engine.series.quiet)
        alerts += int(episodes.fire(k, s.flagged).sum())
        if k >= AT:
            for i in np.flatnonzero(s.adapted):
                accepted[i] = k if accepted[i] < 0 else accepted[i]
        if explained and k >= AT:
            # A quiet run's points score under the threshold: the service opens nothing.
            assert np.all(s.score < engine.settings.threshold)
    return alerts, accepted


def test_a_fall_right_after_a_restart_pages_nothing_and_is_learned_as_before() -> None:
    paged, accepted_paged = _replay(-6.0, None)
    assert paged == N  # without the event, each series pages its fall once
    quiet, accepted_quiet = _replay(-6.0, AT - 5)
    assert quiet == 0
    # The detectors learned the fall as before: accepted as the new normal at the same
    # minute, within the hour (30 points), although the window had ended by then.
    assert accepted_quiet == accepted_paged
    assert all(AT < k < AT + 60 for k in accepted_quiet)


def test_a_fall_that_outlasts_a_short_window_stays_quiet() -> None:
    quiet, _ = _replay(-6.0, AT - 1, window=5)
    assert quiet == 0


def test_a_rise_after_a_restart_or_a_fall_after_the_window_still_pages() -> None:
    assert _replay(6.0, AT - 5)[0] == N
    assert _replay(-6.0, AT - 90)[0] == N  # the window closed half an hour before


def _app(tmp_path: Path, name: str, restarts: dict[str, object]) -> tuple[App, EventClock]:
    config = parse_config(
        {
            "detection": {"min_age": "3h", "restarts": restarts},
            "route": {"receiver": "out"},
            "receivers": [{"name": "out", "jsonl": {"path": str(tmp_path / f"{name}.jsonl")}}],
        }
    )
    clock = EventClock(T0)
    store = Store.open(f"sqlite:///{tmp_path}/{name}.db")
    return App(config, store, clock), clock


@pytest.mark.parametrize(
    ("kind", "restarts", "pages"),
    [
        ("deployment", {}, False),
        ("rollback", {}, False),
        ("feature_flag", {}, True),  # no restart
        ("deployment", {"metrics": []}, True),  # the user says no metric resets
    ],
)
def test_the_service_is_told_by_its_change_events(
    tmp_path: Path, kind: str, restarts: dict[str, object], pages: bool
) -> None:
    app, clock = _app(tmp_path, kind, restarts)
    rng = np.random.default_rng(3)
    try:
        for k in range(AT + 60):
            t = T0 + 60.0 * k
            clock.advance(t)
            if k == AT - 2:
                app.add_events([ChangeEvent(kind, "api", t, version="v2")])
            value = 50.0 + 0.3 * rng.standard_normal() - (6.0 if k >= AT else 0.0)
            other = 20.0 + 0.3 * rng.standard_normal()
            app.ingest(
                [
                    Sample("memory_percent", {"service": "api"}, t, value),
                    Sample("memory_percent", {"service": "web"}, t, other),
                ]
            )
            app.tick()
        firing = {(a.labels["service"], a.labels["metric"]) for a in app.pipeline.firing()}
        assert (("api", "memory_percent") in firing) is pages
        assert app.detector.restarts.windows == {}  # closed, the run over
    finally:
        app.store.close()


def test_a_deployment_recorded_after_the_last_checkpoint_survives_a_crash(
    tmp_path: Path,
) -> None:
    """The event is in the store, not in the checkpoint: the next start opens its window."""
    app, clock = _app(tmp_path, "crash", {})
    rng = np.random.default_rng(4)

    def feed(start: int, stop: int, app: App) -> None:
        for k in range(start, stop):
            t = T0 + 60.0 * k
            clock.advance(t)
            value = 50.0 + 0.3 * rng.standard_normal() - (6.0 if k >= AT else 0.0)
            app.ingest([Sample("memory_percent", {"service": "api"}, t, value)])
            app.tick()

    try:
        feed(0, AT - 2, app)
        app.checkpoint()
        app.add_events([ChangeEvent("deployment", "api", T0 + 60.0 * (AT - 2), version="v2")])
        feed(AT - 2, AT, app)
    finally:
        app.store.close()  # a crash: no checkpoint since the event
    store = Store.open(f"sqlite:///{tmp_path}/crash.db")
    again = App(app.config, store, clock)
    try:
        assert again.detector.restarts.windows  # reopened from the store's events
        feed(AT, AT + 60, again)
        assert not [
            a for a in again.pipeline.firing() if a.labels.get("metric") == "memory_percent"
        ]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("event_at", "posted_at", "pages"),
    [
        (AT - 2, AT + 2, False),  # posted once the rollout finished, timed at its start
        (AT + 1, AT + 2, True),  # timed after the fall began: not the restart's
        (None, None, True),  # no event at all
    ],
)
def test_a_deployment_posted_after_the_fall_began_explains_it_from_then_on(
    tmp_path: Path, event_at: int | None, posted_at: int | None, pages: bool
) -> None:
    """Deployment tools often post an event once a rollout has finished, minutes after its
    processes restarted: the memory fall that began at or after the event's time is
    explained from the moment the event arrives, and its alert, not yet past the policy's
    ``notify_after``, resolves without a page. A fall that began before the event's time
    is no restart's."""
    app, clock = _app(tmp_path, f"late-{event_at}", {})
    rng = np.random.default_rng(5)
    pages_seen = []
    try:
        for k in range(AT + 60):
            t = T0 + 60.0 * k
            clock.advance(t)
            if k == posted_at and event_at is not None:
                event = ChangeEvent("deployment", "api", T0 + 60.0 * event_at, version="v2")
                app.add_events([event])
            value = 50.0 + 0.3 * rng.standard_normal() - (6.0 if k >= AT else 0.0)
            app.ingest([Sample("memory_percent", {"service": "api"}, t, value)])
            notes = app.tick()
            pages_seen += [
                n
                for n in notes
                if n.status == "firing" and any(a.labels["service"] == "api" for a in n.alerts)
            ]
        assert bool(pages_seen) is pages
        if not pages:
            assert app.pipeline.firing() == []  # resolved, not left open
    finally:
        app.store.close()
