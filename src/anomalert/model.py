"""Value types shared by every stage, so stages exchange explicit frozen data, not dicts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    """What an anomaly looks like; stored as a small int in the batch engine's arrays."""

    NONE = 0
    SPIKE = 1
    DROP = 2
    LEVEL_SHIFT = 3
    TREND = 4
    PREDICTED_BREACH = 5
    MULTIVARIATE = 6

    @property
    def label(self) -> str:
        """The name users see ("level shift", not "LEVEL_SHIFT")."""
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class Anomaly:
    """One scored point of one series, with what was expected and why it is unusual."""

    series: str
    timestamp: float
    value: float
    score: float
    kind: Kind
    expected: float
    lower: float
    upper: float
    reason: str
    is_anomaly: bool
