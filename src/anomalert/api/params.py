"""Types of path and query parameters the routes share."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from anomalert.ingest.jsonin import control_problem

#: The largest id a row can have: SQLite's INTEGER and PostgreSQL's BIGINT are 64-bit.
MAX_ROW_ID = 2**63 - 1

#: A row id in a path or a query. Why bounded: a larger one names no row, yet the database
#: driver raises OverflowError on it before the store can answer "none" (a 500); bounded
#: here, it is a 400 naming the parameter.
RowId = Annotated[int, Interval(ge=-MAX_ROW_ID - 1, le=MAX_ROW_ID)]


def _no_control(name: str) -> str:
    problem = control_problem(name)
    if problem is None:
        return name
    raise PydanticCustomError("control_character", problem)


#: A service or metric name in a path. Why refused with a control character: nobody names a
#: service so, and a stored one (a mode switch stores its name) breaks later: PostgreSQL
#: cannot store a NUL in text (a 500), and a newline or an escape sequence garbles what shows
#: the name (an email subject, a terminal). A 400 naming the parameter instead.
PathName = Annotated[str, AfterValidator(_no_control)]
