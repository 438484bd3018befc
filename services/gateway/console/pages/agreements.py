"""Agreements (admin; recruiters read): the list, one agreement's terms with the quota
used per occupation for a year (as bars with their figures), the form that records an
agreement, suspending and resuming. Every rule is the agreements service's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from schemas.codes import CefrLevel
from services.gateway.agreements import service
from services.gateway.agreements.models import AgreementCreate, AgreementStatus
from services.gateway.clock import service as clock
from services.gateway.console.codes import names
from services.gateway.console.deps import AdminUser, StaffUser, flash, page_router
from services.gateway.console.forms import Form, errors_of, nest
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import ApiError, Conflict
from services.gateway.pagination import PageDep, PathId

router = page_router()
BASE = "/console/agreements"
#: occupation rows the form shows at least (empty rows are ignored)
OCCUPATION_ROWS = 3
Year = Annotated[int | None, Query(ge=2000, le=2200)]

#: the model's own checks across fields (they have no field of their own): the field
#: each concerns and a message for people
CROSS_FIELD = {
    "valid_until must not be before valid_from": (
        "valid_until", N_("The end of validity must not be before its start.")),
    "max_age must not be below min_age": (
        "max_age", N_("The maximum age must not be below the minimum age.")),
    "origin and destination must differ": (
        "destination_country", N_("The destination must differ from the origin.")),
    "each occupation may be listed once": (
        "occupations", N_("Each occupation may be listed once.")),
}






def form_errors_of(exc: ValidationError | ApiError) -> dict[str, tuple[str, dict[str, Any]]]:
    """The form's errors by field; the model's checks across fields are shown at the
    field they concern."""
    errors = errors_of(exc)
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            if err["loc"]:
                continue
            for text, (field, message) in CROSS_FIELD.items():
                if text in str(err.get("msg", "")):
                    errors.setdefault(field, (message, {}))
                    errors.pop("form", None)  # the one error without a field: this one
    elif isinstance(exc, Conflict) and not errors:
        errors["form"] = (N_("An agreement with this id exists already, with other terms."),
                          {})
    return errors


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A nested body back as the form's flat fields (to show a form again)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: str(value)}
    out: dict[str, str] = {}
    for key, inner in items:
        out.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    return out


@router.get("/agreements", response_class=HTMLResponse)
def agreement_list(request: Request, user: StaffUser, db_session: SessionDep,
                   page_params: PageDep) -> HTMLResponse:
    rows, total = service.list_all(db_session=db_session, limit=page_params.limit,
                                   offset=page_params.offset)
    agreements = [service.read(r) for r in rows]
    return page(request, "agreements/list.html", agreements=agreements,
                page={"total": total, "limit": page_params.limit,
                      "offset": page_params.offset}, **names(request))


def _form(request: Request, values: dict[str, str], errors: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    rows = max(OCCUPATION_ROWS, 1 + max(
        (int(k.split(".")[1]) for k in values if k.startswith("occupations.")), default=-1))
    return page(request, "agreements/new.html", status_code=status_code, values=values,
                errors=errors, rows=rows, levels=[(lv.value, lv.value) for lv in CefrLevel])


@router.get("/agreements/new", response_class=HTMLResponse)
def agreement_form(request: Request, user: AdminUser) -> HTMLResponse:
    return _form(request, {}, {})


@router.post("/agreements/new", response_class=HTMLResponse)
def agreement_create(request: Request, user: AdminUser, form: Form,
                     db_session: SessionDep) -> HTMLResponse:
    body = nest(form)
    values = flatten(body)  # empty occupation rows dropped: the rows match the errors
    try:
        agreement_in = AgreementCreate.model_validate(body)
        row = service.create(db_session=db_session, agreement_in=agreement_in)
    except (ValidationError, ApiError) as exc:
        status_code = 409 if isinstance(exc, Conflict) else 422
        return _form(request, values, form_errors_of(exc), status_code)
    flash(request, N_("The agreement “%(title)s” is recorded."), title=agreement_in.title)
    return RedirectResponse(f"{BASE}/{row.id}", status_code=303)  # type: ignore[return-value]


@router.get("/agreements/{agreement_id}", response_class=HTMLResponse)
def agreement_detail(request: Request, agreement_id: PathId, user: StaffUser,
                     db_session: SessionDep, year: Year = None) -> HTMLResponse:
    row = service.get(db_session=db_session, agreement_id=agreement_id)
    year = year or clock.today(db_session=db_session).year
    quota = {q.isco_code: q for q in service.quota(
        db_session=db_session, agreement_id=agreement_id, year=year)}
    return page(request, "agreements/detail.html", agreement=service.read(row), quota=quota,
                year=year, **names(request))


def _set_status(request: Request, db_session: Session, agreement_id: str,
                status: AgreementStatus, message: str) -> RedirectResponse:
    row = service.set_status(db_session=db_session, agreement_id=agreement_id, status=status)
    flash(request, message, title=row.terms.get("title", row.id))
    return RedirectResponse(f"{BASE}/{row.id}", status_code=303)


@router.post("/agreements/{agreement_id}/suspend")
def agreement_suspend(request: Request, agreement_id: PathId, user: AdminUser,
                      db_session: SessionDep) -> RedirectResponse:
    return _set_status(request, db_session, agreement_id, AgreementStatus.SUSPENDED,
                       N_("The agreement “%(title)s” is suspended."))


@router.post("/agreements/{agreement_id}/resume")
def agreement_resume(request: Request, agreement_id: PathId, user: AdminUser,
                     db_session: SessionDep) -> RedirectResponse:
    return _set_status(request, db_session, agreement_id, AgreementStatus.ACTIVE,
                       N_("The agreement “%(title)s” is active again."))
