"""Links from a notification back to the dashboard: one function per kind of page.

An alert's link names its episode by ``(fingerprint, starts_at)``, which is unique in the
store and known to every notification, rather than by the store's row id, which the alert
value types do not carry (and a replay or ``routes test`` has no store to ask). The
dashboard's ``/alerts/by-fingerprint/...`` route turns it into the alert's page.

``base`` is ``server.external_url``, the address people reach the service at, possibly with
a path prefix behind a proxy (``https://alerts.example.com/anomalert``). An empty base means
"no links": the receivers then render as they did before links existed.

>>> from anomalert.model import Alert
>>> a = Alert("8c6f0e0d2b1c4a55", {}, {}, 1704099600.0, None, "firing", 0.97, "P1",
...           "alerting", "anomaly", 1704099600.0)
>>> alert_url("https://alerts.example.com/anomalert/", a).split("/", 3)[3]
'anomalert/alerts/by-fingerprint/8c6f0e0d2b1c4a55?starts_at=1704099600'
>>> alert_url("", a)
''
"""

from __future__ import annotations

from urllib.parse import quote

from anomalert.model import Alert

#: The dashboard route that finds an episode by fingerprint and start (web/links.py).
BY_FINGERPRINT = "/alerts/by-fingerprint/"


def dashboard_url(base: str) -> str:
    """The dashboard's home (the alerts list): the base without a trailing slash."""
    return base.strip().rstrip("/")


def unix_time(t: float) -> str:
    """A start time as the link writes it: whole seconds without ``.0``, else exact.

    ``repr`` of a float reads back as the same float, so the route finds the episode by
    equality. ``1704099600.0 -> '1704099600'``, ``1704099600.25 -> '1704099600.25'``.
    """
    return str(int(t)) if float(t).is_integer() else repr(float(t))


def alert_url(base: str, alert: Alert) -> str:
    """The alert's page ("Explain this alert") under ``base``; '' when there is no base."""
    root = dashboard_url(base)
    if not root:
        return ""
    fingerprint = quote(alert.fingerprint, safe="")
    return f"{root}{BY_FINGERPRINT}{fingerprint}?starts_at={unix_time(alert.starts_at)}"
