"""SLO burn-rate alerts: multi-window, multi-burn-rate, as in the Google SRE workbook.

A burn rate is how fast the error budget goes: the error ratio divided by what the
objective allows (1 - objective). Each tier pages (or tickets) only when both its long
window (the problem is big enough to matter) and its short window (it is still happening)
burn faster than the tier's rate, and resolves as soon as the short window calms down.
The defaults, for a 30-day budget:

=========  ============  =========  ==========================================
long       short         burn rate  action
=========  ============  =========  ==========================================
1h         5m            14.4       page (P1): 2 % of the budget in one hour
6h         30m           6          page (P1): 5 % of the budget in six hours
3d         6h            1          ticket (P2, ``slo_action=ticket``)
=========  ============  =========  ==========================================

Error counts live in per-minute buckets (3 days = 4,320 per SLO), so memory is fixed.
This module also holds :class:`Buckets` and :func:`span`, which ``rules`` shares.

>>> span(5400), span(259200), span(0.5)
('1h30m', '3d', '500ms')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from anomalert.configbase import Duration, StrictModel
from anomalert.detect.reason import fmt
from anomalert.model import Alert, Mode, Sample, Severity, fingerprint

ModeOf = Callable[[str], Mode]


def span(seconds: float) -> str:
    """A duration as written in the config and in PromQL: "5m", "1h30m", "7d"."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        n, ms = divmod(ms, size)
        if n:
            parts.append(f"{n}{unit}")
    if ms:
        parts.append(f"{ms}ms")
    return "".join(parts)


def always_alerting(service: str) -> Mode:
    """The mode of rule alerts when the caller does not map services to modes."""
    return "alerting"


class Buckets:
    """Two running sums (``a``, ``b``) per time bucket in a ring of fixed size.

    Bucket ``i`` covers ``[i * width, (i + 1) * width)``; a slot is reused when time moves
    on, so memory never grows. Points older than the ring are ignored.
    """

    def __init__(self, width: float, n: int) -> None:
        self.width = float(width)
        self.index = np.full(n, -1, dtype=np.int64)
        self.a = np.zeros(n)
        self.b = np.zeros(n)

    def add(self, t: float, a: float, b: float) -> None:
        """Add ``a`` and ``b`` to the bucket of time t."""
        i = math.floor(t / self.width)
        slot = i % len(self.index)
        if self.index[slot] != i:
            if self.index[slot] > i:
                return
            self.index[slot] = i
            self.a[slot] = 0.0
            self.b[slot] = 0.0
        self.a[slot] += a
        self.b[slot] += b

    def last(self, t: float, k: int) -> tuple[float, float]:
        """Sums over the ``k`` buckets ending with the one of time t (it included)."""
        i = math.floor(t / self.width)
        mask = (self.index > i - k) & (self.index <= i)
        return float(self.a[mask].sum()), float(self.b[mask].sum())

    def over(self, t0: float, t1: float) -> tuple[float, float]:
        """Sums over ``[t0, t1)``, a bucket counting by the part of it inside the span."""
        start = self.index * self.width
        inside = np.minimum(t1, start + self.width) - np.maximum(t0, start)
        w = np.where(self.index >= 0, np.clip(inside / self.width, 0.0, 1.0), 0.0)
        return float((self.a * w).sum()), float((self.b * w).sum())

    def state(self) -> dict[str, Any]:
        """Plain state for snapshots."""
        return {"width": self.width, "index": self.index, "a": self.a, "b": self.b}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Buckets:
        """Rebuild from :meth:`state`."""
        out = cls(state["width"], len(state["index"]))
        out.index, out.a, out.b = state["index"].copy(), state["a"].copy(), state["b"].copy()
        return out


class BurnWindow(StrictModel):
    """One tier: alert when both windows burn at least ``burn_rate`` times the budget."""

    long: Duration
    short: Duration
    burn_rate: float = Field(gt=0)
    severity: Severity = "P1"
    action: Literal["page", "ticket"] = "page"

    @model_validator(mode="after")
    def _short_is_shorter(self) -> BurnWindow:
        if not 0 < self.short < self.long:
            raise ValueError("short must be a positive duration shorter than long")
        return self

    @property
    def tier(self) -> str:
        """The tier's label value: "1h/5m"."""
        return f"{span(self.long)}/{span(self.short)}"


DEFAULT_WINDOWS: tuple[BurnWindow, ...] = (
    BurnWindow(long=3600, short=300, burn_rate=14.4),
    BurnWindow(long=21600, short=1800, burn_rate=6),
    BurnWindow(long=259200, short=21600, burn_rate=1, severity="P2", action="ticket"),
)


class SloConfig(StrictModel):
    """An SLO of a service, from error and total counts or from an error-ratio metric.

    ``errors``/``total`` are counts per sample interval (summed over every matching
    series); ``error_ratio`` is a ratio per sample (each sample weighs the same).
    ``labels`` narrow the matching series beyond ``service``.
    """

    name: str = Field(min_length=1)
    service: str
    objective: float = Field(gt=0, lt=1)
    errors: str | None = None
    total: str | None = None
    error_ratio: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    windows: tuple[BurnWindow, ...] = Field(default=DEFAULT_WINDOWS, min_length=1)
    period: Duration = 30 * 86400.0
    runbook_url: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SloConfig:
        counts = self.errors is not None and self.total is not None
        partial = (self.errors is None) != (self.total is None)
        if partial or counts == (self.error_ratio is not None):
            raise ValueError("give either errors and total, or error_ratio")
        tiers = [w.tier for w in self.windows]
        if len(set(tiers)) != len(tiers):
            raise ValueError(f"windows repeat a long/short pair: {tiers}")
        return self

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names this SLO reads."""
        return tuple(m for m in (self.errors, self.total, self.error_ratio) if m is not None)

    def selects(self, sample: Sample) -> bool:
        """Whether a sample belongs to this SLO (metric, service and label matchers)."""
        return (
            sample.metric in self.metrics
            and sample.service == self.service
            and all(sample.labels.get(k) == v for k, v in self.labels.items())
        )


class SloTracker:
    """Per-minute error and total counts of one SLO and the state of each of its tiers."""

    def __init__(self, config: SloConfig, mode_of: ModeOf = always_alerting) -> None:
        self.config = config
        self.mode_of = mode_of
        longest = max(w.long for w in config.windows)
        self.minutes = Buckets(60.0, math.ceil(longest / 60.0) + 1)
        self.firing: dict[str, float] = {}  # tier -> starts_at

    def observe(self, sample: Sample) -> None:
        """Count one sample (the caller checked :meth:`SloConfig.selects`)."""
        v = sample.value
        if not math.isfinite(v) or v < 0:
            return
        c = self.config
        if sample.metric == c.error_ratio:
            self.minutes.add(sample.timestamp, v, 1.0)
        elif sample.metric == c.errors:
            self.minutes.add(sample.timestamp, v, 0.0)
        if sample.metric == c.total:
            self.minutes.add(sample.timestamp, 0.0, v)

    def burn(self, now: float, window: float) -> float:
        """The burn rate over the window ending now (0 without traffic)."""
        bad, total = self.minutes.last(now, max(1, math.ceil(window / 60.0)))
        if total <= 0:
            return 0.0
        return (bad / total) / (1.0 - self.config.objective)

    def evaluate(self, now: float) -> list[Alert]:
        """Transitions of the tiers: fire on both windows, resolve on the short one."""
        out: list[Alert] = []
        for w in self.config.windows:
            long, short = self.burn(now, w.long), self.burn(now, w.short)
            if w.tier in self.firing:
                if short < w.burn_rate:
                    out.append(self._alert(w, long, short, now, "resolved"))
                    del self.firing[w.tier]
            elif long >= w.burn_rate and short >= w.burn_rate:
                self.firing[w.tier] = now
                out.append(self._alert(w, long, short, now, "firing"))
        return out

    def _alert(
        self,
        w: BurnWindow,
        long: float,
        short: float,
        now: float,
        status: Literal["firing", "resolved"],
    ) -> Alert:
        c = self.config
        identity = {
            **c.labels,
            "alertname": c.name,
            "service": c.service,
            "slo": c.name,
            "slo_action": w.action,
            "burn_window": w.tier,
        }
        lasts = span(c.period / long) if long > 0 else "forever"
        summary = (
            f"{c.name} ({c.objective:.4g} objective) is burning its error budget "
            f"{fmt(long)}x the sustainable rate over {span(w.long)} and {fmt(short)}x over "
            f"{span(w.short)}; at this rate the {span(c.period)} budget lasts {lasts}"
        )
        annotations = {
            "summary": summary,
            "burn_rate_long": fmt(long),
            "burn_rate_short": fmt(short),
            "burn_rate_threshold": fmt(w.burn_rate),
            "window_long": span(w.long),
            "window_short": span(w.short),
            "objective": f"{c.objective:.6g}",
        }
        if c.runbook_url:
            annotations["runbook_url"] = c.runbook_url
        return Alert(
            fingerprint=fingerprint(identity),
            labels={**identity, "severity": w.severity},
            annotations=annotations,
            starts_at=self.firing.get(w.tier, now),
            ends_at=now if status == "resolved" else None,
            status=status,
            score=1.0,
            severity=w.severity,
            mode=self.mode_of(c.service),
            source="rule",
            updated_at=now,
        )

    def state(self) -> dict[str, Any]:
        """Plain state for snapshots."""
        return {"minutes": self.minutes.state(), "firing": dict(self.firing)}

    def load(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`; tiers no longer configured are dropped."""
        minutes = Buckets.from_state(state["minutes"])
        if len(minutes.index) == len(self.minutes.index):
            self.minutes = minutes
        tiers = {w.tier for w in self.config.windows}
        self.firing = {k: v for k, v in state["firing"].items() if k in tiers}
