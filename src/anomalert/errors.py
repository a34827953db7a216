"""The exception tree, drawn once so callers know what to catch.

AnomalertError
└── InputError            bad user input: a file, a column, a value (CLI exit 2)
    └── FileInputError    ... tied to one file; the message names it
"""

from __future__ import annotations

from pathlib import Path


class AnomalertError(Exception):
    """Base of every error the product raises on purpose."""


class InputError(AnomalertError):
    """Input that cannot be used as it is; the message says what and where."""


class FileInputError(InputError):
    """An input problem located in one file, so a folder run can go on with the others."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
