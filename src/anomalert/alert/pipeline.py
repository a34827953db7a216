"""The noise-reduction pipeline, composed: alerts in, notifications out.

Intake (``push``), in order: drop snapshots that tell nothing new; let "until resolved"
silences end with their alert; route only alerts whose service is in ``alerting`` mode
(shadow and assistive alerts are recorded by the service, never notified); track inhibition
sources; put the alert into its groups.

Every ``tick``, each due group flush runs through one line of stages, as in Alertmanager::

    mute(inhibit, silence) -> dedup(notification log) -> escalate -> notify

Muting never hides the resolution of an alert the receiver was told fires: an alert that
paged always sends its resolve, silenced or not. Every stage is a small class with one method
over a frozen :class:`~anomalert.alert.group.GroupFlush`, so the line reads as what it does.

Notification keys hash (group, receiver, status, tier, acknowledged, n) where n counts the
messages to that receiver about that group; n is in the snapshot, so a crash-restart that
re-runs from the last snapshot produces the same keys and the outbox drops the repeats.

A snapshot can be older than messages already enqueued (a crash between two checkpoints):
``catch_up`` takes those messages back from the outbox, so the counts go on past them (a
rewound n numbered the group's next news like a message already sent, and the outbox
refused it as a repeat: the news was lost) and what each receiver was told, each escalation
tier paged and each acknowledgement is known again (nothing told is told twice).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from anomalert.alert.dedup import NotificationLog
from anomalert.alert.escalation import EscalationConfig, Escalator
from anomalert.alert.group import Dispatcher, GroupFlush, decode_alert, encode_alert
from anomalert.alert.inhibit import Inhibitor, InhibitRule
from anomalert.alert.matchers import Muter
from anomalert.alert.route import Route, id_at_position, is_positional, key_at_position
from anomalert.alert.silence import Silencer
from anomalert.errors import ConfigError
from anomalert.model import SEVERITIES, Alert, Labels, Notification, Status

SNAPSHOT_VERSION = 2
#: Snapshots (and outbox messages) that named routes by position, before ids followed the
#: matchers (see :mod:`anomalert.alert.route`); read by translating them (``restore``).
POSITIONAL_SNAPSHOT_VERSION = 1


class Gate(Protocol):
    """Does this alert go on to the next intake step?"""

    def admits(self, alert: Alert) -> bool: ...


class Stage(Protocol):
    """One step between a group flush and the notifications it becomes (0, 1 or more)."""

    def run(self, flush: GroupFlush) -> Sequence[GroupFlush]: ...


class Changed:
    """Admits a snapshot only when it differs from the last one seen for its fingerprint.

    Upstream re-sends firing alerts on every evaluation; only a change of status, severity,
    mode, score (to 2 decimals) or summary is worth the pipeline's time.
    """

    def __init__(self) -> None:
        self.seen: dict[str, Alert] = {}

    def admits(self, alert: Alert) -> bool:
        last = self.seen.get(alert.fingerprint)
        if last is not None and _essence(last) == _essence(alert):
            return False
        if alert.status == "firing":
            self.seen[alert.fingerprint] = alert
        else:
            self.seen.pop(alert.fingerprint, None)
        return True


class Alerting:
    """Admits alerts of services allowed to notify (trust is earned in stages), P1 and P2.

    P3 is "dashboard only" (PRODUCT.md §5): recorded and shown, never sent; an alert whose
    severity later rises to P2 is admitted from then on.

    A resolve passes whatever its mode: if the alert fired while its service was alerting,
    whoever heard that must hear the end even after the service went back to shadow mode (a
    resolve that no group holds is dropped by the dispatcher).
    """

    def admits(self, alert: Alert) -> bool:
        notifies = alert.mode == "alerting" and alert.severity != "P3"
        return notifies or alert.status == "resolved"


class Mute:
    """Drops alerts a muter mutes, except the resolution of one the receiver was told fires."""

    def __init__(self, muters: Sequence[Muter], log: NotificationLog) -> None:
        self._muters = muters
        self._log = log

    def run(self, flush: GroupFlush) -> Sequence[GroupFlush]:
        kept = tuple(a for a in flush.alerts if not self._muted(flush, a))
        return (replace(flush, alerts=kept),) if kept else ()

    def _muted(self, flush: GroupFlush, alert: Alert) -> bool:
        if alert.status == "resolved" and self._log.was_firing(
            flush.group_key, flush.receiver, alert.fingerprint
        ):
            return False
        return any(m.mutes(alert.labels, flush.now) for m in self._muters)


class Dedup:
    """Passes a flush only when it tells its receiver something new; logs what passes."""

    def __init__(self, log: NotificationLog) -> None:
        self._log = log

    def run(self, flush: GroupFlush) -> Sequence[GroupFlush]:
        if not self._log.needs_notify(flush, flush.now):
            return ()
        self._log.log(flush)
        return (flush,)


class Escalate:
    """Passes the flush on, plus what escalation adds (immediate tiers, tier resolutions)."""

    def __init__(self, escalator: Escalator) -> None:
        self._escalator = escalator

    def run(self, flush: GroupFlush) -> Sequence[GroupFlush]:
        return (flush, *self._escalator.notified(flush))


class Chain:
    """Stages in order; each output of one stage is the input of the next."""

    def __init__(self, *stages: Stage) -> None:
        self._stages = stages

    def run(self, flush: GroupFlush) -> Sequence[GroupFlush]:
        flushes: Sequence[GroupFlush] = (flush,)
        for stage in self._stages:
            flushes = [out for f in flushes for out in stage.run(f)]
        return flushes


class Notify:
    """Turns flushes into notifications with deterministic keys."""

    def __init__(self) -> None:
        self.sequence: dict[tuple[str, str], int] = {}

    def notification(self, flush: GroupFlush) -> Notification:
        n = self.sequence.get((flush.group_key, flush.receiver), 0)
        self.sequence[(flush.group_key, flush.receiver)] = n + 1
        firing = [a for a in flush.alerts if a.status == "firing"]
        status: Status = "firing" if firing else "resolved"
        ranked = firing or list(flush.alerts)
        severity = min((a.severity for a in ranked), key=SEVERITIES.index)
        raw = json.dumps(
            [flush.group_key, flush.receiver, status, flush.tier, flush.acknowledged, n]
        )
        return Notification(
            key=hashlib.sha256(raw.encode()).hexdigest()[:32],
            receiver=flush.receiver,
            group_key=flush.group_key,
            group_labels=dict(flush.group_labels),
            status=status,
            alerts=flush.alerts,
            time=flush.now,
            severity=severity,
            tier=flush.tier,
            acknowledged=flush.acknowledged,
            route=flush.route.id,
            sequence=n,
            taken=flush.taken,
        )


class Pipeline:
    """Alerts in (``push``), notifications out (``tick``, ``ack``); state in ``snapshot``."""

    def __init__(
        self,
        route: Route,
        silencer: Silencer,
        inhibit_rules: Sequence[InhibitRule] = (),
        escalations: Mapping[str, EscalationConfig] = {},
    ) -> None:
        _check_escalations(route, escalations)
        self.route = route
        self._inhibitor = Inhibitor(inhibit_rules)
        self._changed = Changed()
        self._alerting = Alerting()
        self._dispatcher = Dispatcher(route)
        self._log = NotificationLog()
        self._escalator = Escalator(escalations)
        self._notify = Notify()
        # Messages naming their route by position were all enqueued before the first snapshot
        # of this version was taken, which counts them: they are news to catch up with only
        # while no such snapshot was restored (and, by then, a position may name another
        # route).
        self._positional_may_be_news = True
        self.silencer = silencer

    @property
    def silencer(self) -> Silencer:
        """The silences (public: the service's silence API adds and expires through it)."""
        return self._silencer

    @silencer.setter
    def silencer(self, silencer: Silencer) -> None:
        self._silencer = silencer
        self._compose()

    def _compose(self) -> None:
        """The per-receiver pipeline in one line (recomposed when the silencer is swapped)."""
        self._mute = Mute((self._inhibitor, self._silencer), self._log)
        self._per_receiver = Chain(self._mute, Dedup(self._log), Escalate(self._escalator))

    def push(self, alerts: Iterable[Alert], now: float) -> None:
        """Take alert snapshots in; nothing is sent before the next ``tick``."""
        for alert in alerts:
            if not self._changed.admits(alert):
                continue
            if alert.status == "resolved":
                self.silencer.alert_resolved(alert, now)
            if self._alerting.admits(alert):
                self._inhibitor.observe(alert)
                self._dispatcher.add(alert, now)

    def tick(self, now: float) -> list[Notification]:
        """The notifications due at ``now``: group flushes, then escalation pages."""
        flushes = [f for flush in self._dispatcher.due(now) for f in self._per_receiver.run(flush)]
        pages = [f for page in self._escalator.due(now) for f in self._mute.run(page)]
        return [self._notify.notification(f) for f in (*flushes, *pages)]

    def ack(self, fingerprint: str, now: float, by: str) -> list[Notification]:
        """Someone took the alert: stop escalating its groups, tell whoever was paged.

        ``by`` is recorded by the service; receivers only learn that it was acknowledged.
        """
        acks = (*self._log.ack(fingerprint, now), *self._escalator.ack(fingerprint, now))
        return [self._notify.notification(f) for f in acks]

    def catch_up(self, told: Iterable[Notification]) -> int:
        """Take in messages that were enqueued after this state's snapshot; returns how many.

        ``told`` is what the outbox holds, in the order it was enqueued; a message the
        snapshot already counted (its ``sequence`` is below the group's count for its
        receiver) is skipped, so any earlier stretch of the outbox may be passed. Each newer
        one moves its group's count past it and replays what sending it did after
        deduplication: the notification log learns what the receiver was told, the
        escalator what its tiers paged and which episodes were acknowledged. The groups
        themselves are not rebuilt here (the service pushes the firing alerts again).

        A message enqueued before route ids followed the matchers names its route by
        position: it is read as the route at that position now (the snapshot before it was
        taken with this configuration), or skipped when restored state already counts it.
        """
        caught = 0
        for message in told:
            n = self._current_ids(message)
            if n is None:
                continue
            pair = (n.group_key, n.receiver)
            if n.sequence < self._notify.sequence.get(pair, 0):
                continue
            self._notify.sequence[pair] = n.sequence + 1
            caught += 1
            route = self.route.find(n.route)
            if route is None:  # the configuration changed: only the count is kept
                continue
            # A group told about under an older key scheme keeps its key (its receivers know
            # it by that): the firing alerts pushed back join it there.
            self._dispatcher.keep_key(route, n.group_labels, n.group_key)
            flush = GroupFlush(
                group_key=n.group_key,
                route=route,
                group_labels=dict(n.group_labels),
                alerts=n.alerts,
                now=n.time,
                receiver=n.receiver,
                tier=n.tier,
                acknowledged=n.acknowledged,
                taken=n.taken,
            )
            # The escalator readdresses a flush to a tier's receiver; a tier 0 on the route's
            # own receiver is the route's message itself, never sent twice.
            escalated = n.tier > 0 or n.receiver != route.receiver
            if n.acknowledged:
                if not escalated:
                    self._log.caught_up_ack(flush)
                self._escalator.caught_up(flush)
            elif escalated:
                self._escalator.caught_up(flush)
            else:
                self._log.log(flush)
                self._escalator.notified(flush)  # the pages it set off follow in ``told``
        return caught

    def _current_ids(self, n: Notification) -> Notification | None:
        """``n`` naming its route by the current id (None: nothing to take); its group key
        stays the one its receiver knows (``Dispatcher.keep_key``)."""
        if not is_positional(n.route):
            return n
        if not self._positional_may_be_news:
            return None
        route = id_at_position(self.route, n.route)
        return None if route is None else replace(n, route=route)

    def firing(self) -> list[Alert]:
        """Every firing alert pushed (all modes), oldest first."""
        return sorted(self._changed.seen.values(), key=lambda a: (a.starts_at, a.fingerprint))

    def muted_by(self, labels: Labels, now: float) -> list[str]:
        """Why an alert with these labels is quiet: silence ids, then ``inhibited by <fp>``."""
        silences = self.silencer.silenced_by(labels, now)
        inhibited = self._inhibitor.inhibited_by(labels, now)
        return [*silences, *(f"inhibited by {fp}" for fp in inhibited)]

    def next_due(self) -> float | None:
        """The earliest time a ``tick`` can produce something (None: only after a push)."""
        times = (self._dispatcher.next_due(), self._escalator.next_due())
        return min((t for t in times if t is not None), default=None)

    def snapshot(self) -> bytes:
        """Groups, notification log, escalation episodes, message counters (not silences:
        the service stores those as they change)."""
        state = {
            "version": SNAPSHOT_VERSION,
            "seen": [encode_alert(a) for a in self.firing()],
            "groups": self._dispatcher.snapshot(),
            "nflog": self._log.snapshot(),
            "escalations": self._escalator.snapshot(),
            "sequence": [[g, r, n] for (g, r), n in sorted(self._notify.sequence.items())],
        }
        return json.dumps(state, sort_keys=True).encode()

    def restore(self, data: bytes) -> None:
        """Continue from a snapshot; groups, log entries and episodes of routes the
        configuration no longer has are dropped. A snapshot of the version before route ids
        followed the matchers was taken with this configuration (the upgrade changes no
        config): its positions are read as the routes at them now, so nothing told is told
        again at the upgrade."""
        state = json.loads(data)
        version = state.get("version")
        if version == POSITIONAL_SNAPSHOT_VERSION:
            state = _from_positional(state, self.route)
        elif version != SNAPSHOT_VERSION:
            raise ValueError(f"unknown pipeline snapshot version {version!r}")
        self._positional_may_be_news = version == POSITIONAL_SNAPSHOT_VERSION
        seen = [decode_alert(a) for a in state["seen"]]
        self._changed.seen = {a.fingerprint: a for a in seen}
        self._inhibitor.clear()
        for alert in seen:
            if self._alerting.admits(alert):  # seen holds firing alerts only
                self._inhibitor.observe(alert)
        self._dispatcher.restore(state["groups"])
        self._log.restore(state["nflog"], self.route)
        self._escalator.restore(state["escalations"], self.route)
        self._notify.sequence = {(g, r): int(n) for g, r, n in state["sequence"]}


def _from_positional(state: dict[str, Any], tree: Route) -> dict[str, Any]:
    """A version 1 snapshot's state with every route id read by position in ``tree``
    (:func:`~anomalert.alert.route.id_at_position`); what names a position the tree does not
    have is left out, as a removed route's state is at any restore. Group keys are kept as
    they were: the receivers know the groups open at the upgrade by them (``Dispatcher``
    keeps such a group's key until it ends)."""

    def known(group_key: str) -> bool:
        return key_at_position(tree, group_key) is not None

    def flush(data: dict[str, Any]) -> dict[str, Any] | None:
        route = id_at_position(tree, data["route"])
        return None if route is None or not known(data["group_key"]) else {**data, "route": route}

    groups = []
    for item in state["groups"]:
        route = id_at_position(tree, item["route"])
        if route is not None and known(item["key"]):
            groups.append({**item, "route": route})
    nflog = [
        {**item, "flush": f} for item in state["nflog"] if (f := flush(item["flush"])) is not None
    ]
    escalations = [
        {**item, "last": f}
        for item in state["escalations"]
        if known(item["group_key"]) and (f := flush(item["last"])) is not None
    ]
    sequence = [entry for entry in state["sequence"] if known(entry[0])]
    return {
        **state,
        "version": SNAPSHOT_VERSION,
        "groups": groups,
        "nflog": nflog,
        "escalations": escalations,
        "sequence": sequence,
    }


def _essence(alert: Alert) -> tuple[object, ...]:
    """What makes a snapshot news; the score only to 2 decimals (it jitters every tick)."""
    return (
        alert.status,
        alert.severity,
        alert.mode,
        round(alert.score, 2),
        alert.annotations.get("summary", ""),
    )


def _check_escalations(route: Route, escalations: Mapping[str, EscalationConfig]) -> None:
    """Every escalation a route names exists; reported where it is set, not where inherited."""
    problems: list[tuple[str, str]] = []

    def visit(node: Route, inherited: str | None) -> None:
        name = node.escalation
        if name is not None and name != inherited and name not in escalations:
            problems.append((f"{node.where}.escalation", f"no escalation named {name!r}"))
        for child in node.routes:
            visit(child, name)

    visit(route, None)
    if problems:
        raise ConfigError("config", problems)
