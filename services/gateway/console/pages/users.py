"""Users (admin): every login, and the form that makes one, with the rules of
``POST /users`` (the auth service's ``check_links`` and ``create``; the password
hashed before the transaction, as the API view does)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from services.gateway.auth import service
from services.gateway.auth.models import NewUser, Role, UserCreate
from services.gateway.console.deps import AdminUser, flash, page_router
from services.gateway.console.forms import Form, errors_of, nest
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import ApiError, Conflict
from services.gateway.pagination import PageDep

router = page_router()
BASE = "/console/users"
ROLES = [r.value for r in Role]
#: the auth service's conflicts, by the start of their message: the field each
#: concerns and a message for people
CONFLICTS = {
    "The username": ("username", N_("This username is taken.")),
    "Worker": ("worker_id", N_("This worker has a login already.")),
    "This worker's data was erased": ("worker_id", N_("This worker's data was erased.")),
}


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, user: AdminUser, db_session: SessionDep,
              page_params: PageDep) -> HTMLResponse:
    rows, total = service.list_all(db_session=db_session, limit=page_params.limit,
                                   offset=page_params.offset)
    return page(request, "users/list.html", users=rows, page={
        "total": total, "limit": page_params.limit, "offset": page_params.offset})


def _form(request: Request, values: dict[str, str], errors: dict[str, Any],
          status_code: int = 200) -> HTMLResponse:
    return page(request, "users/new.html", status_code=status_code, values=values,
                errors=errors, roles=ROLES)


@router.get("/users/new", response_class=HTMLResponse)
def user_form(request: Request, user: AdminUser) -> HTMLResponse:
    return _form(request, {}, {})


@router.post("/users/new", response_class=HTMLResponse)
def user_create(request: Request, user: AdminUser, form: Form,
                db_session: SessionDep) -> HTMLResponse:
    body = nest(form)
    values = {k: v for k, v in body.items() if k != "password"}  # never shown again
    passwords = request.app.state.passwords
    try:
        user_in = UserCreate.model_validate(NewUser.model_validate(body).model_dump())
        hashed = passwords.hash(user_in.password)  # before the transaction: it takes long
        service.check_links(db_session=db_session, user_in=user_in)
        created = service.create(db_session=db_session, user_in=user_in, passwords=passwords,
                                 password_hash=hashed)
        db_session.commit()
    except (ValidationError, ApiError) as exc:
        errors = errors_of(exc)
        if isinstance(exc, Conflict) and not errors:
            field, message = next((v for k, v in CONFLICTS.items()
                                   if exc.message.startswith(k)),
                                  ("form", N_("This login cannot be made.")))
            errors[field] = (message, {})
        return _form(request, values, errors, 409 if isinstance(exc, Conflict) else 422)
    flash(request, N_("The login “%(username)s” is made."), username=created.username)
    return RedirectResponse(BASE, status_code=303)  # type: ignore[return-value]
