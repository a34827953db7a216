"""The composition root: one place that wires every stage from the config.

    samples -> StreamDetector -> AlertPolicy ─┐
    samples -> RuleEngine ────────────────────┼-> Store -> Pipeline -> Outbox -> receivers
    Alertmanager-format alerts ───────────────┘

``App`` holds no logic of its own beyond the wiring: each stage decides, the app passes
frozen values from one to the next and records what happened. Time comes from a ``Clock``:
the wall clock in the live service, the data's own time in replay and in the demo, a
hand-moved clock in tests, so every timeline is reproducible.

People tune it at runtime (the trust loop): feedback on an alert moves its (service,
metric)'s threshold (``alert.tuning``), an admin switches a service's rollout mode. Both are
rows in the store, which is the truth after a restart (a checkpoint may be older).

Crash safety: detector, policy, rule and pipeline state are checkpointed together (one
pickle per stage, taken at one moment and saved as one, ``Store.save_checkpoints``);
notifications are enqueued in the outbox under deterministic keys, so after a restart from
an older checkpoint the re-run produces the same keys and the outbox drops them; alerts are
upserted by (fingerprint, start).
"""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import httpx

from anomalert.alert.correlate import Correlator
from anomalert.alert.escalation import EscalationConfig
from anomalert.alert.external import Expiries
from anomalert.alert.pipeline import Pipeline
from anomalert.alert.policy import AlertPolicy
from anomalert.alert.route import Route
from anomalert.alert.rules import RuleEngine
from anomalert.alert.silence import Silence, Silencer
from anomalert.alert.tuning import TUNED_SOURCE, ThresholdChange, Tuner
from anomalert.config import Config
from anomalert.detect.engine import Settings
from anomalert.detect.peers import PEERS_LABEL
from anomalert.detect.registry import SERVICE_UNIVARIATE
from anomalert.detect.restarts import RESTART_KINDS
from anomalert.detect.stream import Context, RecordDetector, StreamDetector, series_id
from anomalert.ingest.alertmanager import ExternalAlert, to_alert
from anomalert.ingest.counters import CounterNames
from anomalert.ingest.histograms import Histograms
from anomalert.ingest.recordpools import RecordPools
from anomalert.ingest.records import FEATURES, Record
from anomalert.model import (
    MODES,
    Alert,
    ChangeEvent,
    Kind,
    Mode,
    Notification,
    Sample,
    Scored,
)
from anomalert.notify.config import build_receivers
from anomalert.notify.outbox import Outbox
from anomalert.notify.receivers.base import Receiver
from anomalert.notify.render import UNREADABLE, notification_from_dict
from anomalert.selfmetrics import SelfMetrics
from anomalert.store import SilenceRow, Store

log = logging.getLogger("anomalert")

#: Why a series' points do not open alerts during its first two days (``Ensemble.min_age``).
YOUNG_HOLD = "the series is too young to alert (detection.min_age)"
#: Seconds between two passes retiring silent series (each reads every series' latest time).
RETIRE_EVERY = 3600.0
#: How far before the checkpoint the outbox is read back at a start (``_catch_up``): the
#: messages' numbers decide exactly which are newer; the time only bounds the read, with
#: room for a wall clock stepped back.
CATCH_UP_MARGIN = 3600.0


class Clock(Protocol):
    """Where "now" comes from."""

    def now(self) -> float:
        """Current time, unix seconds."""
        ...


class WallClock:
    """The live service's clock."""

    def now(self) -> float:
        """Current time, unix seconds."""
        return time.time()


class EventClock:
    """Follows the data: replay, the demo and timeline tests move it forward."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start

    def now(self) -> float:
        """The latest time set."""
        return self.t

    def advance(self, t: float) -> None:
        """Move to t (never backwards)."""
        self.t = max(self.t, t)


@dataclass(frozen=True)
class FeedbackResult:
    """Feedback as stored, and what it did to the alert's threshold."""

    id: int
    alert_id: int
    helpful: bool
    comment: str
    threshold: ThresholdChange

    def to_json(self) -> dict[str, Any]:
        """The API's answer."""
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "helpful": self.helpful,
            "comment": self.comment,
            "threshold": self.threshold.to_json(),
        }


@dataclass(frozen=True)
class IngestResult:
    """What happened to one batch: accepted points, late ones, alert transitions."""

    accepted: int
    late: list[Sample]
    transitions: list[Alert]
    #: Samples of new series beyond ``detection.max_series``: refused, counted.
    refused: list[Sample] = field(default_factory=list)


class App:
    """Every stage of the service, wired from one config, over one store."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock | None = None,
        receivers: dict[str, list[Receiver]] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock: Clock = clock or WallClock()
        self.lock = threading.RLock()
        self.metrics = SelfMetrics()
        self.http = http or httpx.Client(timeout=10.0)
        self.receivers = receivers or build_receivers(
            config.receivers, self.http, external_url=config.server.link_base
        )
        self.outbox = Outbox(store, self.receivers, config.delivery)
        min_age, zone = config.detection.min_age, config.detection.timezone
        self.detector = StreamDetector(
            Settings(univariate=SERVICE_UNIVARIATE, min_age=min_age, timezone=zone),
            limits=config.detection.limits,
            window=config.detection.context_points,
            zones=config.zones,
            max_series=config.detection.max_series,
            peers=config.detection.peers,
        )
        #: Which remote_write series are counters (their rates are followed), and the
        #: quantiles of the histograms among them.
        self.counter_names = CounterNames(config.ingest.counters)
        self.histograms = Histograms(config.ingest.histograms)
        #: Aggregate records' error rates and latencies, each over enough requests.
        self.record_pools = RecordPools(config.ingest.records)
        self.records = RecordDetector(
            FEATURES, Settings(min_age=min_age, timezone=zone), zones=config.zones
        )
        self.policy = AlertPolicy(
            dict(config.services), default=config.defaults, flapping=config.flapping
        )
        self.correlator = Correlator(
            {name: svc.depends_on for name, svc in config.services.items()}, config.correlation
        )
        self.rules = RuleEngine(
            config.rules,
            mode_of=lambda svc: self.policy.service(svc).mode,
            clock_of=config.clock_of(),
        )
        self.rule_metrics = _rule_metrics(config)
        escalations: dict[str, EscalationConfig] = {e.name: e for e in config.escalations}
        silencer = Silencer(
            (silence_from_row(row) for row in store.list_silences()),
            persist=self._persist_silences,
        )
        self.pipeline = Pipeline(
            Route.build(config.route), silencer, config.inhibit_rules, escalations
        )
        #: Which series an anomaly alert watches (alert fingerprint -> series id).
        self.series_of: dict[str, str] = {}
        # Scratch of one batch: the context of each transition, the anomalies to store.
        self._alert_context: dict[str, dict[str, Any] | None] = {}
        self._pending_anomalies: list[Scored] = []
        #: Earliest time the outbox may hold something due (-inf: ask at the first pass).
        self._next_delivery = -float("inf")
        self._enqueued = 0
        #: Maintenance / load-test windows per service: (start, end, description).
        self.windows: dict[str, list[tuple[float, float, str]]] = {}
        for event in store.events():
            self._note_window(event)
        self.last_checkpoint = time.monotonic()
        #: Checkpoints are taken under ``lock`` and written outside it, one at a time
        #: (``_saving``); a snapshot older than the one last written is not written.
        self._saving = threading.Lock()
        self._snapshots = 0
        self._written = 0
        #: When silent series were last retired (``_retire``), the newest sample time then,
        #: and whether data had already flowed over the pass before.
        self._last_retire = -float("inf")
        self._newest = -float("inf")
        self._flowing = False
        #: When the series limit was last reported in the log (``_warn_limit``).
        self._limit_warned = -float("inf")
        #: Alerts the store says are firing but the restored state does not know (they
        #: opened after the last checkpoint, before a crash), by fingerprint.
        self._adopted: dict[str, Alert] = {}
        #: The state last written to each firing alert's history (``_record``), by
        #: fingerprint: a sender re-sending an unchanged alert every minute wrote a row a
        #: minute, hundreds of identical lines on the alert's page in a day.
        self._history_state: dict[str, tuple[float, str, str]] = {}
        self._reobserved: set[str] = set()
        #: Called (outside the lock) after an ingest produced alert transitions: the
        #: service's loop wakes to flush groups without waiting for its period.
        self.on_transitions: Callable[[], None] | None = None
        self.tuner = Tuner(self.policy, store, config.sensitivity)
        self._restore()
        self._catch_up()
        self._reopen_restarts()
        self._load_settings()
        self._adopt_orphans()
        self.expiries = Expiries(self._expiring())
        self.metrics.track_scores(self.detector.latest_scores)

    # -- checkpoints -----------------------------------------------------------------------

    _PARTS = (
        "detector",
        "records",
        "policy",
        "rules",
        "pipeline",
        "correlator",
        "series_of",
        "histograms",
        "record_pools",
    )

    def checkpoint(self) -> None:
        """Save every stage's state (a restart resumes here instead of relearning).

        The stages are pickled under the lock, one moment for all, and written after it is
        released: at 100,000 series the detector's part is about 470 MB, and writing it took
        4-9 s on the small machine, every minute, during which no sample was taken (pickling
        takes about 1 s). The parts are written together (``Store.save_checkpoints``): a
        crash mid-way resumes from the previous checkpoint, not a mix of two.
        """
        with self.lock:
            now = self.clock.now()
            parts = {
                "detector": pickle.dumps(self.detector),
                "records": pickle.dumps(self.records),
                "policy": self.policy.snapshot(),
                "rules": self.rules.snapshot(),
                "pipeline": self.pipeline.snapshot(),
                "correlator": self.correlator.snapshot(),
                "series_of": pickle.dumps(self.series_of),
                "histograms": pickle.dumps(self.histograms.sets),
                "record_pools": pickle.dumps(self.record_pools.pools),
            }
            self._snapshots += 1
            taken = self._snapshots
            self.last_checkpoint = time.monotonic()
        with self._saving:
            if taken < self._written:
                return  # a later snapshot is on disk already
            self.store.save_checkpoints(parts, now)
            self._written = taken

    def _restore(self) -> None:
        blobs = self.store.load_checkpoints(self._PARTS)
        if blobs["detector"] is not None:
            self.detector = pickle.loads(blobs["detector"])
            self.detector.limits = dict(self.config.detection.limits)
            self.detector.max_series = self.config.detection.max_series
            self.detector.use_peers(self.config.detection.peers)
            self.detector.use_timezone(self.config.detection.timezone, self.config.zones)
        if blobs["records"] is not None:
            self.records = pickle.loads(blobs["records"])
            self.records.use_timezone(self.config.detection.timezone, self.config.zones)
        if blobs["policy"] is not None:
            self.policy.restore(blobs["policy"])
        if blobs["rules"] is not None:
            self.rules.restore(blobs["rules"])
        if blobs["pipeline"] is not None:
            silencer = self.pipeline.silencer
            self.pipeline.restore(blobs["pipeline"])
            self.pipeline.silencer = silencer  # the store is the truth for silences
        if blobs["correlator"] is not None:
            self.correlator.restore(blobs["correlator"])
        if blobs["series_of"] is not None:
            self.series_of = pickle.loads(blobs["series_of"])
        if blobs["histograms"] is not None:
            self.histograms.sets = pickle.loads(blobs["histograms"])
        if blobs["record_pools"] is not None:
            self.record_pools.pools = pickle.loads(blobs["record_pools"])
        if any(b is not None for b in blobs.values()):
            log.info("resumed from checkpoint (%d series)", self.detector.followed)

    def _catch_up(self) -> None:
        """The messages enqueued after the checkpoint (a crash came before the next one) are
        what the receivers were told: the pipeline takes them back (``Pipeline.catch_up``),
        so a group's next news is not numbered like a message already sent (the outbox
        refused it as a repeat) and nothing told is told again when the firing alerts are
        pushed back (``_adopt_orphans``)."""
        since = self.store.checkpoint_time("pipeline")
        start = -math.inf if since is None else since - CATCH_UP_MARGIN
        told = []
        for payload in self.store.enqueued_since(start):
            try:
                told.append(notification_from_dict(payload))
            except UNREADABLE as exc:
                log.warning("outbox item %s unreadable at start: %s", payload.get("key"), exc)
        caught = self.pipeline.catch_up(told)
        if caught:
            log.info("caught up with %d notifications enqueued after the checkpoint", caught)

    def _reopen_restarts(self) -> None:
        """Open again the restart windows of deployments recorded after the checkpoint was
        taken (a crash between them lost them): those whose window reaches past the newest
        sample the detector knows. Earlier ones are in the checkpoint, or over."""
        newest = self.detector.newest
        if not math.isfinite(newest):
            return
        config = self.config.detection.restarts
        for event in self.store.events(since=newest - config.window):
            if event.kind in RESTART_KINDS:
                self._restarted(event)

    def _load_settings(self) -> None:
        """Runtime modes and thresholds from the store, over what the checkpoint held."""
        rows = self.store.service_settings()
        for service in self.policy.modes():
            if service not in rows:
                self.policy.set_mode(service, None)
        for service, row in rows.items():
            self.policy.set_mode(service, row.mode if row.mode in MODES else None)
        self.tuner.restore()

    def _adopt_orphans(self) -> None:
        """Reconcile with the store after a crash: nothing lost, nothing paged twice.

        An alert opened after the last checkpoint is firing in the store but unknown to the
        restored policy or rules. It is adopted: pushed back into the pipeline as it was
        (its group and incident labels unchanged; what its receivers were told is known
        again from the outbox, ``_catch_up``, so nothing is re-sent); when the series (or
        the rule) alerts again, the new episode continues the stored alert (same start,
        same labels); if it stays quiet past ``stale_after`` (the rules' own for a rule's
        alert), it resolves as stale, and whoever was paged hears the resolve.
        """
        known = {a.fingerprint for a in self.policy.active()}
        known |= {a.fingerprint for a in self.rules.active()}
        rows = self.store.list_alerts(state="firing", limit=100_000)
        stored = [r.to_alert() for r in rows if r.fingerprint not in known]
        # A rule's alert too: the restored rule, back before it fired, fires again with a
        # start of its own (the stored row stayed open for good), or never, if its
        # condition ended while the service was down (whoever was told never heard the end).
        orphans = [a for a in stored if a.source in ("anomaly", "rule")]
        for alert in orphans:
            self._adopted[alert.fingerprint] = alert
        # An external alert has no state of ours to continue (its sender and ``expires_at``
        # decide), but its group must hold it again: else its resolve finds no group and
        # whoever was told it fires never hears the end, and one taken just before the crash
        # waits for a re-send that a one-shot sender never makes.
        pushed = {a.fingerprint for a in self.pipeline.firing()}
        external = [a for a in stored if a.source == "external" and a.fingerprint not in pushed]
        if orphans or external:
            self.pipeline.push([*orphans, *external], self.clock.now())
        if orphans:
            log.info("adopted %d firing alerts unknown to the checkpoint", len(orphans))

    def _expiring(self) -> list[Alert]:
        """The firing external alerts as the store has them (the truth after a restart):
        they resolve at their ``expires_at``, which one stored before the store kept it
        (NULL) takes as ``ingest.alerts.resolve_timeout`` after its last update."""
        timeout = self.config.ingest.alerts.resolve_timeout
        alerts = [row.to_alert() for row in self.store.firing_alerts("external")]
        return [
            a if a.expires_at is not None else replace(a, expires_at=a.updated_at + timeout)
            for a in alerts
        ]

    def _continue_adopted(self, alert: Alert) -> Alert:
        """A transition of an adopted alert keeps the stored start and incident labels."""
        stored = self._adopted.get(alert.fingerprint)
        if stored is None:
            return alert
        if alert.status == "resolved":
            del self._adopted[alert.fingerprint]
        keep = {k: v for k, v in stored.labels.items() if k in ("incident", "origin")}
        return replace(alert, starts_at=stored.starts_at, labels={**alert.labels, **keep})

    def _stale_adopted(self, now: float) -> list[Alert]:
        """Adopted alerts whose series never came back: resolved as stale."""
        out = []
        for fp, alert in list(self._adopted.items()):
            if alert.source == "rule":
                stale_after = self.config.rules.stale_after
            else:
                stale_after = self.policy.service(alert.service).stale_after
            if now - alert.updated_at >= stale_after and fp not in self._reobserved:
                del self._adopted[fp]
                annotations = {**alert.annotations, "stale": "true"}
                out.append(
                    replace(
                        alert,
                        status="resolved",
                        ends_at=now,
                        updated_at=now,
                        annotations=annotations,
                    )
                )
        return out

    # -- ingest ----------------------------------------------------------------------------

    def ingest(self, samples: Sequence[Sample], source: str = "json") -> IngestResult:
        """Detect on a batch, apply the policy and rules, record and route transitions.

        Histograms are followed as their quantiles (``ingest.histograms``), whichever way
        their buckets came: a counter sample named ``*_bucket`` with an ``le`` label (a JSON
        sample says ``"type": "counter"``; remote_write by metadata or name).
        """
        started = time.perf_counter()
        with self.lock:
            now = self.clock.now()
            sent = samples
            taken = self.histograms.take(samples)
            samples = taken.samples
            t0 = time.perf_counter()
            batch = self.detector.score(samples)
            self.metrics.detect_seconds.observe(time.perf_counter() - t0)
            transitions: list[Alert] = []
            for s in batch.scored:
                transitions += self._decide(s, now)
            if self.rule_metrics:
                late_ids = {id(s) for s in batch.late}
                rates = batch.rates()
                for sample in samples:
                    if sample.metric in self.rule_metrics and id(sample) not in late_ids:
                        # A counter's sample as the engine took it: its rate (NaN: the first,
                        # or a restart).
                        rate = rates.get(id(sample))
                        if rate is not None:
                            sample = replace(sample, value=rate, counter=False)
                        self.rules.observe(sample)
            self._record(transitions, now)
            # What was sent and taken: buckets gathered into quantiles count, the quantiles
            # derived from them do not.
            accepted = batch.points + taken.consumed - taken.derived
            late = taken.late + batch.late
            if taken.derived and batch.late:
                # A derived value refused as out of order (the sender also sends its name)
                # was never the sender's sample: not accepted, and not theirs to hear of.
                own = {id(s) for s in sent}
                ours = [s for s in batch.late if id(s) not in own]
                accepted += len(ours)
                late = taken.late + [s for s in batch.late if id(s) in own]
            self.metrics.samples.labels(source).inc(accepted)
            if late:
                self.metrics.rejected.labels(source, "out_of_order").inc(len(late))
            if batch.refused:
                self.metrics.rejected.labels(source, "series_limit").inc(len(batch.refused))
                self._warn_limit(now, len(batch.refused))
            self.metrics.series.set(self.detector.followed)
            self.metrics.peer_groups.set(self.detector.peers.judged)
        self.metrics.ingest_seconds.labels(source).observe(time.perf_counter() - started)
        if transitions and self.on_transitions is not None:
            self.on_transitions()
        return IngestResult(accepted, late, transitions, batch.refused)

    def _warn_limit(self, now: float, refused: int) -> None:
        """Say, once an hour, that new series are being refused (the counter says how many)."""
        if now - self._limit_warned >= RETIRE_EVERY:
            self._limit_warned = now
            log.warning(
                "detection.max_series (%d) reached: %d samples of new series refused; raise "
                "it, or send fewer series (remote_write's write_relabel_configs)",
                self.config.detection.max_series,
                refused,
            )

    def ingest_records(self, records: Sequence[Record], source: str = "records") -> IngestResult:
        """Aggregate records: each feature becomes a series of the record's service (its error
        rate and latencies over enough requests, ``ingest.records``), and the whole record
        a row for the service's multivariate detector."""
        with self.lock:
            pooled = self.record_pools.take(records)
            result = self.ingest(pooled.samples, source)
            # Statistics taken into a pool still gathering were accepted all the same.
            self.metrics.samples.labels(source).inc(pooled.waiting)
            now = self.clock.now()
            rows = [(r.service, r.timestamp, [r.values[f] for f in FEATURES]) for r in records]
            transitions: list[Alert] = []
            for s in self.records.score(rows):
                transitions += self._decide(s, now)
            self._record(transitions, now)
        return IngestResult(
            result.accepted + pooled.waiting,
            result.late,
            result.transitions + transitions,
            result.refused,
        )

    def ingest_alerts(self, alerts: Sequence[ExternalAlert]) -> list[Alert]:
        """Alerts from existing Prometheus rules join the same grouping and routing.

        One sent without ``startsAt`` continues its fingerprint's episode going on, as
        Alertmanager keeps one alert per fingerprint while it fires (``to_alert``): the
        store, the truth after a restart, says which that is. Alerts are stored by
        fingerprint and start, so taking "now" as the start made every re-send a new alert.
        A firing one resolves at its ``endsAt`` unless sent again (``alert.external``).
        """
        with self.lock:
            now = self.clock.now()
            latest = self.store.latest_episodes(a.fingerprint for a in alerts if not a.start_given)
            timeout = self.config.ingest.alerts.resolve_timeout
            mapped = [
                to_alert(
                    a,
                    now=now,
                    mode=self.policy.service(a.labels.get("service", "")).mode,
                    latest=latest.get(a.fingerprint),
                    resolve_timeout=timeout,
                )
                for a in alerts
            ]
            self._record(mapped, now)
            self.expiries.take(mapped)
        if mapped and self.on_transitions is not None:
            self.on_transitions()
        return mapped

    def add_events(self, events: Iterable[ChangeEvent]) -> list[int]:
        """Record change events; maintenance and load-test windows hold alerts back, and a
        deployment's restart explains its service's memory falling (``detect.restarts``)."""
        with self.lock:
            batch = list(events)
            ids = self.store.add_events(batch)  # all or none
            for event in batch:
                self._note_window(event)
                if event.kind in RESTART_KINDS:
                    self._restarted(event)
            return ids

    def _restarted(self, event: ChangeEvent) -> None:
        """A deployment restarted its service: its series' falls are the restart's
        (``detect.restarts``), and so are the alerts of falls under way before the event
        came (posted once the rollout finished), closed now, before they page."""
        config = self.config.detection.restarts
        explained = self.detector.expect_restart(event.service, event.timestamp, config)
        now = self.clock.now()
        closed = [a for sid in explained for a in self.policy.explain(sid, now)]
        if closed:
            self._record(closed, now)

    def _note_window(self, event: ChangeEvent) -> None:
        span = event.window()
        if span is None:
            return
        what = event.description or event.kind.replace("_", " ")
        self.windows.setdefault(event.service, []).append((*span, what))

    def hold_reason(self, service: str, t: float) -> str | None:
        """Why new alerts of a service are held back at time t (a maintenance window)."""
        for start, end, what in self.windows.get(service, ()):
            if start <= t <= end:
                return f"{what} (until {time.strftime('%H:%M', time.gmtime(end))} UTC)"
        return None

    def _decide(self, s: Scored, now: float) -> list[Alert]:
        hold = self.hold_reason(s.service, s.timestamp) or (YOUNG_HOLD if s.young else None)
        out = self.policy.observe(s, max(now, s.timestamp), hold=hold)
        for alert in out:
            self.series_of[alert.fingerprint] = s.series
            context = None
            if alert.status == "firing":
                context = {
                    "series": s.series,
                    "window": self._window(s).to_json(),
                    "value": s.value,
                    "expected": s.expected,
                    "band": [s.lower, s.upper],
                    "kind": s.kind.label,
                    "detail": s.detail if s.detail == s.detail else None,
                }
            self._alert_context[alert.fingerprint] = context
        threshold = self.policy.threshold(s.service, s.metric)
        if s.score >= threshold and hold is None:
            self.metrics.anomalies.inc()
            self._pending_anomalies.append(s)
        return out

    def _window(self, s: Scored) -> Context:
        """The recent points that explain s: a peer outlier's against its peers' median."""
        if s.kind == Kind.OUTLIER:
            return self.detector.peer_context(s.series, (s.upper - s.lower) / 2.0)
        return self.detector.context(_context_series(s))

    # -- alerts ----------------------------------------------------------------------------

    def _record(self, transitions: Sequence[Alert], now: float) -> None:
        """Store each transition with its history, watch its series, push it down the pipeline."""
        if self._adopted:
            self._reobserved.update(a.fingerprint for a in transitions)
            transitions = [
                a if a.fingerprint in self._adopted else self.correlator.assign(a, now)
                for a in transitions
            ]
            transitions = [self._continue_adopted(a) for a in transitions]
        else:
            transitions = [self.correlator.assign(a, now) for a in transitions]
        for alert in transitions:
            context = self._alert_context.pop(alert.fingerprint, None)
            alert_id = self.store.upsert_alert(alert, context=context)
            state = (alert.starts_at, alert.status, alert.severity)
            if self._history_state.get(alert.fingerprint) != state:
                self.store.add_history(
                    alert_id,
                    now,
                    "state",
                    {"status": alert.status, "severity": alert.severity, "score": alert.score},
                )
            if alert.status == "firing":
                self._history_state[alert.fingerprint] = state
            else:
                self._history_state.pop(alert.fingerprint, None)
            self.metrics.alerts.labels(alert.source, alert.status).inc()
            sid = self.series_of.get(alert.fingerprint)
            if sid is not None:
                self.detector.watch([sid], on=alert.status == "firing")
            if alert.status == "resolved":
                self.pipeline.silencer.alert_resolved(alert, now)
        for s in self._pending_anomalies:
            self.store.add_anomaly(s, _window_pairs(self.detector, _context_series(s)))
        self._pending_anomalies.clear()
        self.pipeline.push(transitions, now)

    def tick(self) -> list[Notification]:
        """Time-driven work: resolves, rule evaluation, group flushes into the outbox."""
        with self.lock:
            now = self.clock.now()
            self.tuner.tick(now)
            self._retire(now)
            transitions = self.policy.tick(now) + self.rules.evaluate(now)
            if self._adopted:
                transitions += self._stale_adopted(now)
            expired = self.expiries.due(now)
            self._record(transitions + expired, now)
            self.expiries.take(expired)
            notes = self.pipeline.tick(now)
            self._enqueue(notes, now)
            self.metrics.firing.set(len(self.pipeline.firing()))
            # Checkpoints protect against crashes, which happen in wall time: a replay racing
            # through a week of data checkpoints by the wall clock too, not every simulated minute.
            due = time.monotonic() - self.last_checkpoint >= self.config.storage.checkpoint_interval
        if due:  # outside the lock: the checkpoint writes without holding it
            self.checkpoint()
        return notes

    def _retire(self, now: float) -> None:
        """Forget, once an hour, the series silent for ``detection.retire_after`` while the
        others kept reporting.

        Silence is measured on the data's clock (against the newest sample taken), and only
        once data has flowed for a whole pass: a service restarted after a long stop, or a
        source that was down, gives every series an hour to report before any is retired.
        """
        after = self.config.detection.retire_after
        if after <= 0 or now - self._last_retire < RETIRE_EVERY:
            return
        self._last_retire = now
        newest, previous = self.detector.newest, self._newest
        self._newest = newest
        if not newest > previous:  # nothing new since the last pass: the data stopped
            self._flowing = False
            return
        if not self._flowing:  # data (again) since the last pass: wait a pass
            self._flowing = True
            return
        self.histograms.retire(newest - after)
        self.record_pools.retire(newest - after)
        # A member's peer alerts carry its peer verdicts' id, which retiring the member
        # forgets as well: their alerts' entries go with it.
        peer_ids = set(self.detector.peer_sids)
        gone = set(self.detector.retire(newest - after))
        if gone:
            forgotten = gone | (peer_ids - self.detector.peer_sids.keys())
            self.series_of = {fp: sid for fp, sid in self.series_of.items() if sid not in forgotten}
            self.metrics.retired.inc(len(gone))
            log.info("retired %d series without a sample for %.0f s", len(gone), after)

    def _enqueue(self, notes: Sequence[Notification], now: float) -> None:
        for note in notes:
            new = self.outbox.enqueue(note, now)
            self._next_delivery = min(self._next_delivery, now)
            self._enqueued += 1
            self.metrics.notifications.labels(note.receiver, note.status).inc()
            if not new:
                continue
            for alert in note.alerts:
                row = self.store.find_alert(alert.fingerprint, alert.starts_at)
                if row is not None:
                    self.store.add_history(
                        row.id,
                        now,
                        "notification",
                        {
                            "receiver": note.receiver,
                            "status": note.status,
                            "tier": note.tier,
                            "acknowledged": note.acknowledged,
                            "key": note.key,
                        },
                    )

    def deliver(self) -> None:
        """Hand due notifications to their receivers (outside the lock: network I/O).

        The outbox is only asked when something can be due: after an enqueue, at the
        earliest scheduled retry, or once after start (what a crash left pending), which
        spares a replay a query per simulated minute.
        """
        now = self.clock.now()
        if now < self._next_delivery:
            return
        started = time.perf_counter()
        seen = self._enqueued
        report = self.outbox.deliver_due(now)
        retries = [o.next_attempt_at for o in report.outcomes if o.next_attempt_at is not None]
        full = len(report.outcomes) >= 100  # a full page: more may be waiting
        with self.lock:
            if self._enqueued == seen:  # nothing new arrived while we were sending
                self._next_delivery = now if full else min(retries, default=float("inf"))
        self.metrics.delivery_seconds.observe(time.perf_counter() - started)
        for outcome in ("sent", "retried", "failed"):
            count = getattr(report, outcome, 0)
            if count:
                self.metrics.deliveries.labels(outcome).inc(count)

    # -- people ----------------------------------------------------------------------------

    def ack(self, alert_id: int, by: str) -> bool:
        """Acknowledge: stops escalation, tells paging receivers, records who."""
        with self.lock:
            now = self.clock.now()
            row = self.store.get_alert(alert_id)
            if row is None:
                return False
            self.store.ack(alert_id, now, by)
            self.store.add_history(alert_id, now, "ack", {"by": by})
            self._enqueue(self.pipeline.ack(row.fingerprint, now, by), now)
            return True

    def feedback(self, alert_id: int, helpful: bool, comment: str) -> FeedbackResult | None:
        """Record "helpful / not helpful" on an alert; its threshold follows (None: no alert)."""
        with self.lock:
            now = self.clock.now()
            row = self.store.get_alert(alert_id)
            if row is None:
                return None
            fid = self.store.add_feedback(alert_id, now, helpful, comment)
            self.store.add_history(
                alert_id, now, "feedback", {"helpful": helpful, "comment": comment}
            )
            service, metric = row.service, row.labels.get("metric", "")
            if row.source == TUNED_SOURCE:
                change = self.tuner.retune(service, metric, now)
            else:
                change = self.tuner.untuned(service, metric, row.source)
            self.store.add_history(alert_id, now, "sensitivity", change.to_json())
            return FeedbackResult(fid, alert_id, helpful, comment, change)

    def reset_sensitivity(self, service: str, metric: str, by: str) -> ThresholdChange:
        """Back to the configured threshold: feedback given before now stops counting."""
        with self.lock:
            change = self.tuner.retune(service, metric, self.clock.now(), reset=True)
            log.info("sensitivity of %s/%s reset by %s", service, metric, by)
            return change

    def set_mode(self, service: str, mode: Mode | None, by: str) -> None:
        """Switch a service's rollout mode at runtime (None: back to the configured one).

        Alerts already open keep what the pipeline decided; their next transition carries
        the new mode (a firing update of a service switched to shadow no longer notifies),
        and a resolve still reaches whoever heard the firing.
        """
        with self.lock:
            self.policy.set_mode(service, mode)
            self.store.set_service_mode(service, mode, self.clock.now(), by)
            log.info("mode of %s set to %s by %s", service, mode or "the configured one", by)

    def add_silence(self, silence: Silence) -> Silence:
        """Create or replace a silence; returns what is stored (it may carry a new id)."""
        with self.lock:
            return self.pipeline.silencer.add(silence, self.clock.now())

    def expire_silence(self, silence_id: str) -> bool:
        """End a silence now."""
        with self.lock:
            if self.pipeline.silencer.get(silence_id) is None:
                return False
            self.pipeline.silencer.expire(silence_id, self.clock.now())
            return True

    def _persist_silences(self, silences: Sequence[Silence]) -> None:
        """Every silence change reaches the store before memory (the store is the truth after
        a restart); the silences of one change in one transaction, so replacing an active
        silence never leaves it expired without its successor."""
        now = self.clock.now()
        self.store.save_silences([silence_to_row(s, now) for s in silences])


def silence_from_row(row: SilenceRow) -> Silence:
    """A stored silence, back as the alert package's value."""
    return Silence.from_dict(
        {
            "id": row.id,
            "matchers": row.matchers,
            "starts_at": row.starts_at,
            "ends_at": row.ends_at,
            "created_by": row.created_by,
            "comment": row.comment,
            "until_resolved": row.until_resolved,
        }
    )


def silence_to_row(silence: Silence, now: float) -> SilenceRow:
    """A silence as the store keeps it."""
    d = silence.to_dict()
    return SilenceRow(
        id=d["id"],
        matchers=d["matchers"],
        starts_at=d["starts_at"],
        ends_at=d["ends_at"],
        created_by=d["created_by"],
        comment=d["comment"],
        until_resolved=d["until_resolved"],
        updated_at=now,
    )


def _context_series(s: Scored) -> str:
    """The series whose recent values explain s (a record alert: its most deviating feature)."""
    feature = s.labels.get("feature")
    if s.metric == "record" and feature:
        return series_id(feature, {"service": s.service})
    if s.kind == Kind.OUTLIER:  # a member against its peers: the member's own values
        return series_id(s.metric, {k: v for k, v in s.labels.items() if k != PEERS_LABEL})
    return s.series


def _window_pairs(detector: StreamDetector, sid: str) -> list[tuple[float, float]]:
    ctx = detector.context(sid)
    return [(t, v) for t, v in zip(ctx.times, ctx.values, strict=True) if t == t and v == v]


def _rule_metrics(config: Config) -> frozenset[str]:
    names: set[str] = set()
    rules = config.rules
    for group in (rules.static, rules.dynamic, rules.week_over_week):
        names.update(r.metric for r in group)
    for slo in rules.slos:
        names.update(m for m in (slo.errors, slo.total, slo.error_ratio) if m)
    return frozenset(names)


__all__ = [
    "App",
    "Clock",
    "EventClock",
    "FeedbackResult",
    "IngestResult",
    "WallClock",
    "series_id",
]
