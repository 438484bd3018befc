"""``GET /stats/flows``: admins' view of the flows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.gateway.clock import service as clock
from services.gateway.deps import AdminUser, SessionDep
from services.gateway.errors import responses
from services.gateway.routing import API_PREFIX, GatewayRoute
from services.gateway.stats.service import Flow, flows

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/stats", tags=["statistics"])


@router.get("/flows", response_model=list[Flow], responses=responses(401, 403, 422))
def flow_stats(admin: AdminUser, db_session: SessionDep,
               year: Annotated[int | None, Query(ge=2000, le=2200)] = None) -> list[Flow]:
    """Per destination and occupation, for vacancies starting in ``year`` (default: this
    year): proposed, approved, departed, returned, ever overdue, return rate."""
    return flows(db_session=db_session, year=year or clock.today(db_session=db_session).year)
