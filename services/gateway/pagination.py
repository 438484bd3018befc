"""Pagination of the list routes: the query parameters (offset pagination with a
bounded limit), one page of a query with its total (:func:`paged`), and the page
answered (:class:`Page`); id filters and path ids that accept only well-formed ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import Row, Select, SQLColumnExpression, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")
M = TypeVar("M")
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

    @classmethod
    def of(cls, items: list[T], total: int, params: PageParams) -> Page[T]:
        """The page of ``items`` asked for with ``params``, of ``total`` in all."""
        return cls(items=items, total=total, limit=params.limit, offset=params.offset)


def paged(*, db_session: Session, query: Select[M], order_by: Sequence[SQLColumnExpression[Any]],
          limit: int, offset: int) -> tuple[list[M], int]:
    """The rows of ``query`` from ``offset``, at most ``limit`` of them, in ``order_by``
    order (end it with a unique column, so pages neither skip nor repeat rows), and
    how many rows the whole query has (:func:`_total`)."""
    rows = list(db_session.scalars(_window(query, order_by, limit, offset)).all())
    return rows, _total(db_session, query, len(rows), limit, offset)


def paged_rows(*, db_session: Session, query: Select[Any],
               order_by: Sequence[SQLColumnExpression[Any]], limit: int,
               offset: int) -> tuple[list[Row[Any]], int]:
    """:func:`paged` for a query of columns: each row a named tuple of them (no ORM
    object is built: a list route that only shows columns saves that work)."""
    rows = list(db_session.execute(_window(query, order_by, limit, offset)).all())
    return rows, _total(db_session, query, len(rows), limit, offset)


def _total(db_session: Session, query: Select[Any], shown: int, limit: int,
           offset: int) -> int:
    """How many rows ``query`` has, given that its page from ``offset`` had ``shown``
    of at most ``limit``: a page that is not full ends the query, so the total is
    known without counting (most pages of most lists: a vacancy's matches, a worker's
    placements); a full page, or none past the start, is counted."""
    if 0 < shown < limit or (shown == 0 and offset == 0):
        return offset + shown
    return db_session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _window(query: Select[M], order_by: Sequence[SQLColumnExpression[Any]], limit: int,
            offset: int) -> Select[M]:
    return query.order_by(*order_by).limit(limit).offset(offset)
