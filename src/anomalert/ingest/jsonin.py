"""JSON as senders write it, read so that no document breaks the reader or what comes after.

Python's ``json`` takes documents that later fail far from where they came in, as a 500:

- an integer too large for a float (``1`` and 400 zeros) is a Python int that every
  ``float()`` downstream overflows on, and one of more than 4,300 digits makes the parser
  itself raise ValueError: here an integer of more than :data:`MAX_INT_DIGITS` digits is
  read as a float (infinity when too large), which every numeric field already refuses as
  not finite, naming the field;
- nesting deeper than the interpreter's recursion limit raises RecursionError: here it is a
  :class:`JsonError` saying so.
"""

from __future__ import annotations

import json
from typing import Any

#: Integers longer than this are read as floats: 1e300 is already more than any field holds.
MAX_INT_DIGITS = 300


class JsonError(ValueError):
    """The text is not a JSON document this service reads; the message says why."""


def parse_json(text: str | bytes) -> Any:
    """The document, or JsonError saying why not.

    >>> parse_json("[1, 1" + "0" * 400 + "]")
    [1, inf]
    """
    try:
        return json.loads(text, parse_int=_integer)
    except RecursionError:
        raise JsonError("nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JsonError(f"not valid JSON: {exc}") from None


def _integer(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)
