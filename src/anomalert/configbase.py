"""The base every configuration model derives from, and the duration type they share.

Each feature keeps its configuration model next to its code (a receiver's settings in the
receiver's module); ``config.py`` composes them into the one YAML file. Every model rejects
unknown keys and is frozen, so a typo is an error that names its location
(``receivers[2].webhook.url``) instead of a silently ignored setting.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> float:
    """Seconds from "90s", "5m", "1h30m", "3d" or a plain number of seconds.

    Always finite: a timer that never fires, a series never old, is a mistake whichever
    way it is written (YAML's ``.inf``, an integer too large for a float, ``"1"`` and 400
    zeros ``"s"``).

    >>> parse_duration("1h30m"), parse_duration("5m"), parse_duration(12)
    (5400.0, 300.0, 12.0)
    """
    if isinstance(value, bool):
        raise ValueError("a duration like '5m', '1h' or a number of seconds")
    if isinstance(value, int | float):
        if value != value:  # YAML's .nan: every comparison with it is false
            raise ValueError("a duration cannot be NaN")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return _finite(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a duration like '5m', '1h' or a number of seconds")
    text = value.strip()
    pos, total = 0, 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"{value!r} is not a duration like '5m', '1h30m' or '3d'")
    return _finite(total)


def _finite(value: float) -> float:
    try:
        seconds = float(value)
    except OverflowError:  # an int beyond any float
        seconds = math.inf
    if not math.isfinite(seconds):
        raise ValueError("a duration must be finite")
    return seconds


#: A duration in seconds, written in the YAML as "5m", "1h", "3d" or a number of seconds.
Duration = Annotated[float, BeforeValidator(parse_duration)]


class StrictModel(BaseModel):
    """Unknown keys are errors; values are frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)
