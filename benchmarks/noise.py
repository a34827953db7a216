"""The noise contract, measured: flagged points per 10,000 on pure noise, per noise family.

The product promises that at the default threshold pure noise raises at most one alert per
10,000 points. The tests assert it for Gaussian and Student-t(5) noise on a short run; this
measures it over long runs and heavier families (Student-t(3) is the hardest), so the figure
in the README can be reproduced. A figure, never an assertion: it is part of ``make bench``.
The daily families put the noise on a daily wave: there the seasonal detector models the
series, and with heavy-tailed noise it breaks the budget (Student-t(3): 2.19 alerts per
10,000 on 2026-12-04, 1.96 on 2026-12-05; lognormal 1.74, Student-t(5) 1.69): its
calibrated p-values fall below 1e-4 four to five times as often as they say in the daily
model's first week, about twice after (a known defect, not yet fixed: the README).

The alerts are also split by the series' age: its first ``--young`` points, while the tails
are learned from a few dozen exceedances, and after. The two call for different remedies (a
young series' doubt, a settled tail's shape), so one figure for both would hide which one
a change moved. A series' first two days (2,880 one-minute points, 576 five-minute ones)
raise none: a series alerts only once it is two days old; the young rate is still per
10,000 of all young points.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.special import ndtr

from anomalert.detect.engine import BatchEngine, Settings
from anomalert.ingest.histograms import HistogramConfig, Window, histogram_quantile, needed
from anomalert.ingest.recordpools import PER_REQUEST, RecordConfig, RecordPools
from anomalert.ingest.records import FEATURES, Record

Draw = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]


def _daily(draw: Draw, per_day: int = 1440) -> Draw:
    """``draw`` on top of a daily wave (amplitude 10, ``per_day`` points a day): pure noise
    around a seasonal baseline, which the seasonal detector models and holds half the budget
    of."""

    def seasonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        wave = 10.0 * np.sin(2.0 * np.pi * np.arange(shape[0]) / per_day)
        return wave[:, None] + draw(rng, shape)

    return seasonal


def _doubling(draw: Draw, at: int) -> Draw:
    """``draw``'s deviations from its mean twice as large from point ``at`` on: a scrape
    interval shortened on a rate metric (a rate over 15 s is twice as noisy as over 60 s).
    Still pure noise, which the seasonal variance (a day's memory) follows for hours
    (``detect.noiselevel``)."""

    def doubled(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        values = draw(rng, shape)
        mean = values[:at].mean(axis=0)
        values[at:] = mean + 2.0 * (values[at:] - mean)
        return values

    return doubled


#: A latency histogram's upper bounds (seconds; Prometheus' client defaults).
LATENCY_BOUNDS = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, np.inf])


def _traffic(points: int) -> np.ndarray:
    """Requests a minute of a service through the day: 300 at the 14:00 peak, about 5 at
    night."""
    hour = (np.arange(points) % 1440) / 60.0
    rate: np.ndarray = 300.0 * ((1.0 + 0.6 * np.cos((hour - 14.0) / 24.0 * 2.0 * np.pi)) / 1.6) ** 3
    return rate


def _histogram_p99(config: HistogramConfig) -> Draw:
    """The p99 of a service's latency histogram, scraped every minute, derived as the
    service derives it (``ingest.histograms``: over ``config``'s observations): lognormal
    latencies (median 80 ms) of requests whose rate follows the day, 300 a minute at the
    14:00 peak and about 5 at night, where a scrape's p99 is the largest of a handful. No
    value where a p99 waits for more observations (NaN, as a scrape without one)."""
    below = ndtr((np.log(LATENCY_BOUNDS[:-1]) - np.log(0.08)) / 0.6)
    shares = np.diff(np.concatenate([[0.0], below, [1.0]]))
    need = needed(0.99, config.tail_observations)

    def p99(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        points, series = shape
        rate = _traffic(points)
        served = rng.multinomial(rng.poisson(rate[:, None], shape), shares).cumsum(axis=2)
        out = np.full(shape, np.nan)
        for s in range(series):
            window = None
            for k in range(points):
                t = 60.0 * k
                window, whole = Window.add(
                    window, t - 60.0, t, served[k, s].astype(float), need, config.max_window
                )
                if whole is not None:
                    out[k, s] = histogram_quantile(0.99, LATENCY_BOUNDS, whole)
        return out

    return p99


def _record_statistic(name: str, config: RecordConfig | None) -> Draw:
    """An aggregate record's per-request statistic ``name`` (``error_rate``,
    ``latency_mean_ms``, ``latency_p95_ms`` or ``latency_p99_ms``), one record a minute of
    the same day of traffic, computed as a sender computes it over the minute's requests (1 %
    of them errors; lognormal latencies, median 80 ms; quantiles as numpy's, linear), and
    followed per record (``config`` None) or as the service follows it (``ingest.records``:
    pooled over enough requests, ``RecordPools``). No value where it waits, nor for a minute
    without requests."""
    quantile = PER_REQUEST[name]

    def statistic(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        points, series = shape
        rate = _traffic(points)
        out = np.full(shape, np.nan)
        for s in range(series):
            served = rng.poisson(rate)
            total = int(served.sum())
            which = np.repeat(np.arange(points), served)
            if quantile is None and name == "error_rate":
                value = rng.binomial(served, 0.01) / np.maximum(served, 1)
            else:
                latency = rng.lognormal(np.log(80.0), 0.6, total)
                first = np.cumsum(served) - served
                if quantile is None:
                    sums = np.bincount(which, weights=latency, minlength=points)
                    value = sums / np.maximum(served, 1)
                else:
                    ordered = latency[np.lexsort((latency, which))]
                    h = quantile * (np.maximum(served, 1) - 1)
                    low = np.floor(h).astype(np.int64)
                    high = np.minimum(low + 1, np.maximum(served, 1) - 1)
                    at = np.minimum(first + low, max(total - 1, 0))
                    nxt = np.minimum(first + high, max(total - 1, 0))
                    value = ordered[at] + (h - low) * (ordered[nxt] - ordered[at])
            value = np.where(served > 0, value, np.nan)
            if config is None:
                out[:, s] = value
                continue
            pools = RecordPools(config)
            others = dict.fromkeys(FEATURES, 0.0)
            for k in range(points):
                if not served[k]:
                    continue
                values = {**others, "total_requests": float(served[k]), name: float(value[k])}
                taken = pools.take([Record("api", 60.0 * k, 60.0, values)]).samples
                out[k, s] = next((x.value for x in taken if x.metric == name), np.nan)
        return out

    return statistic


#: Each family as one-minute points around a level of 100 (lognormal: its own scale); the
#: next six around a daily wave (lognormal there: a latency-like skew on a daily shape),
#: the fifth with its noise doubling after 15,000 points, the sixth at five-minute points
#: (``STEP``); then a histogram's p99 through a day of
#: traffic, taken per scrape and as the service takes it (over 200 observations), and an
#: aggregate record's p99 and error rate through the same day, per record and as the
#: service takes them (over 200 and 100 requests).
FAMILIES: dict[str, Draw] = {
    "Gaussian": lambda rng, shape: rng.normal(100.0, 1.0, shape),
    "Poisson(1)": lambda rng, shape: rng.poisson(1.0, shape).astype(float),
    "Laplace": lambda rng, shape: rng.laplace(100.0, 1.0, shape),
    "lognormal": lambda rng, shape: rng.lognormal(0.0, 1.0, shape),
    "Student-t(5)": lambda rng, shape: 100.0 + rng.standard_t(5, shape),
    "Student-t(3)": lambda rng, shape: 100.0 + rng.standard_t(3, shape),
    "daily + Gaussian": _daily(lambda rng, shape: rng.normal(100.0, 1.0, shape)),
    "daily + lognormal": _daily(lambda rng, shape: rng.lognormal(0.0, 1.0, shape)),
    "daily + Student-t(5)": _daily(lambda rng, shape: 100.0 + rng.standard_t(5, shape)),
    "daily + Student-t(3)": _daily(lambda rng, shape: 100.0 + rng.standard_t(3, shape)),
    "daily + Gaussian, doubling at 15,000": _daily(
        _doubling(lambda rng, shape: rng.normal(100.0, 1.0, shape), 15_000)
    ),
    "daily + Student-t(3), 5 min": _daily(
        lambda rng, shape: 100.0 + rng.standard_t(3, shape), per_day=288
    ),
    "daily histogram p99, per scrape": _histogram_p99(HistogramConfig(tail_observations=0)),
    "daily histogram p99": _histogram_p99(HistogramConfig()),
    "daily record p99, per record": _record_statistic("latency_p99_ms", None),
    "daily record p99": _record_statistic("latency_p99_ms", RecordConfig()),
    "daily record error rate, per record": _record_statistic("error_rate", None),
    "daily record error rate": _record_statistic("error_rate", RecordConfig()),
}
#: Seconds between a family's points where not one minute. At five minutes the same number
#: of points spans 69 days instead of 14, and a tail's memory (in points) five times as long:
#: the daily-noise defect lasts weeks longer there (README, "Known defect").
STEP: dict[str, float] = {"daily + Student-t(3), 5 min": 300.0}


class Rates(NamedTuple):
    """Per 10,000 points: flagged points, alerts (flagged runs), and the alerts of a series'
    first ``young`` points and of the points after them, each per 10,000 of its own points
    (None when a run is no longer than ``young``)."""

    points: float
    runs: float
    young_runs: float
    settled_runs: float | None


def flagged_rates(
    draw: Draw, series: int, points: int, seeds: int, young: int = 2000, step: float = 60.0
) -> Rates:
    """Flagged points and alerts per 10,000 points (``step`` seconds apart), over all seeds,
    and the alerts by age."""
    if young < 1:
        raise ValueError(f"young: expected at least 1 point, got {young}")
    flagged = runs = young_runs = 0
    for seed in range(seeds):
        values = draw(np.random.default_rng(seed), (points, series))
        engine = BatchEngine(series, Settings(multivariate=()))
        before = np.zeros(series, dtype=bool)
        for k in range(points):
            now = engine.step(np.full(series, 1.7e9 + step * k), values[k]).series.flagged
            started = int((now & ~before).sum())
            flagged += int(now.sum())
            runs += started
            young_runs += started if k < young else 0
            before = now
    young_points = seeds * series * min(young, points)
    settled_points = seeds * series * points - young_points
    return Rates(
        points=1e4 * flagged / (seeds * series * points),
        runs=1e4 * runs / (seeds * series * points),
        young_runs=1e4 * young_runs / young_points,
        settled_runs=(1e4 * (runs - young_runs) / settled_points if settled_points else None),
    )


def positive(text: str) -> int:
    """A whole number of at least 1 (argparse answers anything else with exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float | None]]:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--series", type=positive, default=60)
    p.add_argument("--points", type=positive, default=20_000)
    p.add_argument("--seeds", type=positive, default=3)
    p.add_argument(
        "--young", type=positive, default=2000, help="a series' first points, counted apart"
    )
    p.add_argument("--json", type=Path, default=Path("bench-results/noise.json"))
    args = p.parse_args(argv)
    results: dict[str, dict[str, float | None]] = {}
    for name, draw in FAMILIES.items():
        step = STEP.get(name, 60.0)
        rates = flagged_rates(draw, args.series, args.points, args.seeds, args.young, step)
        results[name] = {f"{k}_per_10k": v for k, v in rates._asdict().items()}
    table = Table(
        title=f"pure noise at the default threshold ({args.seeds} seeds x {args.series} "
        f"series x {args.points:,} points)"
    )
    young = f"{min(args.young, args.points):,}"
    table.add_column("noise", no_wrap=True)
    for column in (
        "flagged points / 10k",
        "alerts / 10k",
        f"alerts / 10k, a series' first {young} points",
        "alerts / 10k, after",
        "budget",
    ):
        table.add_column(column, justify="right")
    for name, row in results.items():
        table.add_row(name, *("-" if v is None else f"{v:.2f}" for v in row.values()), "<= 1")
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
