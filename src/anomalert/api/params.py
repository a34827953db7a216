"""Types of path and query parameters the routes share."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

#: The largest id a row can have: SQLite's INTEGER and PostgreSQL's BIGINT are 64-bit.
MAX_ROW_ID = 2**63 - 1

#: A row id in a path or a query. Why bounded: a larger one names no row, yet the database
#: driver raises OverflowError on it before the store can answer "none" (a 500); bounded
#: here, it is a 400 naming the parameter.
RowId = Annotated[int, Interval(ge=-MAX_ROW_ID - 1, le=MAX_ROW_ID)]
