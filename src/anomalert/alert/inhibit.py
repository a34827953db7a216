"""Inhibition: while a bigger problem fires, the smaller problems it explains stay quiet.

"Cluster down" makes every service alert in that cluster noise; a rule says which alerts are
sources, which are targets, and which labels must be ``equal`` for the one to explain the
other (a missing label equals a missing label, as in Alertmanager). Only firing sources
inhibit, so when the cluster comes back the service alerts that still fire are heard again.

An alert never inhibits itself, and when an alert matches both sides of a rule only sources
that do not also match the target side can mute it: two "service down" alerts of one cluster
must not mute each other into silence (Alertmanager's rule too).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from anomalert.alert.matchers import Matcher, MatcherText, matches_all, parse_all
from anomalert.configbase import StrictModel
from anomalert.model import Alert, Labels


class InhibitRule(StrictModel):
    """While an alert matching ``source_matchers`` fires, alerts matching ``target_matchers``
    with the same values of the ``equal`` labels are muted."""

    source_matchers: list[MatcherText] = Field(min_length=1)
    target_matchers: list[MatcherText] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class _Rule:
    """A rule with parsed matchers and its firing sources indexed by their ``equal`` values."""

    def __init__(self, rule: InhibitRule) -> None:
        self.source: tuple[Matcher, ...] = parse_all(rule.source_matchers, "source_matchers")
        self.target: tuple[Matcher, ...] = parse_all(rule.target_matchers, "target_matchers")
        self.equal = tuple(rule.equal)
        self.sources: dict[tuple[str, ...], dict[str, Labels]] = {}

    def key(self, labels: Labels) -> tuple[str, ...]:
        return tuple(labels.get(name, "") for name in self.equal)

    def inhibitors(self, labels: Labels) -> list[str]:
        if not matches_all(self.target, labels):
            return []
        two_sided = matches_all(self.source, labels)
        return [
            src_fp
            for src_fp, src in self.sources.get(self.key(labels), {}).items()
            if src != labels and not (two_sided and matches_all(self.target, src))
        ]


class Inhibitor:
    """The currently firing source alerts of every rule; a :class:`Muter`."""

    def __init__(self, rules: Iterable[InhibitRule] = ()) -> None:
        self._rules = [_Rule(r) for r in rules]

    def observe(self, alert: Alert) -> None:
        """Track the latest snapshot: a firing source starts inhibiting, a resolved one stops."""
        for rule in self._rules:
            if not matches_all(rule.source, alert.labels):
                continue
            key = rule.key(alert.labels)
            if alert.status == "firing":
                rule.sources.setdefault(key, {})[alert.fingerprint] = alert.labels
            elif key in rule.sources:
                rule.sources[key].pop(alert.fingerprint, None)
                if not rule.sources[key]:
                    del rule.sources[key]

    def clear(self) -> None:
        """Forget every source (before replaying the firing alerts of a snapshot)."""
        for rule in self._rules:
            rule.sources.clear()

    def inhibited_by(self, labels: Labels, now: float) -> list[str]:
        """Fingerprints of the firing alerts that inhibit these labels (sorted, no repeats)."""
        return sorted({src for rule in self._rules for src in rule.inhibitors(labels)})

    def mutes(self, labels: Labels, now: float) -> bool:
        """Whether some firing source inhibits these labels."""
        return any(rule.inhibitors(labels) for rule in self._rules)
