"""The shadow-mode report on a real replay: the demo scenario with checkout in shadow mode.

The whole pipeline runs over the demo (as tests/acceptance/test_demo_replay.py does) into a
SQLite store; the scenario's own incidents.json is imported as labelled incidents; the report
must find checkout's incident from the alerts the replay really raised, in time.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from anomalert.config import load_config
from anomalert.demo.scenario import DEFAULT_INCIDENTS, ScenarioSpec, generate
from anomalert.demo.writer import write_scenario
from anomalert.ingest.scenario import load_scenario
from anomalert.replay import replay
from anomalert.report.gather import gather_shadow, import_incidents
from anomalert.report.incidents_file import parse_incidents
from anomalert.store import Store

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "src" / "anomalert" / "demo" / "demo.yaml"


def test_shadow_report_finds_the_demo_incident_from_real_alerts(tmp_path: Path) -> None:
    # The demo's services, history and first two incidents (checkout's own, then payments',
    # which checkout depends on): ten days instead of fourteen keep the replay short.
    spec = ScenarioSpec(days=10, incidents=DEFAULT_INCIDENTS[:2])
    folder = write_scenario(generate(spec), tmp_path / "scenario")
    doc = yaml.safe_load(DEMO_CONFIG.read_text())
    for name, service in doc["services"].items():  # checkout alone in shadow mode
        service["mode"] = "shadow" if name == "checkout" else "alerting"
    doc["storage"]["url"] = f"sqlite:///{tmp_path / 'state.db'}"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(doc))
    config = load_config(tmp_path / "config.yaml")
    db = config.storage.url
    replay(folder, tmp_path / "notifications.jsonl", config=config, db_url=db)

    data = load_scenario(folder)
    until = max(s.index[-1] for s in data.samples.values()).timestamp()
    parsed = parse_incidents((folder / "incidents.json").read_text(), "json")
    assert parsed.errors == () and len(parsed.items) == len(data.incidents)
    store = Store.open(db)
    try:
        import_incidents(store, parsed.items, "json", until, from_file=True)
        import_incidents(store, parsed.items, "json", until, from_file=True)  # idempotent
        report = gather_shadow(store, config, until=until)
        alerts = store.report_alerts(services=["checkout"])
    finally:
        store.close()

    (svc,) = report.services  # only checkout is in shadow mode
    assert (svc.service, svc.mode) == ("checkout", "shadow")
    assert all(a.mode == "shadow" for a in alerts), "the replay recorded checkout in shadow"
    # Its labelled incident (root_service checkout) and no other service's.
    checkout = [i for i in data.incidents if i.root_service == "checkout"]
    assert svc.incidents == len(checkout) == 1
    assert svc.detected == 1 and svc.recall == 1.0
    (lead,) = svc.lead_times_minutes
    assert lead > -10.0, f"detected {-lead:.1f} minutes after the incident started"
    # Precision comes from the alerts the replay really stored.
    assert svc.alerts == len(alerts) > 0
    pages = [a for a in alerts if a.severity in ("P1", "P2")]
    assert svc.would_page == len(pages) > 0
    true_pages = sum(1 for p in svc.pages if p.incident is not None)
    assert svc.precision_pages == true_pages / len(pages)
    assert svc.precision_alerts is not None and 0 < svc.precision_alerts <= 1
    own = {p.incident for p in svc.pages if p.via is None} - {None}
    assert own == {checkout[0].id}
    # A checkout page during the payments incident is matched through the dependency.
    assert {p.via for p in svc.pages if p.via is not None} <= {"payments"}
