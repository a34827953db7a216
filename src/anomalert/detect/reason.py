"""Plain-words reasons: "p99 latency 840, 4.2σ above the usual 210 for Tue 14:00".

Built only for the points that need one (strings are slow next to array maths), from what
the winning detector reported: the expected value, its band, and the kind of deviation.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from anomalert.detect.localtime import LocalTime
from anomalert.model import Kind


def fmt(value: float) -> str:
    """Numbers as people write them: 840, 0.0123, 1.25e+06."""
    if not math.isfinite(value):
        return str(value)
    a = abs(value)
    if a != 0 and (a >= 1e6 or a < 1e-3):
        return f"{value:.3g}"
    if a >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def when(t: float, seasonal: bool, local_time: LocalTime | None = None) -> str:
    """'for Tue 14:00' when the baseline is seasonal, else '': the hour of the week on the
    wall clock the profiles follow (``localtime``; UTC unless a time zone is set)."""
    if not seasonal or not math.isfinite(t):
        return ""
    wall = t + (local_time.offset(t) if local_time is not None else 0.0)
    return " for " + datetime.fromtimestamp(wall, UTC).strftime("%a %H:00")


#: Beyond this many σ the number says nothing more (a baseline that had not moved before
#: gives millions): the reason says "over 1,000σ" instead.
MANY_SIGMAS = 1000.0


def sigmas_text(sigmas: float) -> str:
    """'4.2σ', or 'over 1,000σ' for deviations from a spread of (nearly) nothing."""
    if not sigmas < MANY_SIGMAS:  # inf and NaN too
        return f"over {MANY_SIGMAS:,.0f}σ"
    return f"{sigmas:.1f}σ"


def duration_text(minutes: float) -> str:
    """'45 minutes', '1 hour', '5 hours', '2 days': rounded as people say it."""
    if minutes < 120:
        n, unit = round(minutes), "minute"
    elif minutes < 36 * 60:
        n, unit = round(minutes / 60), "hour"
    else:
        n, unit = round(minutes / 1440), "day"
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def explain(
    metric: str,
    value: float,
    t: float,
    kind: Kind,
    expected: float,
    lower: float,
    upper: float,
    detail: float = math.nan,
    seasonal: bool = False,
    local_time: LocalTime | None = None,
) -> str:
    """One sentence saying what is unusual, against which baseline."""
    if not math.isfinite(value):
        return f"{metric}: missing value"
    sd = (upper - expected) / 3.0 if math.isfinite(upper - expected) else math.nan
    sigmas = abs(value - expected) / sd if sd and math.isfinite(sd) and sd > 0 else math.inf
    side = "above" if value >= expected else "below"
    usual = f"the usual {fmt(expected)}{when(t, seasonal, local_time)}"
    if kind == Kind.PREDICTED_BREACH:
        eta = f"in about {detail:.0f} minutes" if math.isfinite(detail) else "soon"
        return (
            f"{metric} {fmt(value)} is climbing towards its limit and is predicted to "
            f"reach it {eta} (predicted breach)"
        )
    if kind == Kind.FLATLINE:
        points = f"{detail:.0f} points" if math.isfinite(detail) else "many points"
        return (
            f"{metric} has stayed at {fmt(value)} for {points}, flat as it has not been "
            f"before ({usual}) (flatline)"
        )
    if kind == Kind.MULTIVARIATE:
        return (
            f"{MULTIVARIATE_LEAD}{metric} {fmt(value)}, "
            f"{sigmas_text(sigmas)} {side} {usual} (multivariate)"
        )
    if kind == Kind.LEVEL_SHIFT and math.isfinite(detail):
        # A return (``detect/returns.py``): back at the level it left when a shift was
        # accepted ``detail`` minutes ago; the band is that level's.
        return (
            f"{metric} {fmt(value)} is back near {fmt(expected)}, where it was before a "
            f"shift accepted as the new normal {duration_text(detail)} ago "
            f"(band {fmt(lower)}–{fmt(upper)}) (level shift)"
        )
    if kind == Kind.LEVEL_SHIFT:
        return (
            f"{metric} {fmt(value)} has shifted {side} {usual} "
            f"(band {fmt(lower)}–{fmt(upper)}) and stayed there (level shift)"
        )
    if kind == Kind.TREND:
        return f"{metric} {fmt(value)}: its trend changed, now {side} {usual} (trend)"
    label = Kind(kind).label if kind else "deviation"
    if kind in (Kind.SPIKE, Kind.DROP) and math.isfinite(detail):
        # The step from the previous point fired (the rolling baseline's ``detail``): the
        # value itself may sit near its usual level, so its sigmas would not explain the page.
        change = "rise" if kind == Kind.SPIKE else "drop"
        return (
            f"{metric} {fmt(value)}, a sudden {change} from the previous point, "
            f"{sigmas_text(detail)} beyond its usual point-to-point change "
            f"(usual level {fmt(expected)}{when(t, seasonal, local_time)}) ({label})"
        )
    return f"{metric} {fmt(value)}, {sigmas_text(sigmas)} {side} {usual} ({label})"


def one_in(p: float) -> str:
    """A probability as people say it: 'about 1 in 26,000' (two significant digits)."""
    if math.isnan(p):
        return "of unknown rarity"
    if p <= 1e-9:
        return "less than 1 in a billion"
    n = 1.0 / p
    digits = max(math.floor(math.log10(n)) - 1, 0)
    return f"about 1 in {round(n, -digits):,.0f}"


#: What a reason of two agreeing columns says (``explain_pair``); evaluation reads it back.
PAIR_PHRASE = "unusual at the same time"
#: How a multivariate reason starts, before the metric it names; evaluation reads it back.
MULTIVARIATE_LEAD = "unusual combination of metrics; most deviating: "


def explain_pair(
    metric: str, value: float, p: float, other: str, other_value: float, other_p: float
) -> str:
    """The reason for a row that two columns flagged together, neither alone.

    Why its own wording: each column's band would show a deviation too small to page, so a
    sentence about one of them contradicts the score; what pages is that both are unusual
    at the same moment.
    """
    return (
        f"{metric} {fmt(value)} and {other} {fmt(other_value)} {PAIR_PHRASE} "
        f"({one_in(p)} and {one_in(other_p)} of their own points; together rarer than "
        f"either alone)"
    )
