"""The exception tree, drawn once so callers know what to catch.

AnomalertError
├── InputError                bad user input: a file, a column, a value (CLI exit 2, HTTP 4xx)
│   ├── FileInputError        ... tied to one file; the message names it
│   └── FieldError            ... tied to one field of a request or config; names its location
├── ConfigError               the configuration file is invalid; the message names each location
└── DeliveryError             a receiver could not take a notification
    ├── RetryableDeliveryError   429, 5xx, timeouts, connection errors: the outbox tries again
    └── PermanentDeliveryError   other 4xx, bad credentials: recorded, shown, not retried

Retry semantics live in the exception types: the outbox never inspects status codes itself.
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


def os_reason(exc: OSError) -> str:
    """An OS error's reason in words ("permission denied"), without the path that a
    ``FileInputError`` names already."""
    return (exc.strerror or str(exc)).lower()


class FieldError(InputError):
    """A problem with one field of a request body; ``field`` locates it: ``samples[3].value``."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class ConfigError(AnomalertError):
    """The configuration is invalid; ``problems`` lists ``(location, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}" for loc, msg in problems]
        super().__init__("\n".join(lines))


class DeliveryError(AnomalertError):
    """A receiver did not take a notification; the subclass says whether to try again."""


class RetryableDeliveryError(DeliveryError):
    """Worth another attempt later; ``retry_after`` (seconds) when the receiver said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentDeliveryError(DeliveryError):
    """Will fail again the same way (bad request, bad credentials): record it, show it."""
