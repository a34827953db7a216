"""Value types shared by every stage: what flows from ingest to detect to alert to notify.

Stages pass these frozen dataclasses to each other, never dictionaries or hidden context
(STYLE.md §4). Times are event times in unix seconds (floats): the clock follows the data in
replay and the wall clock in the live service, and the stages cannot tell the difference.

Labels are plain ``dict[str, str]`` (kept out of hashing and never mutated after
construction); :func:`fingerprint` gives the stable identity of a label set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

Labels = dict[str, str]
Status = Literal["firing", "resolved"]
Severity = Literal["P1", "P2", "P3"]
Mode = Literal["shadow", "assistive", "alerting"]
Source = Literal["anomaly", "rule", "external"]

SEVERITIES: tuple[Severity, ...] = ("P1", "P2", "P3")
MODES: tuple[Mode, ...] = ("shadow", "assistive", "alerting")
EVENT_KINDS = frozenset(
    {"deployment", "rollback", "config", "feature_flag", "maintenance", "load_test"}
)
#: The kinds of event that are windows (with an ``end``): new alerts of their service are
#: held back during them.
WINDOW_KINDS = frozenset({"maintenance", "load_test"})
#: A window event sent without an ``end`` holds alerts back this long (seconds).
DEFAULT_WINDOW = 3600.0


class Kind(IntEnum):
    """What an anomaly looks like; stored as a small int in the batch engine's arrays."""

    NONE = 0
    SPIKE = 1
    DROP = 2
    LEVEL_SHIFT = 3
    TREND = 4
    PREDICTED_BREACH = 5
    MULTIVARIATE = 6
    #: One member of a group unlike its peers (``detect.peers``).
    OUTLIER = 7
    #: A noisy series that stopped moving (``detect.flatline``).
    FLATLINE = 8

    @property
    def label(self) -> str:
        """The name users see ("level shift", not "LEVEL_SHIFT")."""
        return self.name.lower().replace("_", " ")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable 16-hex-digit identity of a label set (order-independent).

    >>> fingerprint({"b": "2", "a": "1"}) == fingerprint({"a": "1", "b": "2"})
    True
    >>> len(fingerprint({}))
    16
    """
    h = hashlib.sha256()
    for k in sorted(labels):
        h.update(k.encode())
        h.update(b"\xff")
        h.update(labels[k].encode())
        h.update(b"\xfe")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Sample:
    """One metric value at one time. ``labels["service"]`` names the service.

    ``counter``: the value is a counter's running total (``ingest.counters``), which the
    engine follows as its per-second rate (``detect.counters``).
    """

    metric: str
    labels: Labels = field(hash=False)
    timestamp: float
    value: float
    counter: bool = False

    @property
    def service(self) -> str:
        """The service label ('' when missing)."""
        return self.labels.get("service", "")


@dataclass(frozen=True)
class ChangeEvent:
    """A change near which anomalies are expected: a deployment, a rollback, a flag flip...

    ``end`` is set for windows (maintenance, load test): context that explains, or holds
    back, what happens during them.
    """

    kind: str
    service: str
    timestamp: float
    version: str | None = None
    description: str = ""
    link: str | None = None
    end: float | None = None

    def window(self) -> tuple[float, float] | None:
        """The span a maintenance or load-test window holds new alerts of its service back
        (``end``, or ``DEFAULT_WINDOW`` after its start); None for other kinds."""
        if self.kind not in WINDOW_KINDS:
            return None
        return self.timestamp, self.end if self.end is not None else self.timestamp + DEFAULT_WINDOW


@dataclass(frozen=True)
class Scored:
    """The detection engine's verdict on one sample of one series.

    ``band`` is (lower, upper) of the baseline; ``window`` the recent values (time, value)
    kept so an alert can be explained later without a metrics database.
    """

    series: str  # the series fingerprint
    metric: str
    labels: Labels = field(hash=False)
    timestamp: float
    value: float
    score: float
    kind: Kind
    expected: float
    lower: float
    upper: float
    reason: str
    #: Kind-specific: minutes to breach for PREDICTED_BREACH; for a SPIKE or DROP the
    #: step from the previous point fired, its sigmas (NaN: the distance from the level);
    #: for a LEVEL_SHIFT back to the level left when a shift was accepted (a return), the
    #: minutes since that acceptance (NaN: a shift of its own).
    detail: float = float("nan")
    #: The series is too young to alert (``Step.mature``): scored, never paged (the app
    #: holds it, so no anomaly is recorded either).
    young: bool = False

    @property
    def service(self) -> str:
        """The service label ('' when missing)."""
        return self.labels.get("service", "")


#: An alert's episode as the store knows it: its start, and its end (None: firing).
Episode = tuple[float, float | None]


@dataclass(frozen=True)
class Alert:
    """One alert as the pipeline sees it at one moment (a snapshot, never mutated).

    ``labels`` always carry ``alertname``, ``service`` and ``severity``; anomaly alerts add
    ``metric``. ``annotations`` carry ``summary`` (the reason) and ``runbook_url``.
    ``ends_at`` is None while firing.

    ``expires_at``: when a firing external alert resolves unless it is sent again before
    (its sender's ``endsAt``, ``alert.external``); None for every other alert.
    """

    fingerprint: str
    labels: Labels = field(hash=False)
    annotations: Labels = field(hash=False)
    starts_at: float
    ends_at: float | None
    status: Status
    score: float
    severity: Severity
    mode: Mode
    source: Source
    updated_at: float
    expires_at: float | None = None

    @property
    def service(self) -> str:
        """The service label ('' when missing)."""
        return self.labels.get("service", "")

    @property
    def name(self) -> str:
        """The alertname label."""
        return self.labels.get("alertname", "")


@dataclass(frozen=True)
class Notification:
    """One message to one receiver about one group of alerts.

    ``key`` is deterministic (group, receiver, status, tier, acknowledged, ``sequence``),
    so that re-running the pipeline after a crash enqueues the same key and the outbox sends
    it once. ``tier`` is the escalation tier (0 = first responders). ``acknowledged`` marks
    the message that tells a receiver someone took the alert (PagerDuty's acknowledge event);
    ``taken`` is that alert's fingerprint (the message lists the group's firing alerts).
    ``route`` (the route's id) and ``sequence`` (the message's number among those to its
    receiver about its group; -1 when unknown, enqueued before it was recorded) let a
    restarted pipeline catch up with what the outbox says was told
    (:meth:`anomalert.alert.pipeline.Pipeline.catch_up`).
    """

    key: str
    receiver: str
    group_key: str
    group_labels: Labels = field(hash=False)
    status: Status
    alerts: tuple[Alert, ...]
    time: float
    severity: Severity
    tier: int = 0
    acknowledged: bool = False
    route: str = ""
    sequence: int = -1
    taken: str = ""

    @property
    def firing(self) -> tuple[Alert, ...]:
        """The alerts still firing."""
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[Alert, ...]:
        """The alerts that resolved."""
        return tuple(a for a in self.alerts if a.status == "resolved")
