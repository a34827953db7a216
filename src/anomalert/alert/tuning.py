"""Applying adaptive sensitivity: feedback in, the alert policy's thresholds out.

:mod:`anomalert.alert.sensitivity` says what a threshold should be; this module keeps the
policy and the store in step with it. The store is the truth: each (service, metric) that
ever had feedback has a sensitivity row (its threshold, why, and the last reset), the
policy's runtime override mirrors that row, and a restart loads the rows back (the policy's
checkpoint may be older). Thresholds are recomputed when feedback arrives, when an admin
resets one, and about once an hour of the app's clock, so feedback that ages out of the
window lets the threshold drift back.

Only alerts the policy's threshold decides (``source == "anomaly"``) are tuned: rule and
external alerts have thresholds of their own, so their feedback is recorded and counted on
the services page, but moves nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from anomalert.alert.policy import AlertPolicy
from anomalert.alert.sensitivity import SensitivityConfig, Tuning, span, tune, window_start
from anomalert.store.rows import SensitivityRow

__all__ = ["RETUNE_EVERY", "TUNED_SOURCE", "ThresholdChange", "Tuner"]

log = logging.getLogger("anomalert")

#: Thresholds are recomputed this often (seconds of the app's clock) so feedback ages out.
RETUNE_EVERY = 3600.0
#: Alerts whose threshold is the policy's, so feedback on them may move it.
TUNED_SOURCE = "anomaly"


class TuningStore(Protocol):
    """What the tuner reads and writes (:class:`anomalert.store.Store` has it all)."""

    def feedback_counts(
        self,
        *,
        service: str | None = None,
        metric: str | None = None,
        since: float | None = None,
        source: str | None = None,
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(helpful, not helpful) per (service, metric)."""
        ...

    def sensitivity(self, service: str, metric: str) -> SensitivityRow | None:
        """One stored row, or None."""
        ...

    def sensitivities(self, service: str | None = None) -> list[SensitivityRow]:
        """Every stored row."""
        ...

    def save_sensitivity(self, row: SensitivityRow) -> None:
        """Insert or replace one row."""
        ...


@dataclass(frozen=True)
class ThresholdChange:
    """What one recomputation did to a (service, metric)'s threshold, and why."""

    service: str
    metric: str
    before: float
    after: float
    explanation: str

    def to_json(self) -> dict[str, Any]:
        """As the API answers and the alert's history records it."""
        return {
            "service": self.service,
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "explanation": self.explanation,
        }


class Tuner:
    """Keeps the policy's thresholds where the feedback rule puts them."""

    def __init__(self, policy: AlertPolicy, store: TuningStore, config: SensitivityConfig) -> None:
        self.policy = policy
        self.store = store
        self.config = config
        self.next_retune = -float("inf")

    def base(self, service: str, metric: str) -> float:
        """The configured threshold (before any feedback)."""
        return self.policy.configured(service).effective(metric).threshold

    def compute(self, service: str, metric: str, now: float, reset_at: float | None) -> Tuning:
        """What the rule says for one (service, metric) now (reads, changes nothing)."""
        eff = self.policy.configured(service).effective(metric)
        since = window_start(now, reset_at, self.config)
        counts = self.store.feedback_counts(
            service=service, metric=metric, since=since, source=TUNED_SOURCE
        )
        helpful, not_helpful = counts.get((service, metric), (0, 0))
        return tune(
            eff.threshold,
            helpful,
            not_helpful,
            self.config,
            adaptive=eff.adaptive,
            within=span(now, reset_at, self.config),
        )

    def retune(
        self, service: str, metric: str, now: float, *, reset: bool = False
    ) -> ThresholdChange:
        """Recompute, apply to the policy and store one (service, metric)'s threshold;
        ``reset`` first makes earlier feedback stop counting."""
        row = self.store.sensitivity(service, metric)
        reset_at = now if reset else (row.reset_at if row is not None else None)
        tuning = self.compute(service, metric, now, reset_at)
        before = self.policy.threshold(service, metric)
        stored = tuning.threshold if tuning.moved else None
        self.policy.set_threshold(service, metric, stored)
        new = SensitivityRow(service, metric, reset_at, stored, tuning.explanation, now)
        if row is None or (row.reset_at, row.threshold, row.explanation) != (
            new.reset_at,
            new.threshold,
            new.explanation,
        ):
            self.store.save_sensitivity(new)
        return ThresholdChange(service, metric, before, tuning.threshold, tuning.explanation)

    def untuned(self, service: str, metric: str, source: str) -> ThresholdChange:
        """The answer for feedback on an alert whose threshold is not the policy's."""
        current = self.policy.threshold(service, metric)
        why = f"feedback recorded; {source} alerts have thresholds of their own, not tuned"
        return ThresholdChange(service, metric, current, current, why)

    def tick(self, now: float) -> list[ThresholdChange]:
        """About once an hour: recompute every (service, metric) that has a row, so
        feedback that left the window stops counting. Returns the thresholds that moved."""
        if now < self.next_retune:
            return []
        self.next_retune = now + RETUNE_EVERY
        moved = []
        for row in self.store.sensitivities():
            change = self.retune(row.service, row.metric, now)
            if change.after != change.before:
                moved.append(change)
                log.info("sensitivity %s/%s: %s", change.service, change.metric, change.explanation)
        return moved

    def restore(self) -> None:
        """Make the policy's overrides the stored ones (the store is the truth)."""
        rows = {(r.service, r.metric): r for r in self.store.sensitivities()}
        for key in self.policy.thresholds():
            if key not in rows:
                self.policy.set_threshold(*key, None)
        for (service, metric), row in rows.items():
            try:
                self.policy.set_threshold(service, metric, row.threshold)
            except ValueError:
                log.warning("ignoring stored threshold %s of %s/%s", row.threshold, service, metric)
