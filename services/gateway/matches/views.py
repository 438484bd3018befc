"""Match routes: listing for each party, recruiter reviews, worker responses."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from schemas.events.matches import Decision, MatchStatus
from services.gateway.deps import (
    CurrentUser,
    RecruiterUser,
    SessionDep,
    ShortRead,
    VacancyOrWorkerRows,
)
from services.gateway.errors import responses
from services.gateway.matches import service
from services.gateway.matches.models import Match, MatchRead, RejectBody
from services.gateway.pagination import IdFilter, Page, PageDep, PathId
from services.gateway.replies import Accepted
from services.gateway.routing import API_PREFIX, GatewayRoute
from services.gateway.vacancies import service as vacancies

router = APIRouter(route_class=GatewayRoute, prefix=API_PREFIX, tags=["matches"])


@router.get("/matches", response_model=Page[MatchRead], responses=responses(401, 403, 422))
def list_matches(request: Request, user: CurrentUser, db_session: VacancyOrWorkerRows,
                 page: PageDep, status: MatchStatus | None = None, vacancy_id: IdFilter = None,
                 worker_id: IdFilter = None) -> Page[MatchRead]:
    """Recruiters and admins see all; an employer the approved and later matches of its
    vacancies (with the candidate's name once accepted); a worker its own offers. A
    filter naming another party (a worker's ``worker_id``, an employer's
    ``vacancy_id``) is 403, as the same id in a path would be."""
    items, total = service.listing(db_session=db_session, user=user, status=status,
                                   vacancy_id=vacancy_id, worker_id=worker_id,
                                   limit=page.limit, offset=page.offset, path=request.url.path)
    return Page.of(items, total, page)


@router.get("/matches/{match_id}", response_model=MatchRead,
            responses=responses(401, 403, 404, 422))
def get_match(match_id: PathId, request: Request, user: CurrentUser,
              db_session: ShortRead) -> MatchRead:
    """404 for an unknown id; 403 for another party's match, or one its employer or
    worker may not see yet (before a recruiter approved it)."""
    row = service.get(db_session=db_session, match_id=match_id)
    service.check_can_see(db_session=db_session, user=user, row=row)
    return service.read(db_session=db_session, row=row, user=user, path=request.url.path)


@router.get("/vacancies/{vacancy_id}/matches", response_model=Page[MatchRead],
            responses=responses(401, 403, 404, 422))
def vacancy_matches(vacancy_id: PathId, request: Request, user: CurrentUser,
                    db_session: ShortRead, page: PageDep,
                    status: MatchStatus | None = None) -> Page[MatchRead]:
    vacancies.check_role_may_read(user)
    vacancy = vacancies.get(db_session=db_session, vacancy_id=vacancy_id)
    vacancies.check_can_read(user, vacancy)
    items, total = service.listing(db_session=db_session, user=user, status=status,
                                   vacancy_id=vacancy_id, worker_id=None, limit=page.limit,
                                   offset=page.offset, path=request.url.path)
    return Page.of(items, total, page)


def _accepted(row: Match) -> Accepted:
    return Accepted(id=row.id, status="pending")


@router.post("/matches/{match_id}/approve", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 409, 422))
def approve_match(match_id: PathId, user: RecruiterUser, db_session: SessionDep) -> Accepted:
    """Refused with 409 when the vacancy's positions or the quota are used up."""
    return _accepted(service.review(db_session=db_session, match_id=match_id, user=user,
                                    decision=Decision.APPROVE, reason=None))


@router.post("/matches/{match_id}/reject", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 409, 422))
def reject_match(match_id: PathId, body: RejectBody, user: RecruiterUser,
                 db_session: SessionDep) -> Accepted:
    return _accepted(service.review(db_session=db_session, match_id=match_id, user=user,
                                    decision=Decision.REJECT, reason=body.reason))


@router.post("/matches/{match_id}/accept", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 409, 422))
def accept_match(match_id: PathId, user: CurrentUser, db_session: SessionDep) -> Accepted:
    return _accepted(service.respond(db_session=db_session, match_id=match_id, user=user,
                                     decision=Decision.ACCEPT))


@router.post("/matches/{match_id}/decline", response_model=Accepted,
             status_code=status.HTTP_202_ACCEPTED, responses=responses(401, 403, 404, 409, 422))
def decline_match(match_id: PathId, user: CurrentUser, db_session: SessionDep) -> Accepted:
    return _accepted(service.respond(db_session=db_session, match_id=match_id, user=user,
                                     decision=Decision.DECLINE))
