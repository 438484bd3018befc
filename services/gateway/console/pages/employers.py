"""Employers (admin): the list with their status, registering an employer, verifying
and suspending one. Every rule is the employers service's."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from services.gateway.console.codes import names
from services.gateway.console.deps import AdminUser, flash, page_router
from services.gateway.console.forms import Form, errors_of, nest
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.employers import service
from services.gateway.employers.models import EmployerCreate, EmployerStatus
from services.gateway.errors import ApiError, Conflict
from services.gateway.pagination import PageDep, PathId

router = page_router()
BASE = "/console/employers"


@router.get("/employers", response_class=HTMLResponse)
def employer_list(request: Request, user: AdminUser, db_session: SessionDep,
                  page_params: PageDep) -> HTMLResponse:
    rows, total = service.list_all(db_session=db_session, limit=page_params.limit,
                                   offset=page_params.offset)
    return page(request, "employers/list.html", employers=[service.read(r) for r in rows],
                page={"total": total, "limit": page_params.limit,
                      "offset": page_params.offset}, **names(request))


@router.get("/employers/new", response_class=HTMLResponse)
def employer_form(request: Request, user: AdminUser) -> HTMLResponse:
    return page(request, "employers/new.html", values={}, errors={})


@router.post("/employers/new", response_class=HTMLResponse)
def employer_create(request: Request, user: AdminUser, form: Form,
                    db_session: SessionDep) -> HTMLResponse:
    body = nest(form)
    try:
        employer_in = EmployerCreate.model_validate(body)
        service.create(db_session=db_session, employer_in=employer_in)
    except (ValidationError, ApiError) as exc:
        errors = errors_of(exc)
        if isinstance(exc, Conflict) and not errors:
            errors["employer_id"] = (
                N_("An employer with this id exists already, with other details."), {})
        return page(request, "employers/new.html",
                    status_code=409 if isinstance(exc, Conflict) else 422,
                    values=body, errors=errors)
    flash(request, N_("The employer “%(name)s” is registered; verify it before it may "
                      "post vacancies."), name=employer_in.name)
    return RedirectResponse(BASE, status_code=303)  # type: ignore[return-value]


def _set_status(request: Request, db_session: Session, employer_id: str,
                status: EmployerStatus, message: str) -> RedirectResponse:
    row = service.set_status(db_session=db_session, employer_id=employer_id, status=status)
    flash(request, message, name=row.name)
    return RedirectResponse(BASE, status_code=303)


@router.post("/employers/{employer_id}/verify")
def employer_verify(request: Request, employer_id: PathId, user: AdminUser,
                    db_session: SessionDep) -> RedirectResponse:
    return _set_status(request, db_session, employer_id, EmployerStatus.VERIFIED,
                       N_("The employer “%(name)s” is verified."))


@router.post("/employers/{employer_id}/suspend")
def employer_suspend(request: Request, employer_id: PathId, user: AdminUser,
                     db_session: SessionDep) -> RedirectResponse:
    return _set_status(request, db_session, employer_id, EmployerStatus.SUSPENDED,
                       N_("The employer “%(name)s” is suspended."))
