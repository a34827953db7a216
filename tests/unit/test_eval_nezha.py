"""The Nezha stage of ``make eval`` on a small day folder in Nezha's own layout
(``tests.support.nezha_day``): the engine is primed on the first half of the quiet tail,
every fault must be found on its own service, and the product's Correlator must name it
as the likely origin where a caller alerts too."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomalert.errors import FileInputError
from anomalert.evaluate import nezha
from anomalert.evaluate import run as evaluate_run
from tests.support.nezha_day import DAY, PODS, write_day


@pytest.fixture(scope="module")
def nezha_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datasets") / "nezha"
    write_day(root, spike="20:00")
    return root


@pytest.fixture(scope="module")
def scored(nezha_root: Path) -> tuple[nezha.NezhaSummary, list[nezha.DayReport]]:
    return nezha.score_nezha(nezha_root)


def test_each_fault_alerts_on_its_own_service_which_ranks_near_the_top(scored) -> None:
    summary, reports = scored
    cases = reports[0].cases
    assert [c.service for c in cases] == ["cartservice", "paymentservice", "emailservice"]
    assert all(c.detected for c in cases), cases
    # The frontend's slow calls to the cart make it as anomalous as the cart itself (three
    # latency columns agree): the cart ranks first or second, which is what the likely
    # origin below is for.
    assert cases[0].rank in (1, 2)
    assert [c.rank for c in cases[1:]] == [1, 1]
    assert (summary.cases, summary.detected, summary.top3) == (3, 3, 3)
    assert summary.top1 == sum(c.rank == 1 for c in cases) >= 2
    assert summary.resource_cases == 3
    # The network delay shows only in the latency of the calls into the email service.
    assert cases[2].fault == "network_delay"
    assert cases[2].metric.startswith("CallLatency(") and cases[2].metric.endswith(
        "->emailservice)"
    )
    # The dataset names CPU for cartservice's fault; its strongest minute names a CPU column.
    cart = cases[0]
    assert cart.expected_metric == "CpuUsageRate(%)"
    assert cart.metric.startswith("Cpu")
    assert (summary.reason_cases, summary.reason_named) == (1, 1)
    assert nezha.reason_names("NetworkP90(ms)", "CallLatency(a->b)") is True
    assert nezha.reason_names("NetworkP90(ms)", "PodServerLatencyP90(s)") is False
    assert nezha.reason_names("Start charge card_Charge successfully", "CpuUsage(m)") is None


def test_the_likely_origin_is_the_service_the_other_alerting_one_depends_on(scored) -> None:
    summary, reports = scored
    cart, pay, mail = reports[0].cases
    # The frontend's calls to the cart are slow a minute after the cart's CPU: both alert,
    # the cart first; the product's Correlator names the cart (the frontend depends on it).
    assert cart.alerting == ("cartservice", "frontend")
    assert cart.origin == "cartservice"
    assert (pay.alerting, pay.origin) == (("paymentservice",), "paymentservice")
    assert (mail.alerting, mail.origin) == (("emailservice",), "emailservice")
    assert (summary.origin_cases, summary.origin_right) == (3, 3)


def test_the_origin_follows_the_graph_not_the_first_alert() -> None:
    graph = {"frontend": ["cartservice"], "cartservice": ["redis"]}
    assert nezha.likely_origin(graph, {"frontend": 0.0, "cartservice": 60.0}) == "cartservice"
    assert nezha.likely_origin(graph, {"frontend": 0.0, "redis": 120.0, "cartservice": 60.0}) == (
        "redis"
    )
    assert nezha.likely_origin(graph, {}) == ""
    # Unrelated services open incidents of their own: the first alert's incident counts.
    assert nezha.likely_origin(graph, {"mail": 0.0, "redis": 30.0}) == "mail"


def test_without_a_call_graph_no_origin_is_judged(tmp_path: Path) -> None:
    folder = write_day(tmp_path / "nezha", graph=False)
    day = nezha.load_day(folder)
    assert day.graph is None
    report = nezha.score_day(day, {})
    assert all(c.origin is None for c in report.cases)
    assert nezha.summarise([report]).origin_cases == 0
    graph = nezha.load_graph(folder / "metric" / "dependency.csv", {"frontend"})
    assert graph is None


def test_the_call_graph_keeps_edges_between_the_days_services(nezha_root: Path) -> None:
    day = nezha.load_day(nezha_root / DAY)
    assert day.graph == {
        "frontend": ["cartservice", "paymentservice", "emailservice"],
        "paymentservice": ["emailservice"],
    }  # the cart's edge to its host's address is not a dependency


def test_an_alert_in_the_held_out_tail_is_false_and_the_primer_is_not_judged(scored) -> None:
    summary, reports = scored
    report = reports[0]
    # The memory spike at 20:00 on the frontend falls in the held-out second half of the
    # quiet tail (01:50 + 30 min settle to 23:59: the held-out part starts near 13:10).
    assert PODS["frontend"] in report.false_alerts
    assert summary.quiet_pods == summary.pods - len(report.false_alerts)
    assert summary.false_alerts == sum(report.false_alerts.values())
    assert report.primer_hours == pytest.approx(report.held_out_hours, abs=0.05)
    assert report.held_out_hours == pytest.approx((24 * 60 - 110) / 120, abs=0.05)


def test_primer_is_the_first_half_of_the_quiet_tail_a_day_earlier(nezha_root: Path) -> None:
    day = nezha.load_day(nezha_root / DAY)
    tables, real, start, held_out = nezha.primed_tables(day)
    t = next(iter(day.pods.values())).t
    last_fault = max(c.time for c in day.cases)
    assert start == last_fault + nezha.SETTLE
    assert held_out == pytest.approx(start + (t[-1] - start) / 2)
    primer = (t >= start) & (t < held_out)
    table, times = tables[0], real[0]
    n = int(primer.sum())
    np.testing.assert_array_equal(table.t[:n], t[primer] - nezha.PRIMER_SHIFT)
    np.testing.assert_array_equal(table.t[n:], t[~primer])
    assert np.isnan(times[:n]).all() and np.array_equal(times[n:], t[~primer])
    assert not table.late.any()  # the engine's clock only moves forward
    # The pod's own metrics (node metrics are not the pod's), then the calls into it.
    assert table.columns == (*nezha.POD_METRICS, "CallLatency(frontend->cartservice)")


def test_rank_counts_exact_ties_against_the_root_cause() -> None:
    keys = {"a": (1.0, -60.0), "b": (1.0, -120.0), "c": (0.5, -0.0)}
    assert nezha.rank_of("a", keys) == 1  # same score, reached first
    assert nezha.rank_of("b", keys) == 2
    assert nezha.rank_of("c", keys) == 3
    assert nezha.rank_of("a", {"a": (1.0, -60.0), "b": (1.0, -60.0)}) == 2


def test_service_of_strips_the_two_kubernetes_hash_parts() -> None:
    assert nezha.service_of("cartservice-579f59597d-wc2lz") == "cartservice"
    assert nezha.service_of("ts-travel2-service-5c66d57d58-6mp2b") == "ts-travel2-service"
    assert nezha.service_of("redis") == "redis"


def test_make_eval_only_nezha_reports_and_checks_its_floors(nezha_root: Path, tmp_path) -> None:
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"nezha.origin_top1": 1.0, "nab.as_is.standard": 99.0}))
    out = tmp_path / "out"
    args = ["--out", str(out), "--only", "nezha", "--floors", str(floors), "--no-progress"]
    code = evaluate_run.main(["--datasets", str(nezha_root.parent), *args])
    assert code == evaluate_run.EXIT_OK  # NAB's floor is not checked when NAB did not run
    report = json.loads((out / "eval.json").read_text())
    assert report["headline"]["nezha.origin_top1"] == 1.0
    assert report["headline"]["nezha.case_recall"] == 1.0
    assert report["nezha"]["days"][0]["name"] == DAY
    assert report["errors"] == []
    # Without the dataset the stage fails, and its floor reads as not computed: exit 2.
    code = evaluate_run.main(["--datasets", str(tmp_path / "none"), *args])
    assert code == evaluate_run.EXIT_ERROR
    report = json.loads((out / "eval.json").read_text())
    assert report["errors"] == [
        f"nezha: FileInputError: {tmp_path / 'none' / 'nezha'}: no such folder"
    ]
    assert report["floors"]["below"] == [
        "nezha.origin_top1 was not computed (the nezha stage failed)"
    ]


def test_bad_input_names_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileInputError, match="no day folder"):
        nezha.day_names(tmp_path)
    with pytest.raises(FileInputError, match="no such folder"):
        nezha.day_names(tmp_path / "absent")
    folder = write_day(tmp_path)
    fault_list = folder / f"{DAY}-fault_list.json"
    fault_list.write_text(json.dumps({"01": [{"inject_time": f"{DAY} 01:00:00"}]}))
    with pytest.raises(FileInputError, match=r"fault_list\.json: not a Nezha fault list"):
        nezha.load_day(folder)
    fault_list.write_text(
        json.dumps(
            {"01": [{"inject_time": "soon", "inject_pod": "a-b-c", "inject_type": "return"}]}
        )
    )
    with pytest.raises(FileInputError, match="Time: unparsable value 'soon'"):
        nezha.load_day(folder)
    fault_list.write_text(
        json.dumps(
            {
                "01": [
                    {
                        "inject_time": f"{DAY} 23:50:00",
                        "inject_pod": "a-b-c",
                        "inject_type": "return",
                    }
                ]
            }
        )
    )
    with pytest.raises(FileInputError, match="no fault-free tail"):
        nezha.score_day(nezha.load_day(folder), {})
    calls = folder / "metric" / nezha.CALLS_FILE
    pd.DataFrame({"when": [1], "a_b": [0.1]}).to_csv(calls, index=False)
    with pytest.raises(FileInputError, match=r"source_50\.csv\.gz: not a call-latency file"):
        nezha.load_day(folder)
    calls.unlink()
    pod = next((folder / "metric").glob("*_metric.csv.gz"))
    frame = pd.read_csv(pod).drop(columns=["PodWorkload(Ops)"])
    with gzip.open(pod, "wt") as fh:
        frame.to_csv(fh, index=False)
    with pytest.raises(FileInputError, match=r"_metric.csv.gz: missing column PodWorkload\(Ops\)"):
        nezha.load_day(folder)
    pod.write_bytes(b"")
    with pytest.raises(FileInputError, match=r"_metric\.csv\.gz: unreadable"):
        nezha.load_day(folder)
    (tmp_path / "root_cause_ts.json").write_text("[1, 2]")
    with pytest.raises(FileInputError, match=r"root_cause_ts\.json: not a root-cause map"):
        nezha.load_expected_metrics(tmp_path)
    bad_graph = folder / "metric" / "dependency.csv"
    bad_graph.write_text("From,To\na,b\n")
    with pytest.raises(FileInputError, match=r"dependency\.csv: not a call graph"):
        nezha.load_graph(bad_graph, {"a", "b"})
