"""Agreement routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.gateway.agreements import service
from services.gateway.agreements.models import (
    AgreementCreate,
    AgreementRead,
    AgreementStatus,
    QuotaRead,
)
from services.gateway.clock import service as clock
from services.gateway.deps import AdminUser, CurrentUser, SessionDep, ShortRead, StaffUser
from services.gateway.errors import responses
from services.gateway.pagination import Page, PageDep, PathId
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/agreements", tags=["agreements"])


@router.post("", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 409, 422))
def create_agreement(agreement_in: AgreementCreate, admin: AdminUser,
                     db_session: SessionDep) -> Accepted:
    row = service.create(db_session=db_session, agreement_in=agreement_in)
    return Accepted(id=row.id, status=row.status)


@router.post("/{agreement_id}/suspend", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 422))
def suspend_agreement(agreement_id: PathId, admin: AdminUser, db_session: SessionDep) -> Accepted:
    row = service.set_status(db_session=db_session, agreement_id=agreement_id,
                             status=AgreementStatus.SUSPENDED)
    return Accepted(id=row.id, status=row.status)


@router.post("/{agreement_id}/resume", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 422))
def resume_agreement(agreement_id: PathId, admin: AdminUser, db_session: SessionDep) -> Accepted:
    row = service.set_status(db_session=db_session, agreement_id=agreement_id,
                             status=AgreementStatus.ACTIVE)
    return Accepted(id=row.id, status=row.status)


@router.get("", response_model=Page[AgreementRead], responses=responses(401, 422))
def list_agreements(user: CurrentUser, db_session: ShortRead,
                    page: PageDep) -> Page[AgreementRead]:
    rows, total = service.list_all(db_session=db_session, limit=page.limit, offset=page.offset)
    return Page.of([service.read(r) for r in rows], total, page)


@router.get("/{agreement_id}", response_model=AgreementRead, responses=responses(401, 404, 422))
def get_agreement(agreement_id: PathId, user: CurrentUser, db_session: ShortRead) -> AgreementRead:
    return service.read(service.get(db_session=db_session, agreement_id=agreement_id))


@router.get("/{agreement_id}/quota", response_model=list[QuotaRead],
            responses=responses(401, 403, 404, 422))
def agreement_quota(agreement_id: PathId, user: StaffUser, db_session: ShortRead,
                    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
                    ) -> list[QuotaRead]:
    """Used and remaining places per covered occupation for a calendar year of vacancy
    start dates (default: this year)."""
    year = year or clock.today(db_session=db_session).year
    return service.quota(db_session=db_session, agreement_id=agreement_id, year=year)
