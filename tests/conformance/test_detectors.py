"""Conformance suite: every registered detector keeps the ``Detector`` contract.

Each detector of ``registry.UNIVARIATE`` (and each multivariate one of
``registry.MULTIVARIATE_MODULES`` whose module imports) is run raw (``observe`` then
``learn`` of every finite point) and wrapped in a calibrated ``Ensemble([det])`` on the same
seeded data: three series (or groups of two series) of about 3.5 days at five-minute steps
with jittered timestamps, a daily curve, a spike, a level shift and a ramp. Every comparison
is exact (``assert_array_equal``, NaN equal to NaN): the contract is "the same numbers", not
"close numbers".
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from anomalert.detect.base import Detector, Frame
from anomalert.detect.ensemble import Ensemble, Step
from anomalert.detect.registry import (
    DEFAULT_UNIVARIATE,
    MULTIVARIATE_MODULES,
    UNIVARIATE,
    make_univariate,
)

N = 3  # series (or groups) run together
DIM = 2  # series per group for the multivariate detectors
ROWS = 1000  # five-minute steps: about 3.5 days, so daily seasonality is found
PREFIX = 600  # a cut after two days
DT = 300.0
T0 = 1_704_067_200.0  # Monday 2024-01-01 00:00 UTC
NAN_ROWS = (500, 501, 502)
INF_ROW, NEG_INF_ROW = 510, 511

#: Constructor arguments that make a detector have an opinion on the test data within
#: ROWS points: forecasting needs a limit to forecast a breach of; the multivariate ones
#: fit (and refit, and check for drift) on smaller buffers than in production.
KWARGS: dict[str, dict[str, Any]] = {
    "forecast": {"limit": 130.0},
    "forest": {
        "min_fit": 100,
        "refit_every": 300,
        "drift_window": 200,
        "buffer_size": 400,
        "n_estimators": 16,
    },
    "patterns": {
        "window": 10,
        "stride": 2,
        "min_fit": 60,
        "refit_every": 300,
        "drift_window": 200,
        "buffer_size": 300,
    },
}

RAW_FIELDS = ("stat", "expected", "lower", "upper", "kind", "detail")
STEP_FIELDS = (
    "score",
    "p",
    "flagged",
    "winner",
    "kind",
    "expected",
    "lower",
    "upper",
    "detail",
    "adapted",
)


# ------------------------------------------------------------------------------ detectors
def detector_class(name: str) -> type[Detector]:
    """The class registered under ``name`` (skips a multivariate one not written yet)."""
    if name in UNIVARIATE:
        return UNIVARIATE[name]
    module_name, cls_name = MULTIVARIATE_MODULES[name]
    module = pytest.importorskip(module_name)
    cls = getattr(module, cls_name, None)
    if cls is None:
        pytest.skip(f"{module_name}.{cls_name} does not exist yet")
    return cls


def make(name: str, n: int) -> Detector:
    cls = detector_class(name)
    kwargs = dict(KWARGS.get(name, {}))
    if cls.multivariate:
        kwargs["dim"] = DIM
    return cls(n=n, **kwargs)


def is_multi(name: str) -> bool:
    return name not in UNIVARIATE


NAMES = [*UNIVARIATE, *MULTIVARIATE_MODULES]
MODES = ["raw", "ensemble"]


# ------------------------------------------------------------------------------ data
@functools.cache
def dataset(multi: bool, dirty: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Times (ROWS, N) and values (ROWS, N) or (ROWS, N, DIM); ``dirty`` adds NaN/inf."""
    rng = np.random.default_rng(123)
    base = T0 + DT * np.arange(ROWS)
    t = base[:, None] + rng.uniform(0.0, 60.0, (ROWS, N))  # each series its own clock
    hours = (t - T0) / 3600.0
    x = 100.0 + 8.0 * np.sin(2 * np.pi * hours / 24.0) + rng.normal(0.0, 1.0, (ROWS, N))
    x[300, 0] += 15.0  # spike
    x[700:, 1] += 6.0  # level shift
    x[650:, 2] += 0.1 * np.arange(ROWS - 650)  # ramp towards the forecast limit
    x[:, 1] *= 2.0  # series live on different scales
    if multi:
        second = 0.5 * x + rng.normal(0.0, 0.5, (ROWS, N))
        second[400, 1] -= 20.0  # breaks the relation between the two series of group 1
        x = np.stack([x, second], axis=2)
    if dirty:
        x = x.copy()
        for r in NAN_ROWS:
            x[r, 0] = np.nan
        x[505, 1] = np.nan
        x[INF_ROW, 0] = np.inf
        x[NEG_INF_ROW, 2] = -np.inf
        if multi:
            x[520, 1, 0] = np.nan  # one series of a group missing: still scored
    t.setflags(write=False)
    x.setflags(write=False)
    return t, x


def wrap(det: Detector, mode: str) -> Detector | Ensemble:
    return Ensemble([det]) if mode == "ensemble" else det


def feed(obj: Detector | Ensemble, t: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run rows of (t, x) through a raw detector or an ensemble; outputs stacked by row."""
    fields = STEP_FIELDS if isinstance(obj, Ensemble) else RAW_FIELDS
    out: dict[str, list[np.ndarray]] = {f: [] for f in fields}
    for k in range(len(t)):
        tk, xk = t[k].copy(), x[k].copy()
        if isinstance(obj, Ensemble):
            res: Step | Frame = obj.step(tk, xk)
        else:
            res = obj.observe(tk, xk)
            finite = np.isfinite(xk) if xk.ndim == 1 else np.isfinite(xk).any(axis=1)
            obj.learn(tk, xk, finite)
        for f in fields:
            value = getattr(res, f)
            out[f].append(np.full(len(tk), np.nan) if value is None else np.asarray(value))
    return {f: np.stack(v) for f, v in out.items()}


def cols(x: np.ndarray, idx: list[int] | slice) -> np.ndarray:
    return np.ascontiguousarray(x[:, idx])


@functools.cache
def reference(name: str, mode: str, dirty: bool = False) -> dict[str, np.ndarray]:
    """The uninterrupted run of the N series together, the yardstick of most tests."""
    t, x = dataset(is_multi(name), dirty)
    res = feed(wrap(make(name, N), mode), t, x)
    for value in res.values():
        value.setflags(write=False)  # shared between tests
    return res


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray], what: str = "") -> None:
    assert a.keys() == b.keys()
    for f in a:
        np.testing.assert_array_equal(a[f], b[f], err_msg=f"{what} field {f!r}")


def rows(
    res: dict[str, np.ndarray], sl: slice, series: list[int] | slice | None = None
) -> dict[str, np.ndarray]:
    return {f: v[sl] if series is None else v[sl][:, series] for f, v in res.items()}


def state_arrays(obj: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """Every numpy array reachable from obj's attributes (detectors, calibrators, models)."""
    if depth > 6:
        return
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            yield from state_arrays(item, f"{path}[{i}]", depth + 1)
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from state_arrays(item, f"{path}[{key!r}]", depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for key, item in vars(obj).items():
            if key.startswith("_"):  # caches and other transient helpers are not state
                continue
            yield from state_arrays(item, f"{path}.{key}", depth + 1)


def assert_same_state(a: Any, b: Any) -> None:
    sa, sb = dict(state_arrays(a)), dict(state_arrays(b))
    assert sa.keys() == sb.keys()
    for key in sa:
        assert sa[key].shape == sb[key].shape, key
        assert sa[key].dtype == sb[key].dtype, key
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


both = pytest.mark.parametrize("mode", MODES)
every = pytest.mark.parametrize("name", NAMES)


# ------------------------------------------------------------------------------ registry
def test_registry_names_match_classes() -> None:
    for name, cls in UNIVARIATE.items():
        assert cls.name == name
        assert not cls.multivariate
    assert set(DEFAULT_UNIVARIATE) <= set(UNIVARIATE)
    with pytest.raises(ValueError, match="unknown detector"):
        make_univariate(("no_such_detector",), 1)


# ------------------------------------------------------------------------------ causality
@every
@both
def test_causal_prefix(name: str, mode: str) -> None:
    """Scores on a prefix are exactly the first rows of the scores on the whole series."""
    t, x = dataset(is_multi(name))
    whole = reference(name, mode)
    prefix = feed(wrap(make(name, N), mode), t[:PREFIX], x[:PREFIX])
    assert_same(prefix, rows(whole, slice(0, PREFIX)), "prefix")


@every
def test_observe_changes_nothing(name: str) -> None:
    t, x = dataset(is_multi(name))
    det = make(name, N)
    feed(det, t[:PREFIX], x[:PREFIX])
    before = pickle.dumps(det)
    first = det.observe(t[PREFIX].copy(), x[PREFIX].copy())
    det.observe(t[PREFIX].copy(), x[PREFIX].copy() * 3.0 + 50.0)
    det.observe(t[PREFIX].copy(), np.full_like(x[PREFIX], np.nan))
    again = det.observe(t[PREFIX].copy(), x[PREFIX].copy())
    assert_same_state(det, pickle.loads(before))
    for f in RAW_FIELDS:
        a, b = getattr(first, f), getattr(again, f)
        if a is None:
            assert b is None
        else:
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ ranges
@every
def test_ensemble_scores_in_unit_interval(name: str) -> None:
    res = reference(name, "ensemble")
    score, p = res["score"], res["p"]
    assert not np.isnan(score).any()
    assert ((score >= 0.0) & (score <= 1.0)).all()
    assert ((p >= 0.0) & (p <= 1.0)).all()
    ensemble = Ensemble([make(name, 1)])
    threshold, history = ensemble.threshold, ensemble.min_history
    # Too little history to alert yet: min_history points and a day (each series' clock is
    # late by under a minute, so row ``day`` may or may not be a day past the first).
    day = int(ensemble.min_age // DT)
    flagged = res["flagged"]
    assert not (flagged & (score < threshold)).any()
    assert not flagged[: max(history, day)].any()
    later = slice(max(2 * history, day + 1), None)
    np.testing.assert_array_equal(flagged[later], (score >= threshold)[later])
    # the detector has an opinion: not constantly 0 after warm-up (0 means p = 1, which is
    # what most ordinary points get)
    assert (score[400:] > 0.0).mean() > 0.05


@every
def test_raw_statistics_are_surprises(name: str) -> None:
    res = reference(name, "raw")
    stat = res["stat"]
    finite = np.isfinite(stat)
    assert (stat[finite] >= 0.0).all()
    assert not np.isinf(stat).any()
    # has an opinion on most points once warm
    assert finite[400:].mean() > 0.5, f"only {finite[400:].mean():.0%} finite stats"


BAND_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=BAND_XFAIL[n]))
        if n in BAND_XFAIL
        else n
        for n in NAMES
    ],
)
def test_band_contains_expected(name: str) -> None:
    res = reference(name, "raw")
    lo, ex, hi = res["lower"], res["expected"], res["upper"]
    band = np.isfinite(res["stat"]) & np.isfinite(lo) & np.isfinite(ex) & np.isfinite(hi)
    assert band[400:].any()
    assert (lo[band] <= ex[band]).all()
    assert (ex[band] <= hi[band]).all()


# ------------------------------------------------------------------------------ determinism
@every
@both
def test_deterministic(name: str, mode: str) -> None:
    t, x = dataset(is_multi(name))
    again = feed(wrap(make(name, N), mode), t, x)
    assert_same(again, reference(name, mode), "second run")


# ------------------------------------------------------------------------------ NaN / inf
@every
@both
def test_nan_and_inf_inputs(name: str, mode: str) -> None:
    multi = is_multi(name)
    t, x = dataset(multi, dirty=True)
    obj = wrap(make(name, N), mode)
    res = feed(obj, t, x)  # warnings are errors here: no invalid-value warning either
    missing = ~np.isfinite(x) if not multi else ~np.isfinite(x).any(axis=2)
    assert missing[list(NAN_ROWS), 0].all()
    if mode == "ensemble":
        assert (res["score"][missing] == 0.0).all()
        assert not res["flagged"][missing].any()
        assert not np.isnan(res["score"]).any()
    else:
        assert np.isnan(res["stat"][missing]).all()
    if not multi:
        for r, c in ((INF_ROW, 0), (NEG_INF_ROW, 2)):
            key = "score" if mode == "ensemble" else "stat"
            value = res[key][r, c]
            assert value == 0.0 if mode == "ensemble" else np.isnan(value), (r, c, value)
    # the state stays finite: whatever is finite after a clean run is finite now
    clean = wrap(make(name, N), mode)
    feed(clean, *dataset(multi))
    dirty_state = dict(state_arrays(obj))
    for key, arr in state_arrays(clean):
        if arr.dtype.kind != "f":
            continue
        got = dirty_state[key]
        if got.shape == arr.shape:
            bad = np.isfinite(arr) & ~np.isfinite(got)
            assert not bad.any(), f"{key} not finite after NaN/inf input"
        else:  # a fitted model's arrays (their size depends on the data)
            assert np.isfinite(got).all() or not np.isfinite(arr).all(), key
    # and the detector recovers: opinions after the gap wherever the clean run has them
    ref = reference(name, mode)
    tail = slice(600, ROWS)
    if mode == "raw":
        np.testing.assert_array_equal(
            np.isfinite(res["stat"][tail]), np.isfinite(ref["stat"][tail])
        )
    else:
        assert (res["score"][tail] > 0).mean() >= 0.5 * (ref["score"][tail] > 0).mean()


# ------------------------------------------------------------------------------ pickling
@every
@both
def test_pickle_round_trip_mid_stream(name: str, mode: str) -> None:
    t, x = dataset(is_multi(name))
    ref = reference(name, mode)
    obj = wrap(make(name, N), mode)
    feed(obj, t[:PREFIX], x[:PREFIX])
    copy = pickle.loads(pickle.dumps(obj))
    assert_same_state(copy, obj)
    tail = slice(PREFIX, ROWS)
    assert_same(feed(copy, t[tail], x[tail]), rows(ref, tail), "unpickled continuation")
    assert_same(feed(obj, t[tail], x[tail]), rows(ref, tail), "original continuation")


# ------------------------------------------------------------------------------ clone
@every
def test_clone_is_untrained_with_equal_params(name: str) -> None:
    t, x = dataset(is_multi(name))
    det = make(name, N)
    feed(det, t[:PREFIX], x[:PREFIX])
    twin = det.clone()
    assert type(twin) is type(det)
    assert twin is not det
    assert twin.params() == det.params()
    assert repr(twin) == repr(det)
    assert_same_state(twin, make(name, N))  # untrained: exactly a fresh detector
    assert_same(feed(twin, t, x), reference(name, "raw"), "clone from scratch")
    # cloning did not disturb the trained original
    tail = slice(PREFIX, ROWS)
    assert_same(feed(det, t[tail], x[tail]), rows(reference(name, "raw"), tail), "original")
    other = det.clone(n=5)
    assert other.n == 5
    assert {k: v for k, v in other.params().items() if k != "n"} == {
        k: v for k, v in det.params().items() if k != "n"
    }
    assert_same_state(other, make(name, 5))


# ------------------------------------------------------------------------------ grow
@every
@both
def test_grow_keeps_old_series_and_starts_new_ones_untrained(name: str, mode: str) -> None:
    t, x = dataset(is_multi(name))
    head, tail = slice(0, PREFIX), slice(PREFIX, ROWS)
    grown = wrap(make(name, 2), mode)
    kept = wrap(make(name, 2), mode)
    feed(grown, cols(t[head], [0, 1]), cols(x[head], [0, 1]))
    feed(kept, cols(t[head], [0, 1]), cols(x[head], [0, 1]))
    grown.grow(N)
    assert grown.n == N
    after = feed(grown, t[tail], x[tail])
    old = feed(kept, cols(t[tail], [0, 1]), cols(x[tail], [0, 1]))
    assert_same(rows(after, slice(None), [0, 1]), old, "existing series after grow")
    new = feed(wrap(make(name, 1), mode), cols(t[tail], [2]), cols(x[tail], [2]))
    assert_same(rows(after, slice(None), [2]), new, "new series after grow")


# ------------------------------------------------------------------------------ two faces
@every
@both
def test_batch_equals_per_series(name: str, mode: str) -> None:
    """N series in one detector give exactly what each gives alone (n=1)."""
    t, x = dataset(is_multi(name))
    together = reference(name, mode)
    for i in range(N):
        alone = feed(wrap(make(name, 1), mode), cols(t, [i]), cols(x, [i]))
        assert_same(rows(together, slice(None), [i]), alone, f"series {i}")


# ------------------------------------------------------------------------------ memory
def test_default_ensemble_state_per_series_fits_budget() -> None:
    n = 100
    ens = Ensemble(make_univariate(DEFAULT_UNIVARIATE, n))
    per_series = ens.state_nbytes() / n
    assert 0 < per_series <= 2048, per_series
    # after training and growing the budget still holds (state is arrays, not lists)
    t, x = dataset(False)
    small = Ensemble(make_univariate(DEFAULT_UNIVARIATE, N))
    feed(small, t[:200], x[:200])
    before = small.state_nbytes() / N
    small.grow(2 * N)
    assert small.state_nbytes() / (2 * N) == before <= 2048


@every
def test_state_nbytes_is_linear_in_series(name: str) -> None:
    a, b = make(name, 10), make(name, 20)
    assert a.state_nbytes() > 0
    assert b.state_nbytes() == 2 * a.state_nbytes()
    a.grow(20)
    assert a.state_nbytes() == b.state_nbytes()
