"""Demo: a seeded, realistic scenario (services, metrics, changes, incidents) and its folder.

``generate(ScenarioSpec(seed=7))`` builds it in memory; ``write_scenario(scenario, folder)``
writes the scenario folder that ``anomalert replay`` and ``ingest.scenario.load_scenario`` read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anomalert.demo.scenario import (
    IncidentTemplate,
    LevelShift,
    Scenario,
    ScenarioSpec,
    ServiceProfile,
    generate,
)

if TYPE_CHECKING:
    from anomalert.demo.writer import write_scenario

__all__ = [
    "IncidentTemplate",
    "LevelShift",
    "Scenario",
    "ScenarioSpec",
    "ServiceProfile",
    "generate",
    "write_scenario",
]


def __getattr__(name: str) -> object:
    # Imported lazily so that `python -m anomalert.demo.writer` does not import it twice.
    if name == "write_scenario":
        from anomalert.demo.writer import write_scenario

        return write_scenario
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
