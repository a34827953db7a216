"""``anomalert report shadow|audit`` and ``anomalert incidents import``, run in-process.

Like tests/unit/test_cli_service.py: the same typer ``app`` the script calls, through
``CliRunner``; exit 2 and one line on stderr for bad input; ``--json`` is the API's JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from anomalert.cli import EXIT_BAD_INPUT, app
from anomalert.model import Alert, fingerprint
from anomalert.store import Store

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
H = 3600.0
DAY = 86400.0
CONFIG = """\
services:
  checkout: {mode: shadow}
  payments: {threshold: 0.92}
route: {receiver: out}
receivers: [{name: out, log: {}}]
"""
INCIDENTS_CSV = (
    "id,service,title,start,end\n"
    "I1,checkout,slow,2026-01-02T00:00:00Z,2026-01-02T01:00:00Z\n"
    f"I2,checkout,,{T0 + 2 * DAY:.0f},{T0 + 2 * DAY + H:.0f}\n"
    ",checkout,no id,2026-01-04T00:00:00Z,2026-01-04T01:00:00Z\n"
    "I4,checkout,,2026-01-05T00:00:00Z,yesterday\n"
)


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def add_alert(store: Store, start: float, end: float | None, severity: str, **labels: str) -> int:
    merged = {"alertname": "Anomaly", "service": "checkout", "metric": "latency", **labels}
    return store.upsert_alert(
        Alert(
            fingerprint=fingerprint(merged),
            labels=merged,
            annotations={"summary": "latency 4σ above"},
            starts_at=start,
            ends_at=end,
            status="firing" if end is None else "resolved",
            score=0.95,
            severity=severity,  # type: ignore[arg-type]
            mode="shadow",
            source="anomaly",
            updated_at=start,
        )
    )


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    db = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store.open(db)
    try:
        for day in (1, 2):
            add_alert(store, T0 + day * DAY - 600, T0 + day * DAY + 600, "P1")
        add_alert(store, T0 + 5 * DAY, T0 + 5 * DAY + 60, "P2")  # a false page
        for day in range(3):  # payments pages every night at 02:00 and nobody acts
            told = add_alert(
                store,
                T0 + 10 * DAY + day * DAY + 2 * H,
                T0 + 10 * DAY + day * DAY + 3 * H,
                "P2",
                service="payments",
                n=str(day),
            )
            store.add_history(told, T0, "notification", {"receiver": "out", "status": "firing"})
    finally:
        store.close()
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    incidents = tmp_path / "incidents.csv"
    incidents.write_text(INCIDENTS_CSV)
    return {"db": db, "config": config, "incidents": incidents, "tmp": tmp_path}


def test_shadow_imports_incidents_once_and_prints_the_api_json(setup: dict[str, Any]) -> None:
    args = ["report", "shadow", "--config", setup["config"], "--db", setup["db"]]
    args += ["--incidents", setup["incidents"], "--until", "2026-01-15T00:00:00Z", "--json"]
    code, out, err = invoke(*args)
    assert code == 0, err
    assert err.strip() == (
        f"warning: {setup['incidents']}: incidents[3].end: not a time: is not an RFC 3339 "
        "timestamp like 2026-01-05T14:28:00Z (skipped)"
    )
    report = json.loads(out)
    assert report["until"] == "2026-01-15T00:00:00Z" and report["since"] == "2026-01-01T23:50:00Z"
    (svc,) = report["services"]
    assert (svc["service"], svc["alerts"], svc["would_page"], svc["false_pages"]) == (
        "checkout",
        3,
        3,
        1,
    )
    assert (svc["incidents"], svc["detected"], svc["lead_times_minutes"]) == (3, 2, [10.0, 10.0])
    assert svc["verdict"] == "stay in shadow: 1 false page in 13 days (precision 0.67 < 0.8)"
    # Again: the file's incidents (even the one without an id) are not stored twice.
    code, again, _ = invoke(*args)
    assert code == 0 and json.loads(again) == report
    store = Store.open(setup["db"])
    try:
        ids = [i.external_id for i in store.labelled_incidents()]
    finally:
        store.close()
    assert ids == ["I1", "I2", "checkout@2026-01-04T00:00:00Z/2026-01-04T01:00:00Z"]


def test_shadow_human_output_and_named_services(setup: dict[str, Any]) -> None:
    code, out, err = invoke(
        "report", "shadow", "--config", setup["config"], "--db", setup["db"],
        "--service", "checkout", "--service", "payments",
        "--since", str(T0), "--until", str(T0 + 14 * DAY),
    )  # fmt: skip
    assert code == 0, err
    assert "Shadow-mode report, 2026-01-01T00:00:00Z to 2026-01-15T00:00:00Z" in out
    # 14 days is evidence enough; no incidents were imported, so every page was false.
    assert "checkout: stay in shadow: 3 false pages in 14 days (precision 0.00 < 0.8)" in out
    assert "payments: alerting, consider assistive: 3 false pages in 14 days" in out
    assert "false page" in out and "Rule: with at least 3 labelled incidents" in out


def test_audit_json_and_table(setup: dict[str, Any]) -> None:
    base = ["report", "audit", "--config", setup["config"], "--db", setup["db"]]
    code, out, err = invoke(*base, "--until", "2026-01-15T00:00:00Z", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["noisy"] == 1 and report["since"] == "2026-01-08T00:00:00Z"
    noisy = report["groups"][0]
    assert (noisy["service"], noisy["notified"], noisy["ignored"]) == ("payments", 3, 3)
    assert noisy["suggestion"] == (
        "a maintenance window or silence at 02:00-03:00 UTC (3 of 3 at that hour)"
    )
    code, out, err = invoke(*base, "--until", "2026-01-15T00:00:00Z", "--days", "14")
    assert code == 0, err
    assert "Alert audit, 2026-01-01T00:00:00Z to 2026-01-15T00:00:00Z: 2 group(s), 1 noisy" in out
    assert "NOISY" in out and "payments" in out and "checkout" in out


def test_incidents_import(setup: dict[str, Any]) -> None:
    path = setup["tmp"] / "incidents.json"
    path.write_text(json.dumps([{"id": "X", "start": T0, "end": T0 + H, "severity": "P1"}]))
    code, out, err = invoke("incidents", "import", path, "--db", setup["db"])
    assert code == 0, err
    assert out.strip() == f"{path}: 1 incident(s) imported"
    code, out, err = invoke("incidents", "import", setup["incidents"], "--config", setup["config"],
                            "--db", setup["db"])  # fmt: skip
    assert code == 0 and "3 incident(s) imported" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["report", "shadow", "--until", "tomorrow"], "--until 'tomorrow': is not an RFC 3339"),
        (["report", "shadow", "--since", "1e15"], "--since '1e15': looks like milliseconds"),
        (["report", "audit", "--until", "2026-01-15T00:00:00"], "needs a UTC offset"),
        (["report", "shadow", "--incidents", "missing.csv"], "missing.csv: cannot read it"),
        (["report", "shadow", "--incidents", "bad.json"], "bad.json: not valid JSON"),
        (["report", "shadow", "--incidents", "empty.csv"], "empty.csv: no valid incident"),
        (["incidents", "import", "empty.csv"], "give --config or --db"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    setup: dict[str, Any], args: list[str], words: str
) -> None:
    tmp: Path = setup["tmp"]
    (tmp / "bad.json").write_text("[{")
    (tmp / "empty.csv").write_text("start,end\n")
    args = [str(tmp / a) if a.endswith((".csv", ".json")) else a for a in args]
    if args[0] == "report":
        args += ["--config", str(setup["config"]), "--db", setup["db"]]
    code, out, err = invoke(*args)
    assert code == EXIT_BAD_INPUT, (out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert words in err, err


def test_a_store_that_does_not_open_is_one_line(setup: dict[str, Any]) -> None:
    code, _, err = invoke("report", "audit", "--config", setup["config"], "--db", "mysql://x/y")
    assert code == EXIT_BAD_INPUT and err.startswith("error: cannot open the store")
    assert len(err.strip().splitlines()) == 1
