"""Path and query parameters shared by the routers (ids fit the database's integer type)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from api.schemas import MAX_ID

ScenarioId = Annotated[int, Path(ge=1, le=MAX_ID, description="A stored scenario id")]
RunId = Annotated[int, Path(ge=1, le=MAX_ID, description="A run id")]
SweepId = Annotated[int, Path(ge=1, le=MAX_ID, description="A sweep id")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="A token id")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=100,
        description="The next_cursor of the page before (instead of offset): the page after it",
    ),
]
Async = Annotated[
    bool,
    Query(
        alias="async",
        description="Queue the work and answer 202 at once, whatever the problem size",
    ),
]
