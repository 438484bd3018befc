"""Vacancy routes."""

from __future__ import annotations

from fastapi import APIRouter, status

from services.gateway.deps import CurrentUser, EmployerRows, SessionDep, ShortRead
from services.gateway.errors import responses
from services.gateway.pagination import IdFilter, Page, PageDep, PathId
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute
from services.gateway.vacancies import service
from services.gateway.vacancies.models import VacancyCreate, VacancyRead

router = APIRouter(route_class=GatewayRoute, prefix=f"{API_PREFIX}/vacancies", tags=["vacancies"])


@router.post("", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED,
             responses=responses(401, 403, 409, 422))
def post_vacancy(vacancy_in: VacancyCreate, user: CurrentUser, db_session: SessionDep) -> Accepted:
    row = service.create(db_session=db_session, vacancy_in=vacancy_in, user=user)
    return Accepted(id=row.id, status=row.status.value)


@router.get("", response_model=Page[VacancyRead], responses=responses(401, 403, 422))
def list_vacancies(user: CurrentUser, db_session: EmployerRows, page: PageDep,
                   employer_id: IdFilter = None,
                   ) -> Page[VacancyRead]:
    rows, total = service.list_for(db_session=db_session, user=user, employer_id=employer_id,
                                   limit=page.limit, offset=page.offset)
    return Page.of([service.read(r) for r in rows], total, page)


@router.get("/{vacancy_id}", response_model=VacancyRead, responses=responses(401, 403, 404, 422))
def get_vacancy(vacancy_id: PathId, user: CurrentUser, db_session: ShortRead) -> VacancyRead:
    service.check_role_may_read(user)
    row = service.get(db_session=db_session, vacancy_id=vacancy_id)
    service.check_can_read(user, row)
    return service.read(row)


@router.post("/{vacancy_id}/close", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 422))
def close_vacancy(vacancy_id: PathId, user: CurrentUser, db_session: SessionDep) -> Accepted:
    row = service.close(db_session=db_session, vacancy_id=vacancy_id, user=user)
    return Accepted(id=row.id, status=row.status.value)
