"""The alert policy: which scored points become alerts, and when those alerts end.

The detection engine already says how surprising each point is (a calibrated score); the
policy adds what a score cannot know: how sensitive each service should be, how long a
deviation must last (``for``), how calm it must be before an alert ends (hysteresis and
``resolve_after``), what no data means (``stale_after``), and how loud it is (severity from
the service's criticality). It returns only transitions, so the noise pipeline downstream
sees one firing snapshot per episode, an update when it gets louder, and one resolve.

Clocks: ``for`` is measured on the samples' own timestamps (a batch of late samples is
judged by when things happened); calm, staleness and flapping holds on ``now``, the clock
:meth:`AlertPolicy.tick` follows (event time in replay, wall time live).

An open alert stays open while its score is at least ``threshold - hysteresis`` and
resolves ``resolve_after`` after the last such point, once calm points have arrived: a
series that goes silent is not calm, it resolves as stale after ``stale_after``.

A maintenance or load-test window (``hold``) stops new alerts only: an alert that was
already firing carries on, so a real incident during maintenance is not hidden.

Runtime changes (the dashboard's): :meth:`AlertPolicy.set_threshold` (adaptive sensitivity)
and :meth:`AlertPolicy.set_mode` (an admin's rollout switch) override the configuration and
are part of the snapshot. A mode switch applies to the next transition of every alert of
the service, open ones included: an alerting alert switched to shadow stops notifying at
its next update, while its resolve still reaches whoever heard it fire (the pipeline lets
resolves through whatever their mode).
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from pydantic import ConfigDict, Field

from anomalert.alert.flapping import FlapCounter, FlappingConfig
from anomalert.alert.severity import Criticality, louder, severity
from anomalert.configbase import Duration, StrictModel
from anomalert.detect.reason import fmt
from anomalert.model import MODES, Alert, Kind, Mode, Scored, Severity, fingerprint

__all__ = ["AlertPolicy", "Effective", "FlappingConfig", "MetricPolicy", "ServicePolicy"]

ALERTNAME = "Anomaly"
#: Kinds whose band says where normal was (a predicted breach or a combination does not).
_BAND_KINDS = frozenset({int(Kind.SPIKE), int(Kind.DROP), int(Kind.LEVEL_SHIFT), int(Kind.TREND)})
#: A series that stopped moving: its alert lasts while the value stays where it froze.
_FLATLINE = int(Kind.FLATLINE)
_SNAPSHOT_VERSION = 1


class MetricPolicy(StrictModel):
    """Per-metric overrides of the service policy; unset fields inherit."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    threshold: float | None = Field(default=None, ge=0.5, le=0.999)
    for_: Duration | None = Field(default=None, alias="for")
    criticality: Criticality | None = None
    runbook_url: str | None = None
    disabled: bool = False
    #: Feedback may move this metric's threshold (when the service's ``adaptive`` is on too).
    adaptive: bool = True


class ServicePolicy(StrictModel):
    """How one service is alerted on; the defaults are the conservative ones."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    mode: Mode = "alerting"
    criticality: Criticality = "medium"
    threshold: float = Field(default=0.90, ge=0.5, le=0.999)
    for_: Duration = Field(default=0.0, alias="for")
    hysteresis: float = Field(default=0.2, ge=0.0, lt=0.5)
    #: An alert notifies (P1/P2) only once its anomaly has lasted this long; before, it is
    #: on the dashboard as P3. A one-point blip at 03:00 never wakes anyone; a real incident
    #: pages this much later. 0 notifies at the first point.
    notify_after: Duration = 180.0
    resolve_after: Duration = 600.0
    #: While values stay beyond the band they broke, a firing alert stays open this long even
    #: after the engine accepted the new level (then it resolves: a deploy changed normal).
    keep_open_for: Duration = 7200.0
    stale_after: Duration = 1800.0
    runbook_url: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, MetricPolicy] = Field(default_factory=dict)
    #: Feedback moves this service's thresholds (``alert.sensitivity``); false records it only.
    adaptive: bool = True

    def effective(self, metric: str) -> Effective:
        """The settings that apply to one metric (its overrides, else the service's)."""
        m = self.metrics.get(metric) or MetricPolicy()
        return Effective(
            threshold=self.threshold if m.threshold is None else m.threshold,
            for_=self.for_ if m.for_ is None else m.for_,
            criticality=m.criticality or self.criticality,
            runbook_url=m.runbook_url or self.runbook_url,
            disabled=m.disabled,
            adaptive=self.adaptive and m.adaptive,
        )


@dataclass(frozen=True)
class Effective:
    """The policy of one metric of one service, overrides applied."""

    threshold: float
    for_: float
    criticality: Criticality
    runbook_url: str | None
    disabled: bool = False
    adaptive: bool = True


@dataclass(frozen=True)
class _Point:
    """The worst point of an episode: what the alert's summary explains."""

    timestamp: float
    value: float
    score: float
    kind: int
    expected: float
    lower: float
    upper: float
    reason: str

    @classmethod
    def of(cls, s: Scored) -> _Point:
        return cls(
            s.timestamp, s.value, s.score, int(s.kind), s.expected, s.lower, s.upper, s.reason
        )


@dataclass
class _Episode:
    """One series from its first point over the threshold to its resolve (plain data)."""

    key: str  # the series key the policy files it under
    fingerprint: str
    identity: dict[str, str]
    since: float  # timestamp of the first point >= threshold: the alert's starts_at
    worst: _Point
    last_seen: float  # `now` of the latest point
    last_abnormal: float  # `now` of the latest point that kept the episode alive
    firing: bool = False  # False while waiting for `for`
    severity: Severity = "P3"
    confirmed: bool = False  # lasted `notify_after`: may be louder than P3
    flapping: bool = False
    held_since: float | None = None  # a would-be resolve held open by flapping
    moved: bool = False  # a flatline's value moved since it froze (calm points only)

    @property
    def service(self) -> str:
        return self.identity["service"]

    @property
    def metric(self) -> str:
        return self.identity["metric"]


class AlertPolicy:
    """Scored points in, alert transitions out; one episode per series at a time.

    >>> policy = AlertPolicy({"checkout": ServicePolicy(mode="shadow")})
    >>> policy.threshold("checkout", "latency"), policy.service("billing").mode
    (0.9, 'alerting')
    """

    def __init__(
        self,
        services: Mapping[str, ServicePolicy],
        default: ServicePolicy | None = None,
        flapping: FlappingConfig | None = None,
    ) -> None:
        self.services = dict(services)
        self.default = default or ServicePolicy()
        self.flapping = flapping or FlappingConfig()
        self._flaps = FlapCounter(self.flapping)
        self._episodes: dict[str, _Episode] = {}
        #: Series whose alert resolved on its values' recovery: (worst point, until when the
        #: engine's "deviation back to the old normal" is not a new alert).
        self._recovered: dict[str, tuple[_Point, float]] = {}
        self._overrides: dict[tuple[str, str], float] = {}
        self._effective: dict[tuple[str, str], Effective] = {}
        self._modes: dict[str, Mode] = {}
        self._moded: dict[str, ServicePolicy] = {}

    # -- configuration -------------------------------------------------------------------

    def configured(self, name: str) -> ServicePolicy:
        """The policy of a service as configured (the default one when it is not listed)."""
        return self.services.get(name, self.default)

    def service(self, name: str) -> ServicePolicy:
        """The policy of a service, with its runtime mode if an admin switched it."""
        if name not in self._modes:
            return self.configured(name)
        sp = self._moded.get(name)
        if sp is None:
            sp = self.configured(name).model_copy(update={"mode": self._modes[name]})
            self._moded[name] = sp
        return sp

    def set_mode(self, service: str, mode: Mode | None) -> None:
        """Override a service's configured rollout mode at runtime; None restores it."""
        if mode is None:
            self._modes.pop(service, None)
        elif mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
        else:
            self._modes[service] = mode
        self._moded.pop(service, None)

    def modes(self) -> dict[str, Mode]:
        """The runtime mode overrides, by service."""
        return dict(self._modes)

    def thresholds(self) -> dict[tuple[str, str], float]:
        """The runtime threshold overrides, by (service, metric)."""
        return dict(self._overrides)

    def effective(self, service: str, metric: str) -> Effective:
        """The metric's settings with the runtime threshold override applied."""
        key = (service, metric)
        eff = self._effective.get(key)
        if eff is None:
            eff = self.service(service).effective(metric)
            override = self._overrides.get(key)
            if override is not None:
                eff = replace(eff, threshold=override)
            self._effective[key] = eff
        return eff

    def threshold(self, service: str, metric: str) -> float:
        """The score a point of this metric must reach to count as an anomaly."""
        return self.effective(service, metric).threshold

    def set_threshold(self, service: str, metric: str, threshold: float | None) -> None:
        """Override the configured threshold at runtime (adaptive sensitivity); None removes."""
        if threshold is None:
            self._overrides.pop((service, metric), None)
        elif not 0.5 <= threshold <= 0.999:
            raise ValueError(f"threshold {threshold} is outside 0.5..0.999")
        else:
            self._overrides[(service, metric)] = float(threshold)
        self._effective.pop((service, metric), None)

    # -- the state machine ---------------------------------------------------------------

    def observe(self, s: Scored, now: float, hold: str | None = None) -> list[Alert]:
        """Take one scored point; returns the transitions it causes (usually none)."""
        eff = self.effective(s.service, s.metric)
        if eff.disabled:
            return []
        score = s.score if math.isfinite(s.score) else 0.0
        key = self._key(s)
        ep = self._episodes.get(key)
        if ep is None:
            if score < eff.threshold or hold is not None:
                return []
            if self._recovering(key, s):
                return []
            ep = self._open(key, s, now)
        ep.last_seen = now
        if not ep.firing:
            return self._pending(key, ep, s, score, eff, now, hold)
        sp = self.service(s.service)
        if score >= eff.threshold - sp.hysteresis and not self._back_to_normal(ep, s):
            return self._abnormal(ep, s, score, eff, now)
        if self._still_broken(ep, s, sp):
            ep.last_abnormal = now  # calm score, but the value has not come back: stays open
            return []
        done = self._advance(ep, sp, now)
        return [done] if done is not None else []

    def tick(self, now: float) -> list[Alert]:
        """Time-driven transitions: calm resolves, stale series, released flapping holds."""
        out: list[Alert] = []
        for ep in list(self._episodes.values()):
            done = self._advance(ep, self.service(ep.service), now)
            if done is not None:
                out.append(done)
        self._flaps.forget(now)
        return out

    def active(self) -> list[Alert]:
        """Snapshots of the alerts open right now (flapping ones included)."""
        return [
            self._alert(ep, "firing", ep.last_seen, None)
            for ep in self._episodes.values()
            if ep.firing
        ]

    def _key(self, s: Scored) -> str:
        return s.series or fingerprint(self._identity(s))

    @staticmethod
    def _identity(s: Scored) -> dict[str, str]:
        return {**s.labels, "alertname": ALERTNAME, "service": s.service, "metric": s.metric}

    def _open(self, key: str, s: Scored, now: float) -> _Episode:
        identity = self._identity(s)
        ep = _Episode(key, fingerprint(identity), identity, s.timestamp, _Point.of(s), now, now)
        self._episodes[key] = ep
        return ep

    def _pending(
        self,
        key: str,
        ep: _Episode,
        s: Scored,
        score: float,
        eff: Effective,
        now: float,
        hold: str | None,
    ) -> list[Alert]:
        """Waiting for ``for``: a point under the threshold (or a hold) starts over."""
        if score < eff.threshold or hold is not None:
            del self._episodes[key]
            return []
        ep.last_abnormal = now
        if score > ep.worst.score:
            ep.worst = _Point.of(s)
        if s.timestamp - ep.since < eff.for_:
            return []
        ep.firing = True
        ep.confirmed = s.timestamp - ep.since >= self.service(s.service).notify_after
        ep.severity = self._severity(ep, ep.worst.score, eff)
        self._flaps.record(ep.fingerprint, now)
        return [self._alert(ep, "firing", now, None)]

    def _abnormal(
        self, ep: _Episode, s: Scored, score: float, eff: Effective, now: float
    ) -> list[Alert]:
        """A firing alert's point still over threshold - hysteresis: it stays open."""
        ep.last_abnormal = now
        if ep.held_since is not None:  # back during a flapping hold: the same alert goes on
            ep.held_since = None
            if score >= eff.threshold:  # a re-fire, as far as flap counting goes
                self._flaps.record(ep.fingerprint, now)
        newly = not ep.confirmed and (
            s.timestamp - ep.since >= self.service(s.service).notify_after
        )
        if newly:
            ep.confirmed = True
        if score <= ep.worst.score and not newly:
            return []
        if score > ep.worst.score:
            ep.worst = _Point.of(s)
        sev = self._severity(ep, ep.worst.score, eff)
        if not louder(sev, ep.severity):
            return []
        ep.severity = sev
        return [self._alert(ep, "firing", now, None)]

    @staticmethod
    def _back_to_normal(ep: _Episode, s: Scored) -> bool:
        """Is the value back inside the band of normal that the alert broke out of?

        After the engine accepted an incident's level, the return to normal looks like a
        deviation the other way (a drop after a spike) and scores high: it is the recovery,
        not more of the incident, so it counts as calm.
        """
        w = ep.worst
        if w.kind not in _BAND_KINDS or not (math.isfinite(w.lower) and math.isfinite(w.upper)):
            return False
        opposite = (s.value - s.expected) * (w.value - w.expected) < 0
        return opposite and w.lower <= s.value <= w.upper

    @staticmethod
    def _still_broken(ep: _Episode, s: Scored, sp: ServicePolicy) -> bool:
        """The engine calmed down, but is the value still beyond the band it broke out of?

        After ``accept_after`` points the engine takes a lasting shift as the new normal and
        its scores fall, which must not resolve a page while latency is still five times
        what it was. So a firing spike/drop/level-shift alert stays open while its values
        stay beyond the band of its worst point, on the same side, for up to
        ``keep_open_for``; then it resolves (a deploy that really changed the level). A
        flatline alert stays open while the value stays where it froze, however long: a
        feed that died two hours ago is still dead (the engine pages a flatline's onset
        only, and takes nothing from the frozen run, so nothing becomes normal meanwhile).
        Once the value has moved it is alive again: a count that comes back and shows the
        frozen value now and then (a 0 among small counts) does not hold the alert open.
        """
        w = ep.worst
        if w.kind == _FLATLINE:
            ep.moved |= s.value != w.value
            return not ep.moved
        if s.timestamp - ep.since >= sp.keep_open_for:
            return False
        if w.kind not in _BAND_KINDS or not (math.isfinite(w.lower) and math.isfinite(w.upper)):
            return False
        if w.value > w.upper:
            return s.value > w.upper
        if w.value < w.lower:
            return s.value < w.lower
        return False

    @staticmethod
    def _severity(ep: _Episode, score: float, eff: Effective) -> Severity:
        """The table's severity once the anomaly lasted ``notify_after``; P3 until then."""
        return severity(score, eff.criticality, eff.threshold) if ep.confirmed else "P3"

    def _advance(self, ep: _Episode, sp: ServicePolicy, now: float) -> Alert | None:
        """Resolve what has been calm or silent long enough, unless flapping holds it."""
        if now - ep.last_seen >= sp.stale_after:
            if ep.firing:
                return self._close(ep, now, stale=True)
            self._drop(ep)
            return None
        if not ep.firing:
            return None
        if ep.held_since is not None:
            if now - ep.held_since >= self.flapping.hold:
                return self._close(ep, now)
            return None
        due = ep.last_abnormal + sp.resolve_after
        if now < due or ep.last_seen <= ep.last_abnormal:
            return None  # not calm long enough, or silent since (silence is not calm: stale)
        count = self._flaps.record(ep.fingerprint, due)
        if ep.flapping or self._flaps.reaches_limit(count):
            ep.flapping = True
            ep.held_since = due
            if now - due >= self.flapping.hold:
                return self._close(ep, now)
            return None
        return self._close(ep, now)

    def explain(self, key: str, now: float) -> list[Alert]:
        """Close the alert of series ``key`` now: what it flagged was explained after it
        opened (a deployment posted once its rollout finished, whose restart the fall was:
        ``StreamDetector.expect_restart``). A pending alert is dropped, a firing one
        resolves; nothing is kept as a recovery (the series did not come back: its new
        level is the restart's)."""
        ep = self._episodes.get(key)
        if ep is None:
            return []
        self._drop(ep)
        return [self._alert(ep, "resolved", now, now)] if ep.firing else []

    def _recovering(self, key: str, s: Scored) -> bool:
        """A high score right after a recovery, for a value inside the old band: the engine
        still expects the incident's level; the series is back to normal, not anomalous."""
        seen = self._recovered.get(key)
        if seen is None:
            return False
        worst, until = seen
        if s.timestamp > until:
            del self._recovered[key]
            return False
        opposite = (s.value - s.expected) * (worst.value - worst.expected) < 0
        return opposite and worst.lower <= s.value <= worst.upper

    def _close(self, ep: _Episode, now: float, stale: bool = False) -> Alert:
        if ep.worst.kind in _BAND_KINDS and not stale:
            until = ep.since + self.service(ep.service).keep_open_for
            self._recovered[ep.key] = (ep.worst, until)
        self._drop(ep)
        return self._alert(ep, "resolved", now, now, stale)

    def _drop(self, ep: _Episode) -> None:
        self._episodes.pop(ep.key, None)

    def _alert(
        self,
        ep: _Episode,
        status: Literal["firing", "resolved"],
        now: float,
        ends_at: float | None,
        stale: bool = False,
    ) -> Alert:
        sp = self.service(ep.service)
        eff = self.effective(ep.service, ep.metric)
        w = ep.worst
        kind = Kind(w.kind).label
        labels = {**sp.labels, **ep.identity, "severity": ep.severity, "kind": kind}
        annotations = {
            "summary": w.reason,
            "value": fmt(w.value),
            "expected": fmt(w.expected),
            "lower": fmt(w.lower),
            "upper": fmt(w.upper),
            "kind": kind,
        }
        if eff.runbook_url:
            annotations["runbook_url"] = eff.runbook_url
        if ep.flapping:
            annotations["flapping"] = "true"
        if stale:  # resolved because the data stopped, not because it recovered
            annotations["stale"] = "true"
        return Alert(
            fingerprint=ep.fingerprint,
            labels=labels,
            annotations=annotations,
            starts_at=ep.since,
            ends_at=ends_at,
            status=status,
            score=w.score,
            severity=ep.severity,
            mode=sp.mode,
            source="anomaly",
            updated_at=now,
        )

    # -- persistence ---------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Open episodes, flap history and runtime overrides (thresholds, modes), so a
        restart resumes them."""
        state: dict[str, Any] = {
            "version": _SNAPSHOT_VERSION,
            "episodes": {k: asdict(ep) for k, ep in self._episodes.items()},
            "flaps": self._flaps.state(),
            "overrides": dict(self._overrides),
            "modes": dict(self._modes),
            "recovered": {k: (asdict(p), u) for k, (p, u) in self._recovered.items()},
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        """Resume from :meth:`snapshot` (the configuration comes from the caller)."""
        state = pickle.loads(data)
        if state.get("version") != _SNAPSHOT_VERSION:
            raise ValueError(f"unknown alert policy snapshot version {state.get('version')}")
        self._episodes = {}
        for key, raw in state["episodes"].items():
            fields = dict(raw)
            fields["worst"] = _Point(**fields["worst"])
            self._episodes[key] = _Episode(**fields)
        self._flaps.load(state["flaps"])
        self._overrides = dict(state["overrides"])
        self._modes = dict(state.get("modes", {}))
        self._moded.clear()
        self._recovered = {k: (_Point(**p), u) for k, (p, u) in state.get("recovered", {}).items()}
        self._effective.clear()
