"""Related alerts across services become one incident (PRODUCT.md §4): one page, not five.

A slow database makes its callers slow too: five services alert within minutes, and
grouping by service would page five times for one cause. The correlator labels every alert
with an ``incident`` id: a new alert joins an open incident when its service is linked to
one of the incident's services in the dependency graph (either direction, up to
``max_hops`` edges) and the incident saw activity within ``window``; otherwise it opens a
new incident. Routes then group by ``incident`` and one incident is one notification group.

The label is decided once, when an alert first appears, and kept for its whole life (a
label that changed mid-alert would move it between groups). ``origin`` names the likely
origin service: the incident's service that the others depend on (the most downstream
dependency), the earliest to alert on a tie.
"""

from __future__ import annotations

import hashlib
import pickle
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from anomalert.configbase import Duration, StrictModel
from anomalert.model import Alert


class CorrelationConfig(StrictModel):
    """How alerts of related services are joined into one incident."""

    #: Join an incident only if it saw an alert this recently.
    window: Duration = 1800.0
    #: How far apart in the dependency graph two services may be and still share an incident.
    max_hops: int = 2
    enabled: bool = True


@dataclass
class _Incident:
    id: str
    services: dict[str, float]  # service -> when it first alerted in this incident
    last: float  # latest activity
    open_alerts: set[str] = field(default_factory=set)


class Correlator:
    """Assigns the ``incident`` and ``origin`` labels; one incident per related cascade."""

    def __init__(
        self, graph: Mapping[str, Sequence[str]], config: CorrelationConfig | None = None
    ) -> None:
        self.config = config or CorrelationConfig()
        self.neighbours: dict[str, set[str]] = {}
        for svc, deps in graph.items():
            for dep in deps:
                self.neighbours.setdefault(svc, set()).add(dep)
                self.neighbours.setdefault(dep, set()).add(svc)
        self.depends = {svc: set(deps) for svc, deps in graph.items()}
        self._incidents: dict[str, _Incident] = {}
        self._of: dict[str, str] = {}  # alert fingerprint@start -> incident id

    def assign(self, alert: Alert, now: float) -> Alert:
        """The alert with its incident labels (the same incident for its whole life)."""
        key = f"{alert.fingerprint}@{alert.starts_at}"
        inc_id = self._of.get(key)
        inc = self._incidents.get(inc_id) if inc_id is not None else None
        if inc is None:
            if alert.status == "resolved" or not self.config.enabled:
                return alert
            inc = self._join(alert, now) or self._open(alert, now)
            self._of[key] = inc.id
        inc.services.setdefault(alert.service, alert.starts_at)
        inc.last = max(inc.last, now)
        if alert.status == "firing":
            inc.open_alerts.add(key)
        else:
            inc.open_alerts.discard(key)
            self._of.pop(key, None)
        labels = {**alert.labels, "incident": inc.id, "origin": self._origin(inc)}
        self._forget(now)
        return replace(alert, labels=labels)

    def _join(self, alert: Alert, now: float) -> _Incident | None:
        best = None
        for inc in self._incidents.values():
            if now - inc.last > self.config.window and not inc.open_alerts:
                continue
            related = any(self._linked(alert.service, s) for s in inc.services)
            if related and (best is None or inc.last > best.last):
                best = inc
        return best

    def _open(self, alert: Alert, now: float) -> _Incident:
        digest = hashlib.sha256(f"{alert.fingerprint}@{alert.starts_at}".encode()).hexdigest()
        inc = _Incident(f"{alert.service or 'incident'}-{digest[:8]}", {}, now)
        self._incidents[inc.id] = inc
        return inc

    def _linked(self, a: str, b: str) -> bool:
        """Within max_hops edges of each other in the (undirected) dependency graph."""
        if a == b:
            return True
        seen, frontier = {a}, deque([(a, 0)])
        while frontier:
            node, hops = frontier.popleft()
            if hops == self.config.max_hops:
                continue
            for nxt in self.neighbours.get(node, ()):
                if nxt == b:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, hops + 1))
        return False

    def _origin(self, inc: _Incident) -> str:
        """The service the others depend on (transitively), else the first to alert."""

        def depended_on_by(svc: str) -> int:
            return sum(1 for other in inc.services if other != svc and self._reaches(other, svc))

        return max(inc.services, key=lambda s: (depended_on_by(s), -inc.services[s]))

    def _reaches(self, a: str, b: str) -> bool:
        """Does a depend on b, directly or through others?"""
        seen, todo = set(), [a]
        while todo:
            node = todo.pop()
            for dep in self.depends.get(node, ()):
                if dep == b:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False

    def _forget(self, now: float) -> None:
        stale = [
            i
            for i, inc in self._incidents.items()
            if not inc.open_alerts and now - inc.last > self.config.window
        ]
        for i in stale:
            del self._incidents[i]

    def snapshot(self) -> bytes:
        """State for a checkpoint."""
        return pickle.dumps((self._incidents, self._of))

    def restore(self, data: bytes) -> None:
        """Continue from a checkpoint."""
        self._incidents, self._of = pickle.loads(data)
