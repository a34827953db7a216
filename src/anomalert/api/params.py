"""Types of path and query parameters, and of body fields, the routes share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from anomalert.ingest.jsonin import text_problem

#: The largest id a row can have: SQLite's INTEGER and PostgreSQL's BIGINT are 64-bit.
MAX_ROW_ID = 2**63 - 1

#: A row id in a path or a query. Why bounded: a larger one names no row, yet the database
#: driver raises OverflowError on it before the store can answer "none" (a 500); bounded
#: here, it is a 400 naming the parameter.
RowId = Annotated[int, Interval(ge=-MAX_ROW_ID - 1, le=MAX_ROW_ID)]


def _refusing(*, free: bool) -> Callable[[str], str]:
    """A validator refusing what :func:`anomalert.ingest.jsonin.text_problem` finds."""

    def check(text: str) -> str:
        problem = text_problem(text, free=free)
        if problem is None:
            return text
        raise PydanticCustomError("control_character", problem)

    return check


#: One line of text: a name, who did something (``by``). Why refused with a control
#: character (or a lone surrogate): nobody writes one so, and stored it breaks later:
#: PostgreSQL cannot store a NUL in text (a 500, after the change was made in memory), and a
#: newline or an escape sequence garbles what shows it (an email, a terminal, the log). A
#: 400 naming the field or parameter instead (:mod:`anomalert.ingest.jsonin` says which
#: characters).
PlainText = Annotated[str, AfterValidator(_refusing(free=False))]

#: What people write on several lines (a comment): line breaks and tabs are kept, the other
#: control characters, NUL first, refused as in :data:`PlainText`.
FreeText = Annotated[str, AfterValidator(_refusing(free=True))]

#: A service or metric name in a path: :data:`PlainText` (a mode switch stores its name).
PathName = PlainText

#: A text query parameter (a filter, a search): :data:`PlainText`. Why even though nothing
#: is stored: the store compares it with its columns, and PostgreSQL refuses a NUL in a
#: query's text as in a row's (the page was a 500).
QueryText = PlainText
