"""Vacancies for employers (their own) and admins (all): the list, one vacancy with its
terms, status, violations and the matches its employer may see (the candidate's name
once accepted), posting a vacancy, closing one. Every check is the API's: the
vacancy and match service functions the API routes call."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from schemas.codes import CefrLevel
from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.console import forms
from services.gateway.console.codes import names
from services.gateway.console.deps import EmployerUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.nav import N_
from services.gateway.console.pages.live import stream_after
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.employers import service as employers
from services.gateway.errors import ApiError
from services.gateway.matches import service as matches
from services.gateway.pagination import PageDep, PathId
from services.gateway.vacancies import service
from services.gateway.vacancies.models import VacancyCreate

router = page_router()
BASE = "/console/vacancies"
ROUTE = "/vacancies"  # under the console's mount
#: every match of one vacancy the user may see, on one page
MATCHES_SHOWN = 200
SPLIT = frozenset({"required_skills"})
FLAGS = frozenset({"housing_provided"})
LEVELS = [(level.value, level.value) for level in CefrLevel]
#: the element the list is in: htmx asks for it alone (``HX-Target``) when the change
#: stream says a vacancy or one of its matches changed
LIST_ID = "vacancy-list"






@router.get(ROUTE, response_class=HTMLResponse)
def vacancy_list(request: Request, user: EmployerUser, db_session: SessionDep,
                 paging: PageDep) -> HTMLResponse:
    rows, total = service.list_for(db_session=db_session, user=user, employer_id=None,
                                   limit=paging.limit, offset=paging.offset)
    items = [service.read(r).model_dump(mode="json") for r in rows]
    template = ("vacancies/_list.html" if request.headers.get("hx-target") == LIST_ID
                else "vacancies/list.html")
    return page(request, template, items=items, is_admin=user.role == Role.ADMIN,
                stream_after=stream_after(db_session),
                paging={"total": total, "limit": paging.limit, "offset": paging.offset},
                **names(request))


def _employer_options(db_session: Session, user: Principal) -> list[tuple[str, str]]:
    if user.role != Role.ADMIN:
        return []
    rows, _ = employers.list_all(db_session=db_session, limit=200, offset=0)
    return [(r.id, f"{r.name} ({r.id})") for r in rows]


def _form_page(request: Request, db_session: Session, user: Principal,
               values: dict[str, str], errors: dict[str, Any],
               status_code: int = 200) -> HTMLResponse:
    return page(request, "vacancies/new.html", status_code=status_code, values=values,
                errors=errors, employer_options=_employer_options(db_session, user),
                levels=LEVELS, is_admin=user.role == Role.ADMIN)


@router.get(f"{ROUTE}/new", response_class=HTMLResponse)
def new_vacancy_form(request: Request, user: EmployerUser,
                     db_session: SessionDep) -> HTMLResponse:
    return _form_page(request, db_session, user, {"housing_provided": ""}, {})


@router.post(f"{ROUTE}/new", response_class=HTMLResponse)
def post_vacancy(request: Request, user: EmployerUser, form: Form,
                 db_session: SessionDep) -> HTMLResponse:
    body = forms.nest(form, split=SPLIT, flags=FLAGS)
    if user.role == Role.EMPLOYER:
        body["employer_id"] = user.employer_id  # an employer posts for itself only
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    try:
        vacancy_in = VacancyCreate.model_validate(body)
        row = service.create(db_session=db_session, vacancy_in=vacancy_in, user=user)
    except (ValidationError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status not in (409, 422):
            raise
        db_session.rollback()
        status_code = exc.status if isinstance(exc, ApiError) else 422
        errors = forms.errors_of(exc)
        if isinstance(exc, ApiError) and not errors:
            errors = {"form": (N_("This vacancy cannot be posted as it is."), {})}
        return _form_page(request, db_session, user, values, errors, status_code)
    flash(request, N_("Vacancy %(title)s posted. It opens once it is checked against the "
                      "agreement."), title=vacancy_in.title)
    return RedirectResponse(f"{BASE}/{row.id}", status_code=303)  # type: ignore[return-value]


@router.get(f"{ROUTE}/{{vacancy_id}}", response_class=HTMLResponse)
def vacancy_detail(request: Request, vacancy_id: PathId, user: EmployerUser,
                   db_session: SessionDep) -> HTMLResponse:
    service.check_role_may_read(user)
    row = service.get(db_session=db_session, vacancy_id=vacancy_id)
    service.check_can_read(user, row)
    vacancy = service.read(row).model_dump(mode="json")
    shown, total = matches.listing(db_session=db_session, user=user, status=None,
                                   vacancy_id=row.id, worker_id=None, limit=MATCHES_SHOWN,
                                   offset=0, path=request.url.path)
    return page(request, "vacancies/detail.html", vacancy=vacancy, vacancy_id=row.id,
                matches=[m.model_dump(mode="json") for m in shown], matches_total=total,
                is_admin=user.role == Role.ADMIN, **names(request))


@router.post(f"{ROUTE}/{{vacancy_id}}/close")
def close_vacancy(request: Request, vacancy_id: PathId, user: EmployerUser,
                  db_session: SessionDep) -> RedirectResponse:
    row = service.close(db_session=db_session, vacancy_id=vacancy_id, user=user)
    flash(request, N_("The vacancy is closed: no new candidates will be proposed."))
    return RedirectResponse(f"{BASE}/{row.id}", status_code=303)
