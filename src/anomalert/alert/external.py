"""External alerts end when their sender stops sending them, as in Alertmanager.

Prometheus sends each firing alert with ``endsAt`` a few evaluation intervals ahead and
sends it again while it fires; when the sender stops (Prometheus down, the rule deleted),
Alertmanager resolves the alert once ``endsAt`` has passed. Here nothing did: an external
alert fired until a resolve came, which after such a stop never does, so it stayed firing,
in the list, in its group, muting what it inhibits, for good.

An alert's ``expires_at`` is that end (``ingest.alertmanager.to_alert``: ``endsAt``, or
``ingest.alerts.resolve_timeout`` after the last send without one); each send moves it.
:class:`Expiries` keeps the firing external alerts by fingerprint and, on the time-driven
path (``App.tick``), gives the resolves of those whose time has come: resolved *at* their
``expires_at``, as Alertmanager resolves them, whenever the tick notices. The store keeps
``expires_at`` with the alert, and a restarted service loads the firing ones from it (the
store is the truth after a restart), so what expired while it was down resolves at its
first tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from anomalert.model import Alert


class Expiries:
    """The firing external alerts that resolve at their ``expires_at`` unless sent again."""

    def __init__(self, alerts: Iterable[Alert] = ()) -> None:
        self._firing: dict[str, Alert] = {}
        self.take(alerts)

    def take(self, alerts: Iterable[Alert]) -> None:
        """The latest snapshot of each alert as recorded: a firing external one with an
        expiry is followed (its newest expiry), anything else about it forgets it."""
        for alert in alerts:
            if alert.status == "firing" and alert.expires_at is not None:
                self._firing[alert.fingerprint] = alert
            else:
                self._firing.pop(alert.fingerprint, None)

    def due(self, now: float) -> list[Alert]:
        """The resolves of the alerts expired at ``now``, ended at their ``expires_at``.

        They stay followed until :meth:`take` is given them, so a resolve that could not
        be recorded (a store error) is given again at the next tick.
        """
        return [
            replace(
                a,
                status="resolved",
                ends_at=max(a.expires_at, a.starts_at),
                updated_at=now,
                expires_at=None,
            )
            for a in self._firing.values()
            if a.expires_at is not None and a.expires_at <= now
        ]

    def __len__(self) -> int:
        return len(self._firing)
