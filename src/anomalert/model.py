"""Value types shared by every stage."""

from __future__ import annotations

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
