"""Workers: self-registration, walk-in registration by staff, the staff's list, a
worker's profile and consents (its own edit form), and a worker's timeline with its
follow-up triggers. Every call goes through the API's service functions."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.console import forms
from services.gateway.console.codes import names
from services.gateway.console.deps import AnyUser, StaffUser, WorkerUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import ApiError, Conflict, Forbidden, NotFound
from services.gateway.pagination import PageDep, PathId
from services.gateway.timeline import service as timeline
from services.gateway.triggers import service as triggers
from services.gateway.workers import service
from services.gateway.workers.models import WorkerCreate, WorkerRead, WorkerUpdate

router = page_router()

#: yes/no choices, sent as true/false
BOOLEANS = frozenset({"consent_matching"})
SPLIT = frozenset({"skills", "preferred_destinations"})
LEVELS = [(level, level) for level in ("A1", "A2", "B1", "B2", "C1", "C2")]
#: the conflicts registration may meet, as messages next to their field
CONFLICTS = (
    ("passport", "passport_number",
     N_("A worker with this passport number is registered already.")),
    ("username", "username", N_("This username is taken. Choose another one.")),
)
Errors = dict[str, tuple[str, dict[str, Any]]]



def _values(form: Any) -> dict[str, str]:
    """What was typed, to show the form again as it was sent."""
    return {k: str(form.get(k) or "") for k in form if k != "csrf_token"}


def _rows(values: dict[str, str], group: str, minimum: int = 3) -> int:
    used = [int(k.split(".")[1]) for k in values
            if k.startswith(f"{group}.") and k.split(".")[1].isdigit()]
    return max(minimum, max(used, default=-1) + 2)


def _conflict(exc: ApiError) -> Errors:
    text = exc.message.lower()
    for needle, field, message in CONFLICTS:
        if needle in text:
            return {field: (message, {})}
    return {"form": (N_("This cannot be done in the record's current state."), {})}


def _failed(exc: ValidationError | ApiError) -> tuple[Errors, int]:
    """The errors to show and the status to answer with; 403/404 go to the error page."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    if isinstance(exc, Conflict):
        return _conflict(exc), 409
    errors = forms.errors_of(exc)
    if not errors and isinstance(exc, ApiError):
        errors = {"form": (N_("This value is not valid."), {})}
    return errors, 422


def _form_page(request: Request, template: str, values: dict[str, str], errors: Errors,
               status_code: int = 200, **context: Any) -> HTMLResponse:
    return page(request, template, status_code=status_code, values=values, errors=errors,
                occupation_rows=_rows(values, "occupations"),
                language_rows=_rows(values, "languages"), levels=LEVELS, **names(request),
                **context)


def profile_values(worker: WorkerRead) -> dict[str, str]:
    """A worker's profile as the form's fields."""
    values: dict[str, str] = {
        "full_name": worker.full_name or "", "phone": worker.phone or "",
        "email": worker.email or "", "region": worker.region or "",
        "skills": ", ".join(worker.skills),
        "preferred_destinations": ", ".join(worker.preferred_destinations),
        "available_from": worker.available_from.isoformat() if worker.available_from else "",
        "consent_matching": "true" if worker.consent_matching else "false"}
    for n, occupation in enumerate(worker.occupations):
        values[f"occupations.{n}.isco_code"] = occupation.isco_code
        values[f"occupations.{n}.experience_years"] = str(occupation.experience_years)
    for n, language in enumerate(worker.languages):
        values[f"languages.{n}.language"] = language.language
        values[f"languages.{n}.level"] = language.level
    return values


# --- registration -------------------------------------------------------------------

@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request) -> HTMLResponse:
    user: Principal | None = request.state.user
    if user is not None:
        staff = user.role in (Role.ADMIN, Role.RECRUITER)
        target = "/console/workers/new" if staff else "/console/"
        return RedirectResponse(target, status_code=303)  # type: ignore[return-value]
    return _form_page(request, "workers/register.html", {}, {})


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, form: Form, db_session: SessionDep) -> HTMLResponse:
    values = _values(form)
    try:
        worker_in = WorkerCreate.model_validate(forms.nest(form, split=SPLIT, booleans=BOOLEANS))
        service.create(db_session=db_session, worker_in=worker_in,
                       actor=request.state.user, passwords=request.app.state.passwords)
    except (ValidationError, ApiError) as exc:
        db_session.rollback()
        errors, status = _failed(exc)
        values.pop("password", None)
        return _form_page(request, "workers/register.html", values, errors, status)
    return RedirectResponse("/console/register/done", status_code=303)  # type: ignore[return-value]


@router.get("/register/done", response_class=HTMLResponse)
def registered(request: Request) -> HTMLResponse:
    return page(request, "workers/registered.html")


@router.get("/workers/new", response_class=HTMLResponse)
def walk_in_form(request: Request, user: StaffUser) -> HTMLResponse:
    return _form_page(request, "workers/new.html", {}, {})


@router.post("/workers/new", response_class=HTMLResponse)
def walk_in(request: Request, form: Form, user: StaffUser,
            db_session: SessionDep) -> HTMLResponse:
    values = _values(form)
    try:
        worker_in = WorkerCreate.model_validate(forms.nest(form, split=SPLIT, booleans=BOOLEANS))
        row = service.create(db_session=db_session, worker_in=worker_in, actor=user,
                             passwords=request.app.state.passwords)
    except (ValidationError, ApiError) as exc:
        db_session.rollback()
        errors, status = _failed(exc)
        return _form_page(request, "workers/new.html", values, errors, status)
    worker_id = row.id
    flash(request, N_("The worker is registered (%(id)s)."), id=worker_id)
    return RedirectResponse(f"/console/workers/{worker_id}",  # type: ignore[return-value]
                            status_code=303)


# --- the staff's list and a worker's profile ----------------------------------------

@router.get("/workers", response_class=HTMLResponse)
def workers_list(request: Request, user: StaffUser, db_session: SessionDep,
                 paging: PageDep) -> HTMLResponse:
    items, total = service.list_for_staff(db_session=db_session, actor=user,
                                          limit=paging.limit, offset=paging.offset,
                                          path=request.url.path)
    return page(request, "workers/list.html", items=items, paging={
        "total": total, "limit": paging.limit, "offset": paging.offset})


def _worker(request: Request, user: Principal, worker_id: str,
            db_session: SessionDep) -> WorkerRead:
    service.check_access(user, worker_id)
    row = service.get(db_session=db_session, worker_id=worker_id)
    return service.read(db_session=db_session, row=row, actor=user, path=request.url.path)


@router.get("/workers/{worker_id}", response_class=HTMLResponse)
def worker_profile(worker_id: PathId, request: Request, user: AnyUser,
                   db_session: SessionDep) -> HTMLResponse:
    worker = _worker(request, user, worker_id, db_session)
    return page(request, "workers/profile.html", worker=worker, own=False, **names(request))


@router.get("/me", response_class=HTMLResponse)
def my_profile(request: Request, user: WorkerUser, db_session: SessionDep) -> HTMLResponse:
    worker = _worker(request, user, str(user.worker_id), db_session)
    return _form_page(request, "workers/me.html", profile_values(worker), {}, worker=worker)


@router.post("/me", response_class=HTMLResponse)
def update_me(request: Request, form: Form, user: WorkerUser,
              db_session: SessionDep) -> HTMLResponse:
    worker_id = str(user.worker_id)
    values = _values(form)
    try:
        changes = WorkerUpdate.model_validate(forms.nest(form, split=SPLIT, booleans=BOOLEANS))
        service.check_access(user, worker_id)
        service.update(db_session=db_session, worker_id=worker_id, changes=changes)
    except (ValidationError, ApiError) as exc:
        db_session.rollback()
        errors, status = _failed(exc)
        worker = _worker(request, user, worker_id, db_session)
        return _form_page(request, "workers/me.html", values, errors, status, worker=worker)
    flash(request, N_("Your profile is saved."))
    return RedirectResponse("/console/me", status_code=303)  # type: ignore[return-value]


# --- timeline -----------------------------------------------------------------------

def _timeline(request: Request, user: Principal, worker_id: str, db_session: SessionDep,
              paging: PageDep, own: bool) -> HTMLResponse:
    service.check_access(user, worker_id)
    service.get(db_session=db_session, worker_id=worker_id)
    rows, total = timeline.for_worker(db_session=db_session, worker_id=worker_id,
                                      limit=paging.limit, offset=paging.offset)
    entries = [{"type": r.event_type, "at": r.at, "data": r.data} for r in rows]
    found, _ = triggers.listing(db_session=db_session, user=user, worker_id=worker_id,
                                kind=None, status=None, limit=200, offset=0)
    base = "/console/me/timeline?" if own else f"/console/workers/{worker_id}/timeline?"
    return page(request, "workers/timeline.html", worker_id=worker_id, own=own,
                entries=entries, triggers=found, base=base, **names(request),
                paging={"total": total, "limit": paging.limit, "offset": paging.offset})


@router.get("/me/timeline", response_class=HTMLResponse)
def my_timeline(request: Request, user: WorkerUser, db_session: SessionDep,
                paging: PageDep) -> HTMLResponse:
    return _timeline(request, user, str(user.worker_id), db_session, paging, own=True)


@router.get("/workers/{worker_id}/timeline", response_class=HTMLResponse)
def worker_timeline(worker_id: PathId, request: Request, user: AnyUser,
                    db_session: SessionDep, paging: PageDep) -> HTMLResponse:
    return _timeline(request, user, worker_id, db_session, paging, own=False)
