"""Adaptive sensitivity: feedback on alerts moves a (service, metric)'s score threshold.

The rule, in full (it is also in docs/configuration.md):

- Only feedback of the trailing ``window`` (7 days) counts, and only feedback given after
  the (service, metric)'s last reset.
- Each "not helpful" raises the configured threshold by ``step`` (0.0075); each "helpful"
  lowers it by ``step``.
- The result stays within ``[base - max_lower, min(base + max_raise, ceiling)]``
  (0.02 down, 0.08 up, never above 0.99): sensitivity opens only cautiously, because a
  missed page is found in review but a noisy one teaches people to ignore the pager.
- ``adaptive: false`` (per service or per metric) records feedback and never moves the
  threshold.

It is reversible by construction: feedback ages out of the window, so the threshold drifts
back to the configured one, and an admin's reset makes earlier feedback stop counting.

This module is pure (no clock, no store): the caller counts the feedback, this module says
what the threshold becomes and why, in the words the dashboard shows.

>>> config = SensitivityConfig()
>>> tuned = tune(0.90, helpful=0, not_helpful=4, config=config)
>>> tuned.threshold, tuned.explanation
(0.93, 'threshold raised from 0.90 to 0.93 after 4 not-helpful in 7 days')
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from anomalert.configbase import Duration, StrictModel

__all__ = ["SensitivityConfig", "Tuning", "span", "tune", "window_start"]

#: Thresholds the alert policy accepts (see ``AlertPolicy.set_threshold``).
LOWEST, HIGHEST = 0.5, 0.999


class SensitivityConfig(StrictModel):
    """How far and how fast feedback moves thresholds (the ``sensitivity:`` section)."""

    #: Feedback older than this no longer counts.
    window: Duration = Field(default=604800.0, gt=0)
    #: How much one "not helpful" raises (one "helpful" lowers) the threshold.
    step: float = Field(default=0.0075, gt=0.0, le=0.1)
    #: The most feedback may raise a threshold above the configured one.
    max_raise: float = Field(default=0.08, ge=0.0, le=0.49)
    #: The most feedback may lower a threshold below the configured one.
    max_lower: float = Field(default=0.02, ge=0.0, le=0.49)
    #: No feedback raises a threshold beyond this.
    ceiling: float = Field(default=0.99, ge=LOWEST, le=HIGHEST)


@dataclass(frozen=True)
class Tuning:
    """What the rule decided for one (service, metric)."""

    base: float
    threshold: float
    helpful: int
    not_helpful: int
    explanation: str

    @property
    def moved(self) -> bool:
        """Whether feedback took the threshold away from the configured one."""
        return self.threshold != self.base


def window_start(now: float, reset_at: float | None, config: SensitivityConfig) -> float:
    """Feedback given after this time counts: the window's start, or the last reset.

    >>> window_start(1000.0, None, SensitivityConfig(window=100))
    900.0
    >>> window_start(1000.0, 950.0, SensitivityConfig(window=100))
    950.0
    """
    start = now - config.window
    return start if reset_at is None else max(start, reset_at)


def span(now: float, reset_at: float | None, config: SensitivityConfig) -> str:
    """How the explanation names the counted span: "in 7 days", or "since the reset".

    >>> span(1000.0, None, SensitivityConfig(window="36h"))
    'in 36 hours'
    >>> span(1000.0, 990.0, SensitivityConfig())
    'since the reset'
    """
    if reset_at is not None and reset_at > now - config.window:
        return "since the reset"
    return f"in {_duration(config.window)}"


def tune(
    base: float,
    helpful: int,
    not_helpful: int,
    config: SensitivityConfig,
    *,
    adaptive: bool = True,
    within: str | None = None,
) -> Tuning:
    """The threshold of a (service, metric) given its counted feedback, and why.

    ``base`` is the configured threshold; ``within`` names the counted span (default
    "in <window>", see :func:`span`).

    >>> c = SensitivityConfig()
    >>> tune(0.90, 2, 1, c).explanation
    'threshold lowered from 0.90 to 0.89 after 2 helpful, 1 not-helpful in 7 days'
    >>> tune(0.90, 0, 0, c).explanation
    'at the configured 0.90: no feedback in 7 days'
    >>> tune(0.90, 0, 40, c).threshold
    0.98
    """
    within = within or f"in {_duration(config.window)}"
    counted = _counts(helpful, not_helpful)
    if not adaptive:
        why = f"{counted} {within} recorded" if counted else f"no feedback {within}"
        return Tuning(
            base,
            base,
            helpful,
            not_helpful,
            f"at the configured {_fmt(base)}: adaptive sensitivity is off ({why})",
        )
    if not counted:
        return Tuning(base, base, 0, 0, f"at the configured {_fmt(base)}: no feedback {within}")
    low = max(LOWEST, base - config.max_lower)
    high = max(base, min(base + config.max_raise, config.ceiling))
    wanted = base + (not_helpful - helpful) * config.step
    threshold = round(min(max(wanted, low), high), 4)
    if threshold == base:
        text = f"at the configured {_fmt(base)} after {counted} {within}"
    else:
        verb = "raised" if threshold > base else "lowered"
        before, after = _pair(base, threshold)
        text = f"threshold {verb} from {before} to {after} after {counted} {within}"
        if round(wanted, 4) != threshold:
            text += " (the most feedback may move it)"
    return Tuning(base, threshold, helpful, not_helpful, text)


def _counts(helpful: int, not_helpful: int) -> str:
    parts = []
    if helpful:
        parts.append(f"{helpful} helpful")
    if not_helpful:
        parts.append(f"{not_helpful} not-helpful")
    return ", ".join(parts)


def _fmt(x: float, places: int = 2) -> str:
    return f"{x:.{places}f}"


def _pair(a: float, b: float) -> tuple[str, str]:
    """Two thresholds with as few decimals (at least 2) as it takes to tell them apart."""
    for places in (2, 3, 4):
        fa, fb = _fmt(a, places), _fmt(b, places)
        if fa != fb:
            return fa, fb
    return _fmt(a, 4), _fmt(b, 4)


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} seconds"
