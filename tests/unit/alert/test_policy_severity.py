"""The severity table: precision first, P1 only for what deserves a page."""

from __future__ import annotations

import pytest

from anomalert.alert.severity import louder, severity


@pytest.mark.parametrize(
    ("score", "criticality", "expected"),
    [
        (0.97, "high", "P1"),
        (0.969, "high", "P2"),
        (0.90, "high", "P2"),
        (0.899, "high", "P3"),
        (0.995, "medium", "P1"),
        (0.994, "medium", "P2"),
        (0.95, "medium", "P2"),
        (0.949, "medium", "P3"),
        (0.9999, "low", "P3"),
        (0.5, "low", "P3"),
    ],
)
def test_table(score: float, criticality: str, expected: str) -> None:
    assert severity(score, criticality, 0.90) == expected  # type: ignore[arg-type]


def test_high_criticality_p2_starts_at_the_service_threshold() -> None:
    assert severity(0.93, "high", threshold=0.95) == "P3"
    assert severity(0.96, "high", threshold=0.95) == "P2"


def test_louder_orders_p1_first() -> None:
    assert louder("P1", "P2") and louder("P2", "P3")
    assert not louder("P3", "P2") and not louder("P2", "P2")
