"""Signing in and out, the language switcher and the home page."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.gateway.auth import service as users
from services.gateway.auth.security import issue
from services.gateway.auth.throttle import SignInThrottle
from services.gateway.console.deps import AnyUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.i18n import LANGUAGES
from services.gateway.console.nav import N_, sections_for
from services.gateway.console.render import page
from services.gateway.deps import SessionDep, SettingsDep

router = page_router()
HOME = "/console/"


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, never elsewhere."""
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return HOME


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: AnyUser) -> HTMLResponse:
    return page(request, "home.html", shortcuts=sections_for(user.role))


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str | None = None) -> HTMLResponse:
    if request.state.user is not None:
        return RedirectResponse(safe_next(next), status_code=303)  # type: ignore[return-value]
    return page(request, "sign_in.html", next=safe_next(next), username="", error=None)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, form: Form, db_session: SessionDep,
            settings: SettingsDep) -> HTMLResponse:
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    throttle: SignInThrottle = request.app.state.throttle
    address = request.client.host if request.client else "unknown"
    if not throttle.allows(username=username, address=address):
        return page(request, "sign_in.html", status_code=429, next=target, username=username,
                    error=N_("Too many failed attempts. Wait a few minutes and try again."))
    principal = users.authenticate(db_session=db_session, username=username,
                                   password=password, passwords=request.app.state.passwords)
    if principal is None:
        throttle.failed(username=username, address=address)
        return page(request, "sign_in.html", status_code=401, next=target, username=username,
                    error=N_("Wrong username or password."))
    language = users.language_of(db_session=db_session, user_id=principal.user_id)
    ttl = timedelta(minutes=settings.console_session_minutes)
    session = request.session
    session.clear()  # a new session on every sign-in: nothing carried over from before
    session["token"] = issue(principal, request.app.state.signing_key, ttl)
    session["csrf"] = secrets.token_urlsafe(32)
    if language in LANGUAGES:
        session["lang"] = language
    elif request.state.language in LANGUAGES:
        session["lang"] = request.state.language
    return RedirectResponse(target, status_code=303)  # type: ignore[return-value]


@router.post("/sign-out")
def sign_out(request: Request) -> RedirectResponse:
    language = request.state.language
    request.session.clear()
    request.session["lang"] = language
    request.session["flash"] = {"message": N_("You are signed out."), "params": {}}
    return RedirectResponse("/console/sign-in", status_code=303)


@router.post("/language")
def choose_language(request: Request, form: Form, db_session: SessionDep) -> RedirectResponse:
    """The switcher: the language for this session and, for a signed-in user, their
    setting from now on."""
    language = str(form.get("language") or "")
    back = safe_next(str(form.get("next") or ""))
    if language not in LANGUAGES:
        flash(request, N_("This language is not available."))
        return RedirectResponse(back, status_code=303)
    request.session["lang"] = language
    user = request.state.user
    if user is not None:
        users.set_language(db_session=db_session, user_id=user.user_id, language=language)
        db_session.commit()
    return RedirectResponse(back, status_code=303)
