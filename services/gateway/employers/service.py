"""Employer commands and queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.events import employers as ev
from services.gateway.database.idempotent import is_repeat, new_id, request_hash
from services.gateway.employers.models import Employer, EmployerCreate, EmployerRead, EmployerStatus
from services.gateway.errors import NotFound
from services.gateway.outbox import service as outbox
from services.gateway.pagination import paged


def get(*, db_session: Session, employer_id: str) -> Employer:
    row = db_session.get(Employer, employer_id)
    if row is None:
        raise NotFound(f"No employer {employer_id}")
    return row


def read(row: Employer) -> EmployerRead:
    return EmployerRead(employer_id=row.id, name=row.name, country=row.country,
                        registration_number=row.registration_number,
                        status=EmployerStatus(row.status))


def create(*, db_session: Session, employer_in: EmployerCreate) -> Employer:
    employer_id = employer_in.employer_id or new_id("emp")
    digest = request_hash(employer_in, exclude={"employer_id"})
    existing = db_session.get(Employer, employer_id)
    if is_repeat(existing, digest, f"Employer {employer_id}"):
        return existing  # type: ignore[return-value]
    row = Employer(id=employer_id, name=employer_in.name, country=employer_in.country,
                   registration_number=employer_in.registration_number, request_hash=digest)
    db_session.add(row)
    outbox.add(db_session=db_session,
               event=ev.EmployerRegistered(employer_id=employer_id, country=employer_in.country))
    db_session.commit()
    return row


def set_status(*, db_session: Session, employer_id: str, status: EmployerStatus) -> Employer:
    row = get(db_session=db_session, employer_id=employer_id)
    if row.status != status.value:
        row.status = status.value
        event = (ev.EmployerVerified if status is EmployerStatus.VERIFIED
                 else ev.EmployerSuspended)(employer_id=employer_id)
        outbox.add(db_session=db_session, event=event)
        db_session.commit()
    return row


def list_all(*, db_session: Session, limit: int, offset: int) -> tuple[list[Employer], int]:
    return paged(db_session=db_session, query=select(Employer),
                 order_by=(Employer.created_at, Employer.id), limit=limit, offset=offset)
