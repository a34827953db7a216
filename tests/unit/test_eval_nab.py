"""NAB scoring: known answers on small synthetic files, plus loading and reading results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from anomalert.errors import FileInputError
from anomalert.evaluate import nab
from anomalert.evaluate.nab import (
    MAX_TP,
    STANDARD_PROFILES,
    ScoredFile,
    probation_length,
    scaled_sigmoid,
    score_decisions,
    score_threshold_search,
)

ROWS = 1000  # probationary period: 150 rows
WINDOWS = ((300, 339), (700, 739))  # inclusive row spans, 40 rows wide
STANDARD = STANDARD_PROFILES[0]


def stamps(rows: int = ROWS) -> np.ndarray:
    """5-minute timestamps, as NAB's files mostly have."""
    return np.datetime64("2020-01-01T00:00:00") + np.arange(rows) * np.timedelta64(5, "m")


def make_file(
    flagged_rows: list[int] | np.ndarray,
    score: np.ndarray | None = None,
    windows: tuple[tuple[int, int], ...] = WINDOWS,
    rows: int = ROWS,
) -> ScoredFile:
    """A file whose windows are row spans; flagged rows get score 1 unless a score is given."""
    ts = stamps(rows)
    flags = np.zeros(rows, dtype=bool)
    flags[np.asarray(flagged_rows, dtype=int)] = True
    values = flags.astype(float) if score is None else score
    return ScoredFile.build(ts, values, flags, [(ts[a], ts[b]) for a, b in windows])


def as_is(flagged_rows: list[int], windows: tuple[tuple[int, int], ...] = WINDOWS) -> float:
    """Standard-profile raw score of flagging exactly these rows."""
    report = score_decisions({"cat/f.csv": make_file(flagged_rows, windows=windows)})
    return report.profiles["standard"].raw


# --------------------------------------------------------------------------- the curve


def test_scaled_sigmoid_at_window_start_end_and_far_after() -> None:
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(0.986614, abs=1e-6)
    assert float(scaled_sigmoid(0.0)) == 0.0
    assert float(scaled_sigmoid(3.0)) == pytest.approx(2 / (1 + math.exp(15)) - 1)
    assert float(scaled_sigmoid(3.01)) == -1.0
    assert float(scaled_sigmoid(1e6)) == -1.0  # no overflow warning either


def test_probation_is_15_percent_capped_at_750_rows() -> None:
    assert probation_length(1000) == 150
    assert probation_length(4032) == 604
    assert probation_length(10_000) == 750


def test_first_row_of_window_earns_exactly_tp_weight_last_row_about_zero() -> None:
    first, last = WINDOWS[0]
    width = last - first + 1
    assert as_is([first], windows=(WINDOWS[0],)) == pytest.approx(1.0)
    expected_last = float(scaled_sigmoid(-1 / width)) / MAX_TP
    assert as_is([last], windows=(WINDOWS[0],)) == pytest.approx(expected_last)
    assert 0 < expected_last < 0.07


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    first, last = WINDOWS[0]
    middle = first + 10
    expected = float(scaled_sigmoid(-(last - middle + 1) / (last - first + 1))) / MAX_TP
    assert as_is([middle, middle + 1, last], windows=(WINDOWS[0],)) == pytest.approx(expected)
    assert as_is([first, middle, last], windows=(WINDOWS[0],)) == pytest.approx(1.0)


# --------------------------------------------------------------------------- false alarms


def test_false_alarm_before_any_window_costs_full_fp_weight() -> None:
    # one window, missed (-1); one alarm at row 200, no window ended yet: -0.11
    assert as_is([200], windows=(WINDOWS[1],)) == pytest.approx(-1.0 - 0.11)


def test_false_alarm_just_after_a_window_is_nearly_free_and_full_after_three_widths() -> None:
    first, last = WINDOWS[0]
    width = last - first + 1
    just_after = as_is([first, last + 1], windows=(WINDOWS[0],)) - 1.0
    assert just_after == pytest.approx(0.11 * float(scaled_sigmoid(1 / (width - 1))))
    assert -0.01 < just_after < 0.0
    one_width = as_is([first, last + width], windows=(WINDOWS[0],)) - 1.0
    assert one_width == pytest.approx(0.11 * float(scaled_sigmoid(width / (width - 1))))
    assert one_width < -0.105
    far = as_is([first, last + 3 * width + 5], windows=(WINDOWS[0],)) - 1.0
    assert far == pytest.approx(-0.11)


def test_every_flagged_row_outside_windows_is_charged_separately_in_nab_score() -> None:
    assert as_is([200, 201, 202], windows=(WINDOWS[1],)) == pytest.approx(-1.0 - 3 * 0.11)


def test_probationary_rows_are_never_scored() -> None:
    assert as_is([0, 10, 149], windows=(WINDOWS[1],)) == pytest.approx(-1.0)
    assert as_is([150], windows=(WINDOWS[1],)) == pytest.approx(-1.11)


# --------------------------------------------------------------------------- headline scores


def perfect_file() -> ScoredFile:
    return make_file([first for first, _ in WINDOWS])


def test_perfect_detector_scores_100_both_ways_in_every_profile() -> None:
    results = {"cat/f.csv": perfect_file()}
    searched = score_threshold_search(results)
    decided = score_decisions(results)
    for profile in STANDARD_PROFILES:
        assert searched[profile.name].score == pytest.approx(100.0)
        assert searched[profile.name].threshold == 1.0
        assert decided.profiles[profile.name].score == pytest.approx(100.0)
    assert (decided.windows.precision, decided.windows.recall, decided.windows.f1) == (1, 1, 1)


def test_null_detector_scores_0_both_ways() -> None:
    results = {"cat/f.csv": make_file([])}
    for profile in STANDARD_PROFILES:
        searched = score_threshold_search(results)[profile.name]
        assert searched.score == 0.0
        assert searched.threshold is None
        assert searched.raw == -profile.fn_weight * len(WINDOWS)
        assert score_decisions(results).profiles[profile.name].score == 0.0


def test_detector_flagging_far_from_windows_scores_below_zero() -> None:
    flagged = list(range(160, 171))  # 11 rows, all before the first window
    decided = score_decisions({"cat/f.csv": make_file(flagged)}).profiles
    # raw = -2 misses - 11 * fpWeight; null = -2, perfect = +2
    assert decided["standard"].score == pytest.approx(100 * (-11 * 0.11) / 4)
    assert decided["reward_low_FP_rate"].score == pytest.approx(100 * (-11 * 0.22) / 4)
    assert decided["reward_low_FN_rate"].score == pytest.approx(100 * (-11 * 0.11) / 6)
    # the threshold search is free to stay silent instead
    assert score_threshold_search({"cat/f.csv": make_file(flagged)})["standard"].score == 0.0


def test_threshold_search_picks_the_best_shared_threshold() -> None:
    score = np.zeros(ROWS)
    score[WINDOWS[0][0]] = 0.9
    score[400:420] = 0.8  # 20 false alarms, far after window 1
    score[WINDOWS[1][0]] = 0.7
    result = score_threshold_search({"cat/f.csv": make_file([], score=score)})["standard"]
    # t=0.9: 1 - 1 = 0 -> 50;  t=0.8: -2.2;  t=0.7: 2 - 2.2 = -0.2 -> 45
    assert result.threshold == 0.9
    assert result.raw == pytest.approx(0.0)
    assert result.score == pytest.approx(50.0)


def test_threshold_search_counts_ties_together_and_prefers_higher_thresholds() -> None:
    score = np.zeros(ROWS)
    score[WINDOWS[0][0]] = 0.5
    score[WINDOWS[1][0]] = 0.5
    score[400] = 0.5  # tied false alarm comes along with both hits
    result = score_threshold_search({"cat/f.csv": make_file([], score=score)})["standard"]
    assert result.threshold == 0.5
    assert result.raw == pytest.approx(2.0 - 0.11 * float(-scaled_sigmoid(61 / 39)))


def test_nan_scores_are_never_detections() -> None:
    score = np.full(ROWS, np.nan)
    score[WINDOWS[0][0]] = 1.0
    result = score_threshold_search({"cat/f.csv": make_file([], score=score)})["standard"]
    assert result.raw == pytest.approx(0.0)  # one hit, one miss


def test_search_equals_exhaustive_evaluation_at_every_distinct_score() -> None:
    rng = np.random.default_rng(7)
    results = {}
    for k in range(3):
        score = np.round(rng.random(ROWS) ** 4, 2)  # coarse: plenty of ties
        results[f"cat{k % 2}/f{k}.csv"] = make_file([], score=score)
    for profile in STANDARD_PROFILES:
        best = -profile.fn_weight * 2 * len(results)  # never fire
        for t in np.unique(np.concatenate([f.anomaly_score for f in results.values()])):
            flagged = {
                key: ScoredFile(f.timestamps, f.anomaly_score, f.anomaly_score >= t, f.windows)
                for key, f in results.items()
            }
            best = max(best, score_decisions(flagged, [profile]).profiles[profile.name].raw)
        searched = score_threshold_search(results, [profile])[profile.name]
        assert searched.raw == pytest.approx(best, abs=1e-9)


def test_files_and_categories_add_up() -> None:
    results = {"a/one.csv": perfect_file(), "b/two.csv": make_file([])}
    result = score_threshold_search(results)["standard"]
    assert result.per_file == pytest.approx({"a/one.csv": 2.0, "b/two.csv": -2.0})
    assert result.score == pytest.approx(50.0)
    assert result.per_category["a"].score == pytest.approx(100.0)
    assert result.per_category["b"].score == pytest.approx(0.0)
    assert (result.null, result.perfect) == (-4.0, 4.0)


# --------------------------------------------------------------------------- window P/R/F1


def test_window_precision_recall_count_runs_of_false_alarms_once() -> None:
    flagged = [
        *range(5, 20),  # probationary: ignored
        *range(200, 205),  # one run of 5 rows: one false alarm
        250,  # isolated row: another false alarm
        301,
        302,
        303,  # inside window 1: caught once
    ]
    counts = score_decisions({"cat/f.csv": make_file(flagged)}).windows
    assert (counts.windows, counts.detected, counts.false_alarms) == (2, 1, 2)
    assert counts.precision == pytest.approx(1 / 3)
    assert counts.recall == pytest.approx(1 / 2)
    assert counts.f1 == pytest.approx(0.4)


def test_run_leaving_a_window_counts_its_outside_tail_as_one_false_alarm() -> None:
    last = WINDOWS[0][1]
    counts = score_decisions({"c/f.csv": make_file([last - 1, last, last + 1, last + 2])}).windows
    assert (counts.detected, counts.false_alarms) == (1, 1)


def test_silent_detector_has_zero_precision_not_nan() -> None:
    counts = score_decisions({"c/f.csv": make_file([])}).windows
    assert (counts.precision, counts.recall, counts.f1) == (0.0, 0.0, 0.0)


# --------------------------------------------------------------------------- input


def test_window_boundary_that_matches_no_row_is_an_error() -> None:
    ts = stamps()
    bad = ScoredFile.build(ts, np.zeros(ROWS), None, [(ts[300] + np.timedelta64(1, "m"), ts[339])])
    with pytest.raises(FileInputError, match="matches no row"):
        score_threshold_search({"c/f.csv": bad})


def test_decisions_need_is_anomaly() -> None:
    ts = stamps()
    with pytest.raises(FileInputError, match="is_anomaly"):
        score_decisions({"c/f.csv": ScoredFile.build(ts, np.zeros(ROWS))})


def write_nab_tree(root: Path, rows: int = 200) -> list[str]:
    """A one-file NAB copy: data, windows (rows 100..119) and the standard profiles."""
    times = [str(t).replace("T", " ") for t in stamps(rows)]
    (root / "data" / "catA").mkdir(parents=True)
    lines = ["timestamp,value", *(f"{t},{float(i == 100)}" for i, t in enumerate(times))]
    (root / "data" / "catA" / "f1.csv").write_text("\n".join(lines) + "\n")
    (root / "labels").mkdir()
    windows = {"catA/f1.csv": [[f"{times[100]}.000000", f"{times[119]}.000000"]]}
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (root / "config").mkdir()
    profiles = {
        p.name: {"CostMatrix": {"tpWeight": p.tp_weight, "fnWeight": p.fn_weight,
                                "fpWeight": p.fp_weight, "tnWeight": 1.0}}
        for p in STANDARD_PROFILES
    }  # fmt: skip
    (root / "config" / "profiles.json").write_text(json.dumps(profiles))
    return times


def test_load_nab_and_read_results_round_trip(tmp_path: Path) -> None:
    times = write_nab_tree(tmp_path / "nab")
    corpus = nab.load_nab(tmp_path / "nab")
    assert list(corpus) == ["catA/f1.csv"]
    assert corpus["catA/f1.csv"].windows[0][0] == np.datetime64(times[100].replace(" ", "T"))
    assert nab.load_profiles(tmp_path / "nab" / "config" / "profiles.json") == STANDARD_PROFILES

    out = tmp_path / "results" / "catA"
    out.mkdir(parents=True)
    rows = [f"{t},0,{float(i == 100)},{int(i == 100)},x" for i, t in enumerate(times)]
    header = "timestamp,value,anomaly_score,is_anomaly,reason"
    (out / "f1.csv").write_text("\n".join([header, *rows]) + "\n")
    results = nab.read_results(tmp_path / "results", corpus)
    assert score_threshold_search(results)["standard"].score == pytest.approx(100.0)
    assert score_decisions(results).profiles["standard"].score == pytest.approx(100.0)

    (out / "f1.csv").write_text("\n".join([header, *rows[:-1]]) + "\n")
    with pytest.raises(FileInputError, match="rows"):
        nab.read_results(tmp_path / "results", corpus)
    (out / "f1.csv").unlink()
    with pytest.raises(FileInputError, match="missing"):
        nab.read_results(tmp_path / "results", corpus)


def test_is_anomaly_accepts_true_false_and_rejects_junk(tmp_path: Path) -> None:
    header = "timestamp,anomaly_score,is_anomaly"
    path = tmp_path / "c" / "f.csv"
    path.parent.mkdir()
    path.write_text(f"{header}\n2020-01-01 00:00:00,0.1,True\n2020-01-01 00:05:00,0.2,false\n")
    flags = nab.read_results(tmp_path)["c/f.csv"].is_anomaly
    assert flags is not None and flags.tolist() == [True, False]
    path.write_text(f"{header}\n2020-01-01 00:00:00,0.1,maybe\n")
    with pytest.raises(FileInputError, match="maybe"):
        nab.read_results(tmp_path)
