"""Departure, return and placement routes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status

from services.gateway.deps import CurrentUser, SessionDep, StaffUser, WorkerRows
from services.gateway.errors import responses
from services.gateway.pagination import IdFilter, Page, PageDep
from services.gateway.placements import service
from services.gateway.placements.models import (
    DepartureCreate,
    PlacementRead,
    ReturnCreate,
    ReturnRead,
    ReturnStatus,
)
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute

router = APIRouter(route_class=GatewayRoute, prefix=API_PREFIX, tags=["placements"])


@router.post("/departures", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 404, 409, 422))
def record_departure(body: DepartureCreate, user: StaffUser, db_session: SessionDep) -> Accepted:
    """Departure of an accepted match starts its placement; a date after today is 422."""
    row = service.record_departure(db_session=db_session, body=body, user=user)
    return Accepted(id=row.id, status=row.status)


@router.post("/returns", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 404, 409, 422))
def register_return(body: ReturnCreate, user: CurrentUser, db_session: SessionDep) -> Accepted:
    """A worker (its own) or a recruiter registers a return; it closes the worker's open
    placement (the one named, or else the open one) and fires reintegration triggers."""
    row = service.register_return(db_session=db_session, body=body, user=user)
    return Accepted(id=row.id, status=row.status)


@router.get("/returns", response_model=Page[ReturnRead], responses=responses(401, 403, 422))
def list_returns(user: CurrentUser, db_session: WorkerRows, page: PageDep,
                 status: ReturnStatus | None = None,
                 worker_id: IdFilter = None) -> Page[ReturnRead]:
    """Return registrations; ``unmatched`` ones found no open placement and need a
    recruiter's look."""
    items, total = service.list_returns(db_session=db_session, user=user,
                                        status=status.value if status else None,
                                        worker_id=worker_id, limit=page.limit,
                                        offset=page.offset)
    return Page.of(items, total, page)


@router.get("/placements", response_model=Page[PlacementRead],
            responses=responses(401, 403, 422))
def list_placements(user: CurrentUser, db_session: WorkerRows, page: PageDep,
                    status: Literal["pending", "abroad", "overdue", "returned"] | None = None,
                    worker_id: IdFilter = None) -> Page[PlacementRead]:
    items, total = service.list_placements(db_session=db_session, user=user, status=status,
                                           worker_id=worker_id, limit=page.limit,
                                           offset=page.offset)
    return Page.of(items, total, page)
