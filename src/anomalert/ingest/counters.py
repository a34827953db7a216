"""Which samples are counters: what the sender says, else what the metric is called.

Prometheus' remote_write carries every scraped series, counters included, and its metadata
(``MetricMetadata``: a family's type) comes in requests of its own, a minute apart by
default. The names are the other evidence: Prometheus reserves ``_total`` for counters
(OpenMetrics requires it) and ``_bucket``, ``_count`` and ``_sum`` for histograms and
summaries, whose parts count too (promtool warns when a gauge uses them). How a counter is
then followed is ``detect.counters``.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

#: The metric names taken for counters when the sender said nothing of their family.
COUNTER_NAMES = ("*_total", "*_count", "*_sum", "*_bucket")

#: remote_write's ``MetricMetadata.MetricType`` values (prompb ``types.proto``).
UNKNOWN, COUNTER, GAUGE, HISTOGRAM, GAUGEHISTOGRAM, SUMMARY, INFO, STATESET = range(8)
#: Which series of a metric family of each type count: the suffix after the family name.
_COUNTING = {
    COUNTER: ("", "_total"),
    HISTOGRAM: ("_bucket", "_count", "_sum"),
    SUMMARY: ("_count", "_sum"),
}
_SUFFIXES = ("", "_total", "_bucket", "_count", "_sum")
#: Metric names whose verdict is kept (a sender with more starts the cache again).
VERDICTS_MAX = 100_000


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """The patterns, or ValueError for an empty one (it would match nothing a user meant)."""
    out = tuple(patterns)
    if not all(pattern.strip() for pattern in out):
        raise ValueError("a pattern must not be empty")
    return out


class CounterNames:
    """Tells counters by their metric name: what the sender's metadata says about the family
    if it said anything, else the configured name patterns (``ingest.counters``).

    Metadata wins where it exists: a family typed a gauge is one whatever its name, and a
    counter named without ``_total`` is still a counter once its family's type is known.
    Verdicts are cached per name (a few thousand names, asked once per sample).
    """

    def __init__(self, patterns: Iterable[str] = COUNTER_NAMES) -> None:
        self.patterns = tuple(patterns)
        self.families: dict[str, int] = {}
        self._verdicts: dict[str, bool] = {}

    def learn(self, family: str, kind: int) -> None:
        """Remember a metric family's type (remote_write metadata); UNKNOWN says nothing."""
        if kind == UNKNOWN or not family or self.families.get(family) == kind:
            return
        self.families[family] = kind
        self._verdicts.clear()

    def __call__(self, metric: str) -> bool:
        """Whether series of this metric name are counters."""
        verdict = self._verdicts.get(metric)
        if verdict is None:
            verdict = self._decide(metric)
            if len(self._verdicts) >= VERDICTS_MAX:
                self._verdicts.clear()
            self._verdicts[metric] = verdict
        return verdict

    def _decide(self, metric: str) -> bool:
        for suffix in _SUFFIXES:
            if not metric.endswith(suffix):
                continue
            kind = self.families.get(metric[: len(metric) - len(suffix)] if suffix else metric)
            if kind is not None:
                return suffix in _COUNTING.get(kind, ())
        return any(fnmatchcase(metric, p) for p in self.patterns)
