"""Query parameters of the list routes: offset pagination with a bounded limit, and
id filters and path ids that accept only well-formed ids."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel

T = TypeVar("T")
MAX_LIMIT = 200


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most 200")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
IdFilter = Annotated[str | None, Query(pattern=ID_PATTERN, description="an id")]
#: an id in a path: anything else is 422 (an id that could exist but does not, 404)
PathId = Annotated[str, Path(pattern=ID_PATTERN, description="an id")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
