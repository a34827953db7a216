"""JSON as senders write it, read so that no document breaks the reader or what comes after.

Python's ``json`` takes documents that later fail far from where they came in, as a 500:

- an integer too large for a float (``1`` and 400 zeros) is a Python int that every
  ``float()`` downstream overflows on, and one of more than 4,300 digits makes the parser
  itself raise ValueError: here an integer of more than :data:`MAX_INT_DIGITS` digits is
  read as a float (infinity when too large), which every numeric field already refuses as
  not finite, naming the field;
- nesting deeper than the interpreter's recursion limit raises RecursionError: here it is a
  :class:`JsonError` saying so;
- a lone UTF-16 surrogate (``"\\ud800"``, a legal escape) is a str no UTF-8 can encode:
  stored, it fails the store or every later answer that holds it. Each string field a parser
  keeps goes through :func:`valid_text`, so the item holding one is refused naming the field
  (and the batch's good items are kept); :func:`printable` writes any text an answer echoes
  (an error message quoting a bad key) so that it can be sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from anomalert.errors import FieldError

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


def valid_text(where: str, text: str) -> str:
    """``text``, or FieldError(where) when it holds a lone surrogate.

    >>> valid_text("labels.pod", "p" + chr(0xD800))
    Traceback (most recent call last):
    ...
    anomalert.errors.FieldError: labels.pod: must be valid Unicode (a lone surrogate \\ud800)
    """
    problem = unicode_problem(text)
    if problem is not None:
        raise FieldError(where, problem)
    return text


def unicode_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent as UTF-8 (a lone surrogate), or None."""
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return f"must be valid Unicode (a lone surrogate {printable(found.group())})"


def printable(text: str) -> str:
    """``text`` with any lone surrogate written as its escape (``\\ud800``): safe in UTF-8.

    >>> print(printable("a" + chr(0xDFFF) + "b"))
    a\\udfffb
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


#: Surrogate code points: a str from JSON holds one only unpaired (a pair decodes to one).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _integer(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)
