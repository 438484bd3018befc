"""Request dependencies: the database session, the caller, role checks. Everything
comes from ``request.app.state`` (set by the composition root), nothing from
module globals.

All of them are coroutines that do no blocking work on the event loop: a sync
dependency would cost a hop to the thread pool each. The session is created here and
used (and released) by the endpoint in its own thread-pool call (``routing.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.auth.models import Role, User
from services.gateway.auth.principals import Principals
from services.gateway.auth.security import Principal, TokenError, verify_with_expiry
from services.gateway.database import threads
from services.gateway.errors import Forbidden, Unauthorized
from services.gateway.settings import GatewaySettings

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: requests by other methods that only read (signing in reads the account)
READING_PATHS = frozenset({"/api/v1/auth/token", "/console/sign-in"})


async def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def writes(request: Request) -> bool:
    """Whether the request's transaction begins as a writer (SQLite: ``BEGIN
    IMMEDIATE``, waiting for the write lock rather than failing on it later). Reads
    that record something (the audit of personal data) switch with ``begin_write``."""
    return request.method not in READING_METHODS and request.scope["path"] not in READING_PATHS


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's one session. It opens no connection until used; the endpoint
    releases it before its thread-pool call ends, so closing it here does no I/O."""
    state = request.app.state
    session: Session = (state.sessions if writes(request) else state.read_sessions)()
    try:
        yield session
    finally:
        if session.in_transaction():  # not released by its endpoint: close off the loop
            await threads.run(session.close)
        else:
            session.close()


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def account_exists(read_sessions: sessionmaker[Session], user_id: str) -> bool:
    with read_sessions() as session:
        return session.scalar(select(User.id).where(User.id == user_id)) is not None


def bearer_token(request: Request) -> str | None:
    """The bearer token of the ``Authorization`` header, read as :data:`oauth2`
    (FastAPI's ``OAuth2PasswordBearer`` without ``auto_error``) reads it. The routes
    do not depend on ``oauth2`` itself: FastAPI would solve it as one more dependency
    on every request (a seventh of the cheapest request's time, in-process); the
    document states the scheme on every operation that needs a caller instead
    (:func:`needs_caller`, ``app.py``)."""
    authorization = request.headers.get("Authorization")
    scheme, token = get_authorization_scheme_param(authorization)
    return token if authorization and scheme.lower() == "bearer" else None


async def current_principal(request: Request) -> Principal:
    """The caller, from a verified token whose account still exists. A token checked
    in the last ``CIRCULAR_AUTH_CACHE_SECONDS`` is not checked again (see
    ``auth/principals.py``); otherwise the account is looked up in a short read-only
    session of its own, in one thread-pool call."""
    token = bearer_token(request)
    if not token:
        raise Unauthorized("Sign in first: send a bearer token")
    return await principal_for(request.app.state, token)


async def principal_for(state: Any, token: str) -> Principal:
    """The principal of a token (the API's bearer token, or the one a console session
    holds), checked as :func:`current_principal` says."""
    principals: Principals = state.principals
    known = principals.get(token)
    if known is not None:
        return known
    try:
        principal, expires_at = verify_with_expiry(token, state.signing_key)
    except TokenError:
        raise Unauthorized("The token is invalid or expired") from None
    if not await threads.run(account_exists, state.read_sessions, principal.user_id):
        raise Unauthorized("The account behind this token no longer exists")  # e.g. erased
    principals.put(token, principal, expires_at)
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def optional_principal(request: Request) -> Principal | None:
    """The caller if a token was sent (a bad one is still 401), else None."""
    return await current_principal(request) if bearer_token(request) else None


MaybeUser = Annotated[Principal | None, Depends(optional_principal)]


def needs_caller(dependant: Dependant) -> bool:
    """Whether a route's dependencies ask who calls (its operation is documented with
    :data:`oauth2`'s scheme)."""
    return dependant.call in (current_principal, optional_principal) or any(
        needs_caller(d) for d in dependant.dependencies)


def require(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    allowed = {r.value for r in roles}

    async def check(principal: CurrentUser) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"This needs the role {' or '.join(sorted(allowed))}")
        return principal

    return check


AdminUser = Annotated[Principal, Depends(require(Role.ADMIN))]
RecruiterUser = Annotated[Principal, Depends(require(Role.RECRUITER))]
StaffUser = Annotated[Principal, Depends(require(Role.ADMIN, Role.RECRUITER))]


def short_read(when: Callable[[Request, Principal], bool] | None = None
               ) -> Callable[..., Coroutine[Any, Any, Session]]:
    """The session of a short read: one row by key, or one page of a list scoped to
    one vacancy, worker or employer, for a signed-in caller (``when(request,
    principal)`` says which requests are, None: all; a list unscoped may count a whole
    table). Where the database has sessions of the event loop (SQLite:
    ``database/loop_reads.py``) it is one of those, and the endpoint runs on the loop
    (``routing.py``); otherwise it is a reader's session as :func:`get_session`'s.

    Only for the sync endpoints of ``routing.GatewayRoute``, which close their
    sessions before they return: so this is a plain dependency, not one that yields
    (FastAPI enters an exit stack for each of those: 7% of a short read's time). A
    session that was never used (the request failed before its endpoint ran) holds
    no connection, so nothing is left to close.

    It asks who calls only when ``when`` needs to know, and then of the token cache
    itself, not as a dependency: every endpoint that reads this way depends on the
    caller already (which answers 401 first), and FastAPI solves a dependency's own
    dependencies again before it finds the caller in its per-request cache: solving
    the cheapest request's dependencies took 40-43 instead of 45-46 us (in-process,
    best of 40 rounds, three pairs of runs), of a request of about 450 us."""

    async def session(request: Request) -> Session:
        state = request.app.state
        loop_reads = state.loop_read_sessions
        if loop_reads is not None and (
                when is None or when(request, await current_principal(request))):
            return loop_reads()
        return state.read_sessions()

    return session


def scoped_list(*filters: str) -> Callable[[Request, Principal], bool]:
    """A list is scoped when a worker or an employer asks (their own rows) or one of
    ``filters`` (query parameters naming one vacancy or worker) is given."""
    return lambda request, user: (user.role in (Role.WORKER.value, Role.EMPLOYER.value)
                                  or any(f in request.query_params for f in filters))


ShortRead = Annotated[Session, Depends(short_read())]
#: a page of one vacancy's or one worker's rows (matches)
VacancyOrWorkerRows = Annotated[Session, Depends(short_read(scoped_list("vacancy_id",
                                                                          "worker_id")))]
#: a page of one worker's rows (placements, returns, triggers)
WorkerRows = Annotated[Session, Depends(short_read(scoped_list("worker_id")))]
#: a page of one employer's rows (vacancies)
EmployerRows = Annotated[Session, Depends(short_read(scoped_list("employer_id")))]
