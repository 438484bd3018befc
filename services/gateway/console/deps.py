"""What every console request gets before its page runs: the session's CSRF token,
the signed-in user (from the access token the session holds, checked exactly as the
API checks a bearer token), the language, and the one-time message of the last
action. Unsafe methods must carry the session's CSRF token (form field or header)
and, when the browser names an origin, come from this site."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.console.i18n import DEFAULT, LANGUAGES, negotiate
from services.gateway.deps import principal_for
from services.gateway.errors import Forbidden, Unauthorized
from services.gateway.routing import GatewayRoute

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Unauthorized):
    """No signed-in user: the console answers with the sign-in page."""


async def console_request(request: Request) -> None:
    session = request.session
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    state = request.state
    state.csrf_token = session["csrf"]
    state.user = None
    if token := session.get("token"):
        try:
            state.user = await principal_for(request.app.state, token)
        except Unauthorized:
            session.pop("token", None)  # expired, or the account is gone
    chosen = session.get("lang")
    state.language = (chosen if chosen in LANGUAGES else None) or negotiate(
        request.headers.get("accept-language")) or DEFAULT
    state.flash = session.pop("flash", None)
    if request.method not in SAFE_METHODS:
        await check_csrf(request)


def page_router() -> APIRouter:
    """A router of console pages: each of its routes runs :func:`console_request` first.
    The console adds their routes to its own list as they are (``app.py``), not as an
    included router, which FastAPI matches route by route twice a request."""
    return APIRouter(route_class=GatewayRoute, include_in_schema=False,
                     dependencies=[Depends(console_request)])


async def check_csrf(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden("This form was sent from another site")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, request.state.csrf_token):
        raise Forbidden("This form has expired or was not sent from this site")


def flash(request: Request, message: str, **params: Any) -> None:
    """A message (an English msgid and its figures) shown once, on the next page."""
    request.session["flash"] = {"message": message, "params": {
        k: str(v) for k, v in params.items()}}


def signed_in(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """The signed-in user, who must have one of ``roles`` (any role when none given)."""
    allowed = {r.value for r in roles}

    async def check(request: Request) -> Principal:
        user: Principal | None = request.state.user
        if user is None:
            raise SignInRequired("Sign in first")
        if allowed and user.role not in allowed:
            raise Forbidden("This page is for another role")
        return user

    return check


AnyUser = Annotated[Principal, Depends(signed_in())]
AdminUser = Annotated[Principal, Depends(signed_in(Role.ADMIN))]
StaffUser = Annotated[Principal, Depends(signed_in(Role.ADMIN, Role.RECRUITER))]
RecruiterUser = Annotated[Principal, Depends(signed_in(Role.RECRUITER))]
EmployerUser = Annotated[Principal, Depends(signed_in(Role.EMPLOYER, Role.ADMIN))]
WorkerUser = Annotated[Principal, Depends(signed_in(Role.WORKER))]
