"""Pagination of the list routes: the query parameters (offset pagination with a
bounded limit), one page of a query with its total (:func:`paged`), and the page
answered (:class:`Page`); id filters and path ids that accept only well-formed ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import Row, Select, SQLColumnExpression, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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
    page = query.order_by(*order_by).limit(limit).offset(offset)
    rows = list(db_session.scalars(page).all())
    count = select(func.count()).select_from(query.subquery())
    return rows, _total(lambda: db_session.scalar(count), len(rows), limit, offset)


class Listing(NamedTuple):
    """A list query built once per process (:func:`prepare`) and run with bound values:
    SQLAlchemy spends more building a statement and its cache key than SQLite spends
    running it (a worker's page of matches: about 340 us built each time, 90 us
    prepared, in-process), and a statement object keeps its cache key."""

    page: Select[Any]  # ``limit`` and ``offset`` bound
    total: Select[Any]  # how many rows in all


def prepare(query: Select[*tuple[Any, ...]], order_by: Sequence[SQLColumnExpression[Any]],
            narrowed_by: Sequence[InstrumentedAttribute[Any]] = ()) -> Listing:
    """``query``'s pages in ``order_by`` order (end it with a unique column) and its
    count, narrowed to the rows whose ``narrowed_by`` columns equal the values bound
    by their names (:func:`narrowing`); its other values bound as ``bindparam``s."""
    for column in narrowed_by:
        query = query.where(column == bindparam(column.key, type_=column.type))
    return Listing(query.order_by(*order_by).limit(bindparam("limit"))
                   .offset(bindparam("offset")),
                   select(func.count()).select_from(query.subquery()))


def narrowing(**filters: object) -> tuple[tuple[str, ...], dict[str, object]]:
    """The filters given (not None): their names, which pick the :class:`Listing`
    (one per combination, built once), and the values to bind."""
    values = {name: value for name, value in filters.items() if value is not None}
    return tuple(values), values


def paged_rows(*, db_session: Session, prepared: Listing, values: dict[str, object], limit: int,
               offset: int) -> tuple[list[Row[Any]], int]:
    """:func:`paged` for a :class:`Listing` of columns with ``values`` for its bound
    parameters: each row a named tuple of them (no ORM object is built)."""
    rows = list(db_session.execute(prepared.page,
                                   {**values, "limit": limit, "offset": offset}).all())
    return rows, _total(lambda: db_session.scalar(prepared.total, values),
                        len(rows), limit, offset)


def paged_entities(*, db_session: Session, prepared: Listing, values: dict[str, object],
                   limit: int, offset: int) -> tuple[list[Any], int]:
    """:func:`paged_rows` for a :class:`Listing` of one ORM entity: its objects."""
    rows, total = paged_rows(db_session=db_session, prepared=prepared, values=values,
                             limit=limit, offset=offset)
    return [row[0] for row in rows], total


def _total(count: Callable[[], int | None], shown: int, limit: int, offset: int) -> int:
    """How many rows a query has, given that its page from ``offset`` had ``shown`` of
    at most ``limit``: a page that is not full ends the query, so the total is known
    without counting (most pages of most lists: a vacancy's matches, a worker's
    placements); a full page, or none past the start, is counted (``count``)."""
    if 0 < shown < limit or (shown == 0 and offset == 0):
        return offset + shown
    return count() or 0
