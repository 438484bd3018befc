"""Employer routes: admins register, verify and suspend; an employer reads its own."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.gateway.auth.models import Role
from services.gateway.deps import AdminUser, CurrentUser, SessionDep, ShortRead
from services.gateway.employers import service
from services.gateway.employers.models import EmployerCreate, EmployerRead, EmployerStatus
from services.gateway.errors import Forbidden, responses
from services.gateway.pagination import Page, PageDep, PathId
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/employers", tags=["employers"])


@router.post("", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 409, 422))
def create_employer(employer_in: EmployerCreate, admin: AdminUser,
                    db_session: SessionDep) -> Accepted:
    row = service.create(db_session=db_session, employer_in=employer_in)
    return Accepted(id=row.id, status=row.status)


@router.post("/{employer_id}/verify", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 422))
def verify_employer(employer_id: PathId, admin: AdminUser, db_session: SessionDep) -> Accepted:
    row = service.set_status(db_session=db_session, employer_id=employer_id,
                             status=EmployerStatus.VERIFIED)
    return Accepted(id=row.id, status=row.status)


@router.post("/{employer_id}/suspend", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 422))
def suspend_employer(employer_id: PathId, admin: AdminUser, db_session: SessionDep) -> Accepted:
    row = service.set_status(db_session=db_session, employer_id=employer_id,
                             status=EmployerStatus.SUSPENDED)
    return Accepted(id=row.id, status=row.status)


@router.get("", response_model=Page[EmployerRead], responses=responses(401, 403, 422))
def list_employers(admin: AdminUser, db_session: SessionDep, page: PageDep) -> Page[EmployerRead]:
    rows, total = service.list_all(db_session=db_session, limit=page.limit, offset=page.offset)
    return Page.of([service.read(r) for r in rows], total, page)


@router.get("/{employer_id}", response_model=EmployerRead, responses=responses(401, 403, 404, 422))
def get_employer(employer_id: PathId, user: CurrentUser, db_session: ShortRead) -> EmployerRead:
    if not (user.role == Role.ADMIN or (user.role == Role.EMPLOYER
                                        and user.employer_id == employer_id)):
        raise Forbidden("Only an admin or the employer itself may read this employer")
    return service.read(service.get(db_session=db_session, employer_id=employer_id))
