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
  stored, it fails the store or every later answer that holds it;
- a control character (``"\\u0000"``, a legal escape too) is a str PostgreSQL cannot store
  when it is NUL (a 500, and the batch's other items lost with it), and, whatever the store,
  one that garbles what shows it (a newline in an email subject, an escape sequence in a
  terminal).

Each string field the ingest parsers keep goes through :func:`plain_text` (names, label values: no
control character) or :func:`free_text` (what people write on several lines, a description:
line breaks and tabs kept), so the item holding one is refused naming the field and the
batch's good items are kept. :func:`control_problem` is the one check of control characters,
shared with the API's path names and the readers of files (scenario folders, CSV headers);
:func:`printable` writes any text an answer echoes (an error message quoting a bad key) so
that it can be sent, and :func:`one_line` any a terminal shows.
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
    """``text``, or FieldError(where) when it holds a lone surrogate (control characters
    are :func:`plain_text`'s and :func:`free_text`'s business).

    >>> valid_text("labels.pod", "p" + chr(0xD800))
    Traceback (most recent call last):
    ...
    anomalert.errors.FieldError: labels.pod: must be valid Unicode (a lone surrogate \\ud800)
    """
    problem = unicode_problem(text)
    if problem is not None:
        raise FieldError(where, problem)
    return text


def plain_text(where: str, text: str, *, free: bool = False) -> str:
    """``text``, or FieldError(where) when it holds a lone surrogate or a control character:
    a name or a label value, which nobody writes with either (``free``: as
    :func:`free_text`).

    >>> plain_text("pod", "api" + chr(0))
    Traceback (most recent call last):
    ...
    anomalert.errors.FieldError: pod: must not contain control characters (got \\x00 at character 4)
    """
    problem = text_problem(text, free=free)
    if problem is not None:
        raise FieldError(where, problem)
    return text


def free_text(where: str, text: str) -> str:
    """``text``, or FieldError(where) when it holds a lone surrogate or a control character
    other than a line break or a tab: a description, which people write on several lines.

    >>> free_text("events[0].description", "rolled out\\n\\tto 5%")
    'rolled out\\n\\tto 5%'
    """
    return plain_text(where, text, free=True)


def text_problem(text: str, *, free: bool = False) -> str | None:
    """Why ``text`` may not be kept (a lone surrogate, a control character; ``free`` text
    may hold line breaks and tabs), or None."""
    return unicode_problem(text) or control_problem(text, LAYOUT if free else "")


#: C0 controls (NUL, newline, escape...), DEL and the C1 controls.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The controls free text keeps: line breaks (LF, CR: a CRLF's too) and tabs.
LAYOUT = "\t\n\r"


def control_problem(text: str, allowed: str = "") -> str | None:
    """The first control character of ``text`` not in ``allowed``, and where, or None.

    >>> print(control_problem("ab" + chr(0x85)))
    must not contain control characters (got \\x85 at character 3)
    >>> print(control_problem("a\\nb" + chr(0), LAYOUT))
    must not contain control characters other than line breaks and tabs (got \\x00 at character 4)
    """
    if text.isprintable():  # the common case, without a regex: no control character
        return None
    for found in CONTROL.finditer(text):
        char = found.group()
        if char not in allowed:
            but = " other than line breaks and tabs" if allowed else ""
            return (
                f"must not contain control characters{but} "
                f"(got {_escape(char)} at character {found.start() + 1})"
            )
    return None


def one_line(text: str) -> str:
    """The text with its control characters escaped (a newline in a file name shows as
    ``\\n``): one problem, one line on a terminal, and no escape sequence run there.

    >>> one_line("in/bad\\nname.csv: no 'timestamp' column")
    "in/bad\\\\nname.csv: no 'timestamp' column"
    >>> print(one_line("red" + chr(0x9B) + "31m"))  # a C1 control: CSI, as ESC [ is
    red\\x9b31m
    """
    return CONTROL.sub(lambda m: _escape(m.group()), text)


def _escape(char: str) -> str:
    return repr(char)[1:-1]


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
