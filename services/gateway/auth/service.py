"""Users: creation, authentication, the first admin."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.gateway.auth.models import Role, User, UserCreate
from services.gateway.auth.security import Passwords, Principal
from services.gateway.employers.models import Employer
from services.gateway.errors import Conflict, FieldError, Unprocessable
from services.gateway.pagination import paged
from services.gateway.workers.models import Worker, WorkerStatus

log = logging.getLogger(__name__)


def get_by_username(*, db_session: Session, username: str) -> User | None:
    return db_session.scalar(select(User).where(User.username == username))


def _invalid(field: str, message: str, kind: str) -> Unprocessable:
    return Unprocessable("The request is invalid", [FieldError(
        field=f"body.{field}", message=message, type=kind)])


def check_links(*, db_session: Session, user_in: UserCreate) -> None:
    """An employer's login names an existing employer, a worker's login an existing
    worker that has no login yet (422 / 409); admins and recruiters name neither."""
    needs = {Role.EMPLOYER: "employer_id", Role.WORKER: "worker_id"}.get(user_in.role)
    for field in ("employer_id", "worker_id"):
        given = getattr(user_in, field) is not None
        if field == needs and not given:
            raise _invalid(field, f"required for role {user_in.role.value}", "missing")
        if field != needs and given:
            raise _invalid(field, f"not allowed for role {user_in.role.value}",
                           "extra_forbidden")
    if user_in.employer_id is not None and db_session.get(
            Employer, user_in.employer_id) is None:
        raise _invalid("employer_id", "no such employer", "unknown_id")
    if user_in.worker_id is not None:
        worker = db_session.get(Worker, user_in.worker_id)
        if worker is None:
            raise _invalid("worker_id", "no such worker", "unknown_id")
        if worker.status == WorkerStatus.ERASED:
            raise Conflict("This worker's data was erased")


def create(*, db_session: Session, user_in: UserCreate, passwords: Passwords,
           password_hash: str | None = None) -> User:
    """Adds a user to the session (the caller commits). One login per worker.
    ``password_hash``: the password hashed already, before the transaction began (a
    hash takes long; on SQLite a write transaction holds the database's write lock)."""
    if get_by_username(db_session=db_session, username=user_in.username) is not None:
        raise Conflict(f"The username {user_in.username} is taken")
    if user_in.worker_id is not None and db_session.scalar(
            select(User.id).where(User.worker_id == user_in.worker_id)) is not None:
        raise Conflict(f"Worker {user_in.worker_id} has a login already")
    user = User(id="u-" + uuid.uuid4().hex[:20], username=user_in.username,
                password_hash=password_hash or passwords.hash(user_in.password),
                role=user_in.role.value,
                employer_id=user_in.employer_id, worker_id=user_in.worker_id)
    db_session.add(user)
    return user


def list_all(*, db_session: Session, limit: int, offset: int) -> tuple[list[User], int]:
    """Every login, oldest first, a page at a time, and how many there are."""
    return paged(db_session=db_session, query=select(User), order_by=(User.created_at, User.id),
                 limit=limit, offset=offset)


def authenticate(*, db_session: Session, username: str, password: str,
                 passwords: Passwords) -> Principal | None:
    user = get_by_username(db_session=db_session, username=username)
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        return None
    return principal_of(user)


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, role=user.role,
                     employer_id=user.employer_id, worker_id=user.worker_id)


def ensure_first_admin(*, db_session: Session, username: str | None,
                       password: str | None, passwords: Passwords) -> None:
    """Create the configured admin if missing; say how to configure one otherwise."""
    if username is None or password is None:
        has_admin = db_session.scalar(select(User.id).where(User.role == Role.ADMIN.value))
        if not has_admin:
            log.warning("no admin exists: set CIRCULAR_ADMIN_USER and "
                        "CIRCULAR_ADMIN_PASSWORD and restart the gateway to create one")
        return
    if get_by_username(db_session=db_session, username=username) is not None:
        return
    password_hash = passwords.hash(password)  # before the write (it takes long)
    try:
        create(db_session=db_session, passwords=passwords, password_hash=password_hash,
               user_in=UserCreate(username=username, password=password, role=Role.ADMIN))
        db_session.commit()
    except (IntegrityError, Conflict):
        # every API process creates it at start: another one did, a moment earlier
        db_session.rollback()
        if get_by_username(db_session=db_session, username=username) is None:
            raise
        return
    log.info("created the first admin from the environment")


def language_of(*, db_session: Session, user_id: str) -> str | None:
    return db_session.scalar(select(User.language).where(User.id == user_id))


def set_language(*, db_session: Session, user_id: str, language: str) -> None:
    """The console's language for this user from now on (the caller commits)."""
    user = db_session.get(User, user_id)
    if user is not None:
        user.language = language
