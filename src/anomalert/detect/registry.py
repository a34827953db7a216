"""Every detector by name: the conformance suite, the config and the CLI all read this table."""

from __future__ import annotations

from anomalert.detect.base import Detector, MultivariateDetector
from anomalert.detect.changepoint import LevelShiftDetector, TrendDetector
from anomalert.detect.forecast import ForecastDetector
from anomalert.detect.rolling import RollingDetector
from anomalert.detect.seasonal import SeasonalDetector

UNIVARIATE: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (
        RollingDetector,
        SeasonalDetector,
        LevelShiftDetector,
        TrendDetector,
        ForecastDetector,
    )
}

#: The univariate detectors the default ensemble runs, chosen on the development data.
DEFAULT_UNIVARIATE = ("rolling", "seasonal", "level_shift")
#: The service's set (and the demo's): the defaults plus the predicted breach of saturating
#: metrics, which needs their limits (``detection.limits``).
SERVICE_UNIVARIATE = (*DEFAULT_UNIVARIATE, "forecast")


#: Multivariate detectors by name; imported lazily since they pull in scikit-learn.
MULTIVARIATE_MODULES: dict[str, tuple[str, str]] = {
    "forest": ("anomalert.detect.forest", "ForestDetector"),
    "patterns": ("anomalert.detect.patterns", "PatternDetector"),
}

#: The multivariate detectors the default engine runs on groups of series.
DEFAULT_MULTIVARIATE: tuple[str, ...] = ("forest",)


def make_univariate(names: tuple[str, ...], n: int) -> list[Detector]:
    """Instantiate detectors by name for n series (unknown names are a clear error)."""
    unknown = [name for name in names if name not in UNIVARIATE]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {sorted(UNIVARIATE)}")
    return [UNIVARIATE[name](n=n) for name in names]


def make_multivariate(
    names: tuple[str, ...], n: int, dim: int, seed: int = 0
) -> list[MultivariateDetector]:
    """Instantiate multivariate detectors by name for n groups of dim series."""
    import importlib

    unknown = [name for name in names if name not in MULTIVARIATE_MODULES]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; known: {sorted(MULTIVARIATE_MODULES)}")
    made: list[MultivariateDetector] = []
    for name in names:
        module, cls_name = MULTIVARIATE_MODULES[name]
        cls = getattr(importlib.import_module(module), cls_name)
        made.append(cls(n=n, dim=dim, seed=seed))
    return made
