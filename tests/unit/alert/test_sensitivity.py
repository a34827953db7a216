"""The adaptive sensitivity rule with concrete numbers: steps, bounds, aging out, reset, off."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from anomalert.alert.sensitivity import SensitivityConfig, span, tune, window_start

C = SensitivityConfig()
DAY = 86400.0


@pytest.mark.parametrize(
    ("helpful", "not_helpful", "threshold", "explanation"),
    [
        (0, 4, 0.93, "threshold raised from 0.90 to 0.93 after 4 not-helpful in 7 days"),
        (0, 1, 0.9075, "threshold raised from 0.90 to 0.91 after 1 not-helpful in 7 days"),
        (
            2,
            1,
            0.8925,
            "threshold lowered from 0.90 to 0.89 after 2 helpful, 1 not-helpful in 7 days",
        ),
        (0, 0, 0.90, "at the configured 0.90: no feedback in 7 days"),
        (3, 3, 0.90, "at the configured 0.90 after 3 helpful, 3 not-helpful in 7 days"),
    ],
)
def test_each_vote_moves_the_threshold_one_step(
    helpful: int, not_helpful: int, threshold: float, explanation: str
) -> None:
    tuned = tune(0.90, helpful, not_helpful, C)
    assert (tuned.threshold, tuned.explanation) == (threshold, explanation)
    assert (tuned.helpful, tuned.not_helpful, tuned.base) == (helpful, not_helpful, 0.90)
    assert tuned.moved is (threshold != 0.90)


def test_raising_stops_at_max_raise_and_says_so() -> None:
    tuned = tune(0.90, 0, 11, C)  # 0.90 + 11 * 0.0075 = 0.9825 > 0.98
    assert tuned.threshold == 0.98
    assert tuned.explanation == (
        "threshold raised from 0.90 to 0.98 after 11 not-helpful in 7 days"
        " (the most feedback may move it)"
    )
    assert tune(0.90, 0, 10, C).threshold == 0.975  # within bounds: no note
    assert "the most" not in tune(0.90, 0, 10, C).explanation


def test_raising_stops_at_the_ceiling() -> None:
    assert tune(0.95, 0, 20, C).threshold == 0.99  # 0.95 + 0.08 = 1.03, ceiling 0.99
    assert tune(0.97, 0, 20, SensitivityConfig(ceiling=0.98)).threshold == 0.98


def test_a_configured_threshold_above_the_ceiling_is_never_lowered_by_it() -> None:
    assert tune(0.995, 0, 5, C).threshold == 0.995
    assert tune(0.995, 5, 0, C).threshold == 0.975  # helpful still lowers, by max_lower


def test_lowering_opens_only_cautiously() -> None:
    tuned = tune(0.90, 10, 0, C)  # 0.90 - 0.075, bounded at 0.90 - 0.02
    assert tuned.threshold == 0.88
    assert tuned.explanation == (
        "threshold lowered from 0.90 to 0.88 after 10 helpful in 7 days"
        " (the most feedback may move it)"
    )
    assert tune(0.51, 10, 0, C).threshold == 0.5  # never below what the policy accepts


def test_close_thresholds_are_told_apart() -> None:
    tuned = tune(0.905, 0, 1, SensitivityConfig(step=0.001))
    assert tuned.explanation.startswith("threshold raised from 0.905 to 0.906 after")


def test_adaptive_off_records_but_never_moves() -> None:
    tuned = tune(0.90, 0, 4, C, adaptive=False)
    assert tuned.threshold == 0.90 and not tuned.moved
    assert tuned.explanation == (
        "at the configured 0.90: adaptive sensitivity is off (4 not-helpful in 7 days recorded)"
    )
    assert tune(0.90, 0, 0, C, adaptive=False).explanation == (
        "at the configured 0.90: adaptive sensitivity is off (no feedback in 7 days)"
    )


def test_feedback_ages_out_of_the_window() -> None:
    now = 100 * DAY
    assert window_start(now, None, C) == now - 7 * DAY
    votes = [now - 8 * DAY, now - 6 * DAY, now - 1 * DAY, now - 60.0]  # all "not helpful"
    counted = sum(t > window_start(now, None, C) for t in votes)
    assert tune(0.90, 0, counted, C).threshold == 0.9225
    later = now + 6 * DAY + 1.0  # only the last one is still within 7 days
    counted = sum(t > window_start(later, None, C) for t in votes)
    assert tune(0.90, 0, counted, C).threshold == 0.9075
    counted = sum(t > window_start(later + DAY, None, C) for t in votes)
    assert tune(0.90, 0, counted, C).threshold == 0.90


def test_a_reset_makes_earlier_feedback_stop_counting() -> None:
    now = 100 * DAY
    reset = now - 2 * DAY
    assert window_start(now, reset, C) == reset
    assert span(now, reset, C) == "since the reset"
    tuned = tune(0.90, 0, 0, C, within=span(now, reset, C))
    assert tuned.explanation == "at the configured 0.90: no feedback since the reset"
    # Once the reset is older than the window, the window speaks again.
    assert window_start(now + 6 * DAY, reset, C) == now - DAY
    assert span(now + 6 * DAY, reset, C) == "in 7 days"


def test_the_window_is_named_in_its_own_unit() -> None:
    assert span(0.0, None, SensitivityConfig.model_validate({"window": "1d"})) == "in 1 day"
    assert span(0.0, None, SensitivityConfig.model_validate({"window": "90m"})) == "in 90 minutes"
    assert span(0.0, None, SensitivityConfig(window=45)) == "in 45 seconds"


@pytest.mark.parametrize(
    "bad",
    [{"step": 0}, {"ceiling": 1.0}, {"max_raise": -0.1}, {"window": "0s"}, {"steps": 1}],
)
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SensitivityConfig.model_validate(bad)
