"""The reports' one edge with the outside: read the store and the config, call the pure parts.

The API and the CLI both come through here, so a report is the same wherever it is asked.
A service's current mode is the one an admin set at runtime (``service_settings``), else
the config's; thresholds are the config's with feedback-tuned ones stored over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from anomalert.config import Config
from anomalert.detect.localtime import LocalTime
from anomalert.model import Mode
from anomalert.report.audit import DAY, AuditReport, ThresholdOf, audit_report
from anomalert.report.incidents_file import IncidentItem, derived_id
from anomalert.report.shadow import Readiness, ShadowReport, shadow_report
from anomalert.store import Store


def current_modes(store: Store, config: Config, services: Sequence[str]) -> dict[str, Mode]:
    """Each service's mode now: the runtime setting if there is one, else the config's."""
    settings = store.service_settings()
    out: dict[str, Mode] = {}
    for name in services:
        row = settings.get(name)
        out[name] = row.mode if row is not None and row.mode else config.service(name).mode
    return out


def shadow_services(store: Store, config: Config) -> list[str]:
    """The services in shadow mode now (configured, switched at runtime, or, when the
    default mode is shadow, any service with alerts)."""
    known = set(config.services) | set(store.service_settings())
    if config.defaults.mode == "shadow":
        known |= set(store.alert_services())
    modes = current_modes(store, config, sorted(known))
    return [name for name, mode in modes.items() if mode == "shadow"]


def gather_shadow(
    store: Store,
    config: Config,
    until: float,
    services: Sequence[str] | None = None,
    since: float | None = None,
    rule: Readiness | None = None,
) -> ShadowReport:
    """The shadow-mode report of these services (default: those in shadow mode now).

    Without ``since`` the report starts where the data does: the oldest stored alert.
    """
    asked = [name for name in services or () if name]
    names = asked or shadow_services(store, config)
    if since is None:
        since = store.first_alert_time()
    alerts = store.report_alerts(since=since, until=until, services=names) if names else []
    incidents = store.labelled_incidents(since=since, until=until)
    modes = current_modes(store, config, names)
    graph = {name: svc.depends_on for name, svc in config.services.items()}
    return shadow_report(alerts, incidents, modes, until, since=since, rule=rule, depends_on=graph)


def config_thresholds(store: Store, config: Config) -> ThresholdOf:
    """(service, metric) -> threshold: the config's, or the one feedback tuned and stored."""
    tuned = {(r.service, r.metric): r.threshold for r in store.sensitivities()}

    def threshold_of(service: str, metric: str) -> float | None:
        value = tuned.get((service, metric))
        return value if value is not None else config.service(service).effective(metric).threshold

    return threshold_of


def gather_audit(
    store: Store,
    until: float,
    days: float = 7.0,
    threshold_of: ThresholdOf | None = None,
    clock_of: Callable[[str], LocalTime] | None = None,
) -> AuditReport:
    """The alert audit of the ``days`` before ``until``; hours on each service's clock."""
    alerts = store.report_alerts(since=until - days * DAY, until=until)
    return audit_report(alerts, until, days, threshold_of, clock_of)


def import_incidents(
    store: Store, items: Sequence[IncidentItem], source: str, now: float, from_file: bool = False
) -> list[int]:
    """Store labelled incidents; their ids.

    Items with an id replace the stored one with that id. ``from_file``: an item without an
    id gets one made of its service and times, so importing a file again changes nothing.
    """
    rows = []
    for item in items:
        row = item.to_store(source)
        if from_file and row["external_id"] is None:
            row["external_id"] = derived_id(item)
        rows.append(row)
    return store.add_labelled_incidents(rows, now)
