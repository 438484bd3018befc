"""Request dependencies: the database session, the caller, role checks. Everything
comes from ``request.app.state`` (set by the composition root), nothing from
module globals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from services.gateway.auth.models import Role, User
from services.gateway.auth.security import Principal, TokenError, verify
from services.gateway.errors import Forbidden, Unauthorized
from services.gateway.settings import GatewaySettings

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2)],
                      db_session: SessionDep) -> Principal:
    """The caller, from a verified token whose account still exists (checked in the
    request's own session: one database connection per request)."""
    if not token:
        raise Unauthorized("Sign in first: send a bearer token")
    try:
        principal = verify(token, request.app.state.signing_key)
    except TokenError:
        raise Unauthorized("The token is invalid or expired") from None
    if db_session.get(User, principal.user_id) is None:  # deleted, e.g. by erasure
        raise Unauthorized("The account behind this token no longer exists")
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def optional_principal(request: Request, token: Annotated[str | None, Depends(oauth2)],
                       db_session: SessionDep) -> Principal | None:
    """The caller if a token was sent (a bad one is still 401), else None."""
    return current_principal(request, token, db_session) if token else None


MaybeUser = Annotated[Principal | None, Depends(optional_principal)]


def require(*roles: Role) -> Callable[[Principal], Principal]:
    allowed = {r.value for r in roles}

    def check(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"This needs the role {' or '.join(sorted(allowed))}")
        return principal

    return check


AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]
RecruiterUser = Annotated[Principal, Depends(require(Role.RECRUITER))]
StaffUser = Annotated[Principal, Depends(require(Role.ADMIN, Role.RECRUITER))]
