"""What SMD's false alarms are: every predicted event that touches no label, sorted by its reason.

Why: event precision says how many alerts were false, not which kind of evidence raised them,
and the next change to the detector depends on that (on 2026-12-02: 71 of 185 false events
were two columns agreeing, 65 one mostly-zero column more than 30σ out). Each false event
is counted under the kind its first row's ``reason`` names, and a single-column spike or
drop also under how many sigmas the reason gives, so ``make eval`` reports the anatomy with
every run instead of a session's throwaway script.

>>> reason_kind("c10 0.0158, 687.6σ above the usual 3.53e-06 (spike)")
'spike'
>>> reason_kind("c02 0.01 and c04 0.01 unusual at the same time (about 1 in 2,000 and ...)")
'two columns'
>>> sigma_band("c10 0.0158, 687.6σ above the usual 3.53e-06 (spike)")
'over 30σ'
>>> sigma_band("c17 0.00108, over 1,000σ above the usual 0 (spike)")
'over 30σ'
>>> sigma_band("c25 0.491, 6.7σ below the usual 0.77 for Thu 13:00 (drop)")
'6-10σ'

False alarms also recur: one machine's pair of three-valued columns raised 17 of the 71
false pair alerts on 2026-12-03, which no count by kind shows. So each is also counted under
its source, the machine and the columns its reason names, and the sources that recur are
listed, most first.

>>> reason_source("c36 0 and c35 0 unusual at the same time (about 1 in 2,200 and ...)")
'c35 + c36'
>>> reason_source("c10 0.0158, 687.6σ above the usual 3.53e-06 (spike)")
'c10'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from anomalert.detect.reason import MULTIVARIATE_LEAD, PAIR_PHRASE
from anomalert.evaluate.smd import runs, touched

#: The kind a reason ends with, "(spike)", "(level shift)", as the detector writes it.
_KIND = re.compile(r"\(([a-z][a-z ]*)\)\s*$")
_SIGMAS = re.compile(r"(over )?([\d,]+(?:\.\d+)?)σ")
#: The columns a reason names (``reason.explain``, ``explain_pair``): the pair sentence's
#: two, each followed by its value, or the one before a single column's value and what
#: follows it (a comma, a colon, "has shifted", "is climbing").
_PAIR_COLUMNS = re.compile(rf"^(.+?) \S+ and (.+?) \S+ {PAIR_PHRASE} ")
_ONE_COLUMN = re.compile(rf"^(?:{re.escape(MULTIVARIATE_LEAD)})?(.+?) \S+?(?:,|:| has | is )")
#: How many recurring sources ``Anatomy.as_dict`` lists.
TOP_SOURCES = 10
#: Upper edges of the sigma bands and their names; the last band is open.
SIGMA_BANDS: tuple[tuple[float, str], ...] = (
    (6.0, "under 6σ"),
    (10.0, "6-10σ"),
    (30.0, "10-30σ"),
    (float("inf"), "over 30σ"),
)


def reason_kind(reason: str) -> str:
    """The kind of evidence a reason names: "two columns" for the pair sentence, else the
    kind in its closing parentheses, else "other"."""
    if PAIR_PHRASE in reason:
        return "two columns"
    found = _KIND.search(reason)
    return found.group(1) if found else "other"


def sigma_band(reason: str) -> str | None:
    """How far out a single-column reason says the value was, as a band; None without σ."""
    found = _SIGMAS.search(reason)
    if found is None:
        return None
    sigmas = float(found.group(2).replace(",", ""))
    # "over 1,000σ" (where reasons stop counting) falls in the band of 1,000.
    return next(name for edge, name in SIGMA_BANDS if sigmas < edge)


def reason_source(reason: str) -> str:
    """The columns a reason names, "a + b" (sorted) for a pair; "other" if it names none."""
    pair = _PAIR_COLUMNS.match(reason)
    if pair is not None:
        return " + ".join(sorted(pair.groups()))
    one = _ONE_COLUMN.match(reason)
    return one.group(1) if one is not None else "other"


@dataclass(frozen=True)
class FalseEvent:
    """One predicted event that touches no labelled row."""

    machine: str
    row: int  # first row of the event, counted in test rows
    score: float
    reason: str

    @property
    def kind(self) -> str:
        return reason_kind(self.reason)

    @property
    def source(self) -> str:
        """The machine and the columns the reason names, e.g. "machine-1-2 c35 + c36"."""
        return f"{self.machine} {reason_source(self.reason)}"


def false_events(
    machine: str,
    labels: npt.ArrayLike,
    flags: npt.ArrayLike,
    scores: npt.ArrayLike,
    reasons: Sequence[str],
) -> list[FalseEvent]:
    """The predicted events (runs of flags) that touch no label, as ``smd.event_counts``
    counts them, each with its first row's score and reason."""
    y = np.asarray(labels, dtype=bool).reshape(-1)
    p = np.asarray(flags, dtype=bool).reshape(-1)
    s = np.asarray(scores, dtype=float).reshape(-1)
    if not (y.size == p.size == s.size == len(reasons)):
        raise ValueError(
            f"{machine}: {y.size} labels, {p.size} flags, {s.size} scores, {len(reasons)} reasons"
        )
    spans = runs(p)
    starts = spans[~touched(spans, y), 0]
    return [FalseEvent(machine, int(r), float(s[r]), str(reasons[r])) for r in starts]


@dataclass
class Anatomy:
    """False events counted by kind and, for single-column spikes and drops, by sigmas."""

    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_sigmas: Counter[str] = field(default_factory=Counter)
    by_machine: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, events: Iterable[FalseEvent]) -> Anatomy:
        anatomy = cls()
        for event in events:
            anatomy.total += 1
            anatomy.by_kind[event.kind] += 1
            anatomy.by_machine[event.machine] += 1
            anatomy.by_source[event.source] += 1
            band = sigma_band(event.reason) if event.kind in ("spike", "drop") else None
            if band is not None:
                anatomy.by_sigmas[band] += 1
        return anatomy

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``eval.json``: counts, most common first; bands in band order."""
        bands = [name for _, name in SIGMA_BANDS]
        return {
            "total": self.total,
            "by_kind": dict(self.by_kind.most_common()),
            "single_column_by_sigmas": {b: self.by_sigmas[b] for b in bands if self.by_sigmas[b]},
            "by_machine": dict(sorted(self.by_machine.items())),
            "recurring_sources": dict(self.recurring()),
        }

    def recurring(self) -> list[tuple[str, int]]:
        """The sources with more than one false event, most first (at most ``TOP_SOURCES``;
        ties in name order)."""
        found = sorted((-n, source) for source, n in self.by_source.items() if n > 1)
        return [(source, -n) for n, source in found[:TOP_SOURCES]]

    def summary_line(self) -> str:
        """One line for the console, e.g. "185 false events: 98 spike, 71 two columns, ...;
        most from machine-1-2 c35 + c36 (17), ..."."""
        kinds = ", ".join(f"{n} {k}" for k, n in self.by_kind.most_common())
        bands = ", ".join(
            f"{self.by_sigmas[name]} {name}" for _, name in SIGMA_BANDS if self.by_sigmas[name]
        )
        line = f"{self.total} false events: {kinds}" if self.total else "0 false events"
        line = f"{line} (one column: {bands})" if bands else line
        top = self.recurring()[:3]
        if top:
            line += "; most from " + ", ".join(f"{source} ({n})" for source, n in top)
        return line
