"""Registering a return home: the worker its own, a recruiter any worker's. The body is
the API's ``ReturnCreate`` and the call the one ``POST /returns`` makes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from schemas.events.placements import EarlyReturnReason, Intention, Need
from services.gateway.auth.security import Principal
from services.gateway.console import forms
from services.gateway.console.deps import RecruiterUser, WorkerUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.labels import label
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import ApiError, Conflict, Forbidden, NotFound
from services.gateway.pagination import PathId
from services.gateway.placements import service
from services.gateway.placements.models import ReturnCreate
from services.gateway.workers import service as workers

router = page_router()
LISTS = frozenset({"intentions", "needs"})
SPLIT = frozenset({"skills_acquired"})


def _choices(kind: str, codes: Any) -> list[tuple[str, str]]:
    """(code, English msgid) pairs; the template translates the msgid."""
    return [(c.value, label(kind, c)) for c in codes]


def _form(request: Request, worker_id: str, own: bool, values: dict[str, Any],
          errors: dict[str, tuple[str, dict[str, Any]]], status_code: int = 200) -> HTMLResponse:
    return page(request, "returns/form.html", status_code=status_code, worker_id=worker_id,
                own=own, values=values, errors=errors,
                intentions=_choices("intention", Intention), needs=_choices("need", Need),
                reasons=_choices("early_return", EarlyReturnReason))


def _register(request: Request, form: Form, user: Principal, worker_id: str, own: bool,
              db_session: SessionDep) -> HTMLResponse:
    values: dict[str, Any] = {k: str(form.get(k) or "") for k in form if k != "csrf_token"}
    values["intentions"] = form.getlist("intentions")
    values["needs"] = form.getlist("needs")
    try:
        body = ReturnCreate.model_validate(
            {**forms.nest(form, lists=LISTS, split=SPLIT), "worker_id": worker_id})
        service.register_return(db_session=db_session, body=body, user=user)
    except (ValidationError, ApiError) as exc:
        db_session.rollback()
        if isinstance(exc, Forbidden | NotFound):
            raise
        if isinstance(exc, Conflict):
            return _form(request, worker_id, own, values, {"form": (N_(
                "The return cannot be registered: this worker's data was erased."), {})}, 409)
        return _form(request, worker_id, own, values, forms.errors_of(exc), 422)
    if own:
        flash(request, N_("Your return is registered. Welcome home."))
        return RedirectResponse("/console/me/timeline", status_code=303)  # type: ignore[return-value]
    flash(request, N_("The return of worker %(id)s is registered."), id=worker_id)
    return RedirectResponse(f"/console/workers/{worker_id}",  # type: ignore[return-value]
                            status_code=303)


@router.get("/return", response_class=HTMLResponse)
def my_return_form(request: Request, user: WorkerUser) -> HTMLResponse:
    return _form(request, str(user.worker_id), True, {}, {})


@router.post("/return", response_class=HTMLResponse)
def my_return(request: Request, form: Form, user: WorkerUser,
              db_session: SessionDep) -> HTMLResponse:
    return _register(request, form, user, str(user.worker_id), True, db_session)


@router.get("/workers/{worker_id}/return", response_class=HTMLResponse)
def return_form(worker_id: PathId, request: Request, user: RecruiterUser,
                db_session: SessionDep) -> HTMLResponse:
    workers.get(db_session=db_session, worker_id=worker_id)
    return _form(request, worker_id, False, {}, {})


@router.post("/workers/{worker_id}/return", response_class=HTMLResponse)
def register_return(worker_id: PathId, request: Request, form: Form, user: RecruiterUser,
                    db_session: SessionDep) -> HTMLResponse:
    return _register(request, form, user, worker_id, False, db_session)
