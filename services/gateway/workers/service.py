"""Worker commands and queries. Personal data is read only through :func:`read`,
which records the read in the audit log."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from schemas.events import workers as ev
from schemas.events.matches import MatchStatus
from schemas.registry import by_type
from services.gateway.audit import service as audit
from services.gateway.auth import service as users
from services.gateway.auth.models import Role, User, UserCreate
from services.gateway.auth.security import Passwords, Principal
from services.gateway.database.core import utcnow
from services.gateway.database.idempotent import is_repeat, new_id, request_hash
from services.gateway.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    field_errors,
)
from services.gateway.matches.models import Match
from services.gateway.outbox import service as outbox
from services.gateway.outbox.models import OutboxRecord
from services.gateway.pagination import paged
from services.gateway.placements.models import Placement, ReturnRegistration
from services.gateway.privacy import ERASED_REASON, PERSONAL, pseudonymous
from services.gateway.timeline import service as timeline
from services.gateway.triggers.models import Trigger
from services.gateway.workers.models import (
    Worker,
    WorkerCreate,
    WorkerRead,
    WorkerStatus,
    WorkerSummary,
    WorkerUpdate,
)

PROFILE_FIELDS = tuple(ev.WorkerProfile.model_fields)
KEPT_IN_COLUMNS = {"citizenship", "date_of_birth"}


def check_access(user: Principal, worker_id: str) -> None:
    """The worker itself, recruiters and admins; nobody else learns if it exists."""
    if user.role in (Role.ADMIN, Role.RECRUITER):
        return
    if user.role == Role.WORKER and user.worker_id == worker_id:
        return
    raise Forbidden("Only the worker, recruiters and admins may do this")


def get(*, db_session: Session, worker_id: str) -> Worker:
    row = db_session.get(Worker, worker_id)
    if row is None:
        raise NotFound(f"No worker {worker_id}")
    return row


def profile_of(row: Worker) -> ev.WorkerProfile:
    return ev.WorkerProfile.model_validate({**row.profile, "citizenship": row.citizenship,
                                            "date_of_birth": row.date_of_birth})


def read(*, db_session: Session, row: Worker, actor: Principal, path: str) -> WorkerRead:
    shown = {f: getattr(row, f) for f in PERSONAL}
    present = [f for f, v in shown.items() if v is not None]
    if present:
        audit.record_read(db_session=db_session, actor=actor, worker_id=row.id,
                          fields=present, path=path)
        db_session.commit()
    return WorkerRead.model_validate({**row.profile, "citizenship": row.citizenship,
                                      "worker_id": row.id, "status": row.status, **shown})


def list_for_staff(*, db_session: Session, actor: Principal, limit: int, offset: int,
                   path: str) -> tuple[list[WorkerSummary], int]:
    """Recruiters and admins: workers by id, a page at a time, with their names; every
    name shown is a read of personal data and recorded in the audit log as
    :func:`read` records it."""
    if actor.role not in (Role.ADMIN, Role.RECRUITER):
        raise Forbidden("Only recruiters and admins may list workers")
    rows, total = paged(db_session=db_session, query=select(Worker), order_by=(Worker.id,),
                        limit=limit, offset=offset)
    items = [WorkerSummary(worker_id=r.id, full_name=r.full_name, status=WorkerStatus(r.status),
                           consent_matching=bool(r.profile.get("consent_matching")))
             for r in rows]
    named = [w.worker_id for w in items if w.full_name is not None]
    for worker_id in named:
        audit.record_read(db_session=db_session, actor=actor, worker_id=worker_id,
                          fields=["full_name"], path=path)
    if named:
        db_session.commit()
    return items, total


def create(*, db_session: Session, worker_in: WorkerCreate, actor: Principal | None,
           passwords: Passwords) -> Worker:
    if actor is None and not (worker_in.username and worker_in.password):
        raise Unauthorized("Sign in, or register yourself with a username and password")
    if actor is not None and actor.role not in (Role.ADMIN, Role.RECRUITER):
        raise Forbidden("Workers are registered by themselves, recruiters or admins")
    if (worker_in.username is None) != (worker_in.password is None):
        raise Unprocessable("A login needs both username and password", [])
    worker_id = worker_in.worker_id or new_id("w")
    # hashed before the transaction begins: it takes long, and on SQLite a write
    # transaction holds the database's write lock
    hashed = passwords.hash(worker_in.password) if worker_in.password else None
    digest = request_hash(worker_in, exclude={"worker_id", "password"})
    existing = db_session.get(Worker, worker_id)
    if is_repeat(existing, digest, f"Worker {worker_id}"):
        return existing  # type: ignore[return-value]
    same_passport = db_session.scalar(select(Worker.id).where(
        Worker.citizenship == worker_in.citizenship,
        Worker.passport_number == worker_in.passport_number))
    if same_passport is not None:
        raise Conflict("A worker with this passport number is registered already")
    profile = ev.WorkerProfile.model_validate(worker_in.model_dump(include=set(PROFILE_FIELDS)))
    row = Worker(id=worker_id, full_name=worker_in.full_name,
                 date_of_birth=worker_in.date_of_birth,
                 passport_number=worker_in.passport_number, phone=worker_in.phone,
                 email=str(worker_in.email) if worker_in.email else None,
                 region=worker_in.region, citizenship=worker_in.citizenship,
                 profile=profile.model_dump(mode="json", exclude=KEPT_IN_COLUMNS),
                 request_hash=digest, created_by=actor.user_id if actor else None)
    db_session.add(row)
    if worker_in.username and worker_in.password:
        users.create(db_session=db_session, passwords=passwords, password_hash=hashed,
                     user_in=UserCreate(username=worker_in.username,
                                        password=worker_in.password, role=Role.WORKER,
                                        worker_id=worker_id))
    outbox.add(db_session=db_session,
               event=ev.WorkerRegistered(worker_id=worker_id, **profile.model_dump()))
    db_session.commit()
    return row


def update(*, db_session: Session, worker_id: str, changes: WorkerUpdate) -> Worker:
    row = get(db_session=db_session, worker_id=worker_id)
    if row.status == WorkerStatus.ERASED:
        raise Conflict("This worker's data was erased")
    given = changes.model_dump(exclude_unset=True)
    for field in ("full_name", "phone", "region"):
        if field in given:
            setattr(row, field, given[field])
    if "email" in given:
        row.email = str(given["email"]) if given["email"] else None
    profile_changes = {k: v for k, v in given.items() if k in PROFILE_FIELDS}
    if profile_changes:
        merged: dict[str, Any] = {**row.profile, "citizenship": row.citizenship,
                                  "date_of_birth": row.date_of_birth, **profile_changes}
        try:
            profile = ev.WorkerProfile.model_validate(merged)
        except ValidationError as exc:
            raise Unprocessable("The profile is invalid", field_errors(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])) from None
        new_profile = profile.model_dump(mode="json", exclude=KEPT_IN_COLUMNS)
        if new_profile != row.profile:
            row.profile = new_profile
            outbox.add(db_session=db_session,
                       event=ev.WorkerProfileUpdated(worker_id=row.id, **profile.model_dump()))
    db_session.commit()
    return row


def erase(*, db_session: Session, worker_id: str) -> Worker:
    """Remove personal data and the login, withdraw the worker from matching; keep
    the pseudonymous id so matches and placements still add up, and only pseudonymous
    facts in every stored copy of the worker's events (see :func:`erase_traces`)."""
    row = get(db_session=db_session, worker_id=worker_id)
    if row.status == WorkerStatus.ERASED:
        return row
    for field in PERSONAL:
        setattr(row, field, None)
    row.profile = {}
    row.status = WorkerStatus.ERASED.value
    row.erased_at = utcnow()
    db_session.execute(delete(User).where(User.worker_id == worker_id))
    erase_traces(db_session=db_session, worker_id=worker_id)
    outbox.add(db_session=db_session, event=ev.WorkerErased(worker_id=worker_id))
    db_session.commit()
    return row


def erase_traces(*, db_session: Session, worker_id: str) -> None:
    """Everything else the gateway stored about an erased worker keeps only
    pseudonymous facts: the timeline, the outbox rows of its events, return
    registrations, and the free texts of its matches, placements and triggers."""
    timeline.erase(db_session=db_session, worker_id=worker_id)
    _erase_outbox(db_session, worker_id)
    for ret in db_session.scalars(select(ReturnRegistration).where(
            ReturnRegistration.worker_id == worker_id)):
        ret.body = pseudonymous(ret.body)
    for placement in db_session.scalars(select(Placement).where(
            Placement.worker_id == worker_id)):
        placement.border_crossing_point = None
    for match in db_session.scalars(select(Match).where(Match.worker_id == worker_id)):
        match.reasons = []
        if match.status == MatchStatus.REJECTED:  # the recruiter's free text
            match.outcome_reason = None
    for trigger in db_session.scalars(select(Trigger).where(Trigger.worker_id == worker_id)):
        trigger.reason, trigger.note = ERASED_REASON, None


def _erase_outbox(db_session: Session, worker_id: str) -> None:
    """Published rows are only a record of what was sent: they keep the pseudonymous
    fields. A row not yet published goes out with only those, or not at all when
    that would not be a valid event (a registration or profile the erasure event
    right behind it supersedes)."""
    rows = db_session.scalars(select(OutboxRecord).where(or_(
        OutboxRecord.key == worker_id,
        OutboxRecord.value.contains(f'"worker_id":"{worker_id}"', autoescape=True))))
    classes = by_type()
    for record in rows:
        data = json.loads(record.value)
        if not isinstance(data, dict) or data.get("worker_id") != worker_id:
            continue
        kept = pseudonymous(data)
        if kept == data:
            continue
        if record.published_at is not None:
            record.value = json.dumps(kept, separators=(",", ":"))
            continue
        cls = classes.get(record.event_type)
        try:
            event = cls.model_validate(kept) if cls is not None else None
        except ValidationError:
            event = None
        if event is None:
            db_session.delete(record)
        else:
            record.value = event.model_dump_json()


def name_of(*, db_session: Session, worker_id: str) -> str | None:
    row = db_session.get(Worker, worker_id)
    return row.full_name if row is not None else None
