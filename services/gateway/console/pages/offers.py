"""A worker's offers: its matches as ``GET /matches`` shows them to a worker (approved
by a recruiter, and later), with the answer to each approved offer. The answer goes
through the API's ``respond``; a refusal (409) is shown as a message on the page."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from schemas.events.matches import Decision
from services.gateway.console.codes import names
from services.gateway.console.deps import WorkerUser, flash, page_router
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import Conflict
from services.gateway.matches import service
from services.gateway.pagination import PageDep, PathId

router = page_router()
PATH = "/console/offers"
ANSWERED = {Decision.ACCEPT: N_("You accepted the offer. The decision is being confirmed."),
            Decision.DECLINE: N_("You declined the offer.")}


def _offers(request: Request, user: WorkerUser, db_session: SessionDep, paging: PageDep,
            refusal: str | None = None, status_code: int = 200) -> HTMLResponse:
    items, total = service.listing(db_session=db_session, user=user, status=None,
                                   vacancy_id=None, worker_id=None, limit=paging.limit,
                                   offset=paging.offset, path=request.url.path)
    terms = service.offered_terms(db_session=db_session, user=user, items=items)
    return page(request, "offers/list.html", status_code=status_code, items=items,
                terms=terms, refusal=refusal, **names(request),
                paging={"total": total, "limit": paging.limit, "offset": paging.offset})


@router.get("/offers", response_class=HTMLResponse)
def offers(request: Request, user: WorkerUser, db_session: SessionDep,
           paging: PageDep) -> HTMLResponse:
    return _offers(request, user, db_session, paging)


def _answer(request: Request, match_id: str, decision: Decision, user: WorkerUser,
            db_session: SessionDep, paging: PageDep) -> HTMLResponse:
    try:
        service.respond(db_session=db_session, match_id=match_id, user=user, decision=decision)
    except Conflict:
        db_session.rollback()
        return _offers(request, user, db_session, paging, status_code=409, refusal=N_(
            "This offer cannot be answered now: it is no longer waiting for your answer, "
            "or you already hold another accepted offer that has not ended."))
    flash(request, ANSWERED[decision])
    return RedirectResponse(PATH, status_code=303)  # type: ignore[return-value]


@router.post("/offers/{match_id}/accept", response_class=HTMLResponse)
def accept(match_id: PathId, request: Request, user: WorkerUser, db_session: SessionDep,
           paging: PageDep) -> HTMLResponse:
    return _answer(request, match_id, Decision.ACCEPT, user, db_session, paging)


@router.post("/offers/{match_id}/decline", response_class=HTMLResponse)
def decline(match_id: PathId, request: Request, user: WorkerUser, db_session: SessionDep,
            paging: PageDep) -> HTMLResponse:
    return _answer(request, match_id, Decision.DECLINE, user, db_session, paging)
