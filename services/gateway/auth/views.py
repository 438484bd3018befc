"""``POST /auth/token`` (OAuth2 password flow) and ``POST /users``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from services.gateway.auth import service
from services.gateway.auth.models import NewUser, Token, UserCreate, UserRead
from services.gateway.auth.security import issue
from services.gateway.auth.throttle import SignInThrottle
from services.gateway.deps import AdminUser, SessionDep, SettingsDep
from services.gateway.errors import TooManyRequests, Unauthorized, responses
from services.gateway.routing import API_PREFIX, GatewayRoute

router = APIRouter(route_class=GatewayRoute, prefix=API_PREFIX, tags=["auth"])


@router.post("/auth/token", response_model=Token, responses=responses(401, 422, 429))
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
          db_session: SessionDep, settings: SettingsDep) -> Token:
    """Failed attempts are limited per account and per address (the console's sign-in
    counts with them): past the limit every attempt is 429 until the window moves on."""
    throttle: SignInThrottle = request.app.state.throttle
    address = request.client.host if request.client else "unknown"
    if not throttle.allows(username=form.username, address=address):
        raise TooManyRequests("Too many failed sign-ins for this account or address; "
                              "wait a few minutes")
    principal = service.authenticate(db_session=db_session, username=form.username,
                                     password=form.password,
                                     passwords=request.app.state.passwords)
    if principal is None:
        throttle.failed(username=form.username, address=address)
        raise Unauthorized("Wrong username or password")
    ttl = timedelta(minutes=settings.jwt_ttl_minutes)
    return Token(access_token=issue(principal, request.app.state.signing_key, ttl),
                 expires_in=int(ttl.total_seconds()))


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED,
             responses=responses(401, 403, 409, 422))
def create_user(new_user: NewUser, request: Request, admin: AdminUser,
                db_session: SessionDep) -> UserRead:
    """A login for an admin, recruiter, employer (``employer_id`` of an existing
    employer) or worker (``worker_id`` of an existing worker without a login)."""
    user_in = UserCreate.model_validate(new_user.model_dump())
    passwords = request.app.state.passwords
    hashed = passwords.hash(user_in.password)  # before the transaction: it takes long
    service.check_links(db_session=db_session, user_in=user_in)
    user = service.create(db_session=db_session, user_in=user_in, passwords=passwords,
                          password_hash=hashed)
    db_session.commit()
    return UserRead.model_validate(user)
