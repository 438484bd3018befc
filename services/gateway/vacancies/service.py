"""Vacancy commands and queries."""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, load_only

from schemas.events import vacancies as ev
from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.database.idempotent import is_repeat, new_id, request_hash
from services.gateway.employers.models import Employer
from services.gateway.errors import FieldError, Forbidden, NotFound, Unprocessable
from services.gateway.outbox import service as outbox
from services.gateway.pagination import Listing, narrowing, paged_entities, prepare
from services.gateway.vacancies.models import Vacancy, VacancyCreate, VacancyRead


def read(row: Vacancy) -> VacancyRead:
    return VacancyRead.model_validate({
        **row.body, "status": row.status, "violations": row.violations,
        "agreement_id": row.agreement_id, "positions_filled": row.positions_filled,
    })


def get(*, db_session: Session, vacancy_id: str) -> Vacancy:
    row = db_session.get(Vacancy, vacancy_id)
    if row is None:
        raise NotFound(f"No vacancy {vacancy_id}")
    return row


def headings(*, db_session: Session, vacancy_ids: set[str]) -> dict[str, tuple[Vacancy, str]]:
    """The vacancies of these ids that exist, each with its title, in one query that
    reads only the columns of :data:`HEADING`: for a page heading many vacancies (the
    review queue). In-process, 200 headings took 2.5 ms so, against 4.5 ms when
    every column but the body was read."""
    if not vacancy_ids:
        return {}
    rows = db_session.execute(_headings(), {"ids": list(vacancy_ids)})
    return {row.id: (row, title) for row, title in rows.tuples()}


#: what a heading shows of a vacancy, and its status; the rest (its body, its
#: violations, which are JSON to decode, its timestamps) is not read, and raises if used
HEADING = (Vacancy.id, Vacancy.employer_id, Vacancy.destination_country, Vacancy.isco_code,
           Vacancy.start_date, Vacancy.positions, Vacancy.positions_filled, Vacancy.verdict,
           Vacancy.closed, Vacancy.agreement_id)


@functools.cache
def _headings() -> Select[Vacancy, str]:
    """:func:`headings`' statement, built once per process with its ids bound (building
    it, with an ``IN`` of literal values, cost the review page more than running it)."""
    return (select(Vacancy, Vacancy.body["title"].as_string())
            .options(load_only(*HEADING, raiseload=True))
            .where(Vacancy.id.in_(bindparam("ids", expanding=True))))


def check_role_may_read(user: Principal) -> None:
    """Workers never read vacancies directly (they see their offers): 403 before any
    lookup, whether or not the id exists."""
    if user.role not in (Role.ADMIN, Role.RECRUITER, Role.EMPLOYER):
        raise Forbidden("Only the owning employer, recruiters and admins may see this vacancy")


def check_can_read(user: Principal, row: Vacancy) -> None:
    if user.role in (Role.ADMIN, Role.RECRUITER):
        return
    if user.role == Role.EMPLOYER and user.employer_id == row.employer_id:
        return
    raise Forbidden("Only the owning employer, recruiters and admins may see this vacancy")


def check_owner_or_admin(user: Principal, employer_id: str) -> None:
    if user.role == Role.ADMIN:
        return
    if user.role == Role.EMPLOYER and user.employer_id == employer_id:
        return
    raise Forbidden("Only the employer itself or an admin may do this")


def create(*, db_session: Session, vacancy_in: VacancyCreate, user: Principal) -> Vacancy:
    check_owner_or_admin(user, vacancy_in.employer_id)
    if db_session.get(Employer, vacancy_in.employer_id) is None:
        raise Unprocessable("Unknown employer", [FieldError(
            field="body.employer_id", message="no such employer", type="unknown_id")])
    vacancy_id = vacancy_in.vacancy_id or new_id("vac")
    digest = request_hash(vacancy_in, exclude={"vacancy_id"})
    existing = db_session.get(Vacancy, vacancy_id)
    if existing is not None:  # another employer's vacancy id is not this one's to repost
        check_owner_or_admin(user, existing.employer_id)
    if is_repeat(existing, digest, f"Vacancy {vacancy_id}"):
        return existing  # type: ignore[return-value]
    posted = ev.VacancyPosted.model_validate(
        {**vacancy_in.model_dump(mode="json"), "vacancy_id": vacancy_id})
    row = Vacancy(id=vacancy_id, employer_id=posted.employer_id,
                  destination_country=posted.destination_country, isco_code=posted.isco_code,
                  start_date=posted.start_date, positions=posted.positions,
                  body=posted.model_dump(mode="json"), request_hash=digest)
    db_session.add(row)
    outbox.add(db_session=db_session, event=posted)
    db_session.commit()
    return row


def close(*, db_session: Session, vacancy_id: str, user: Principal) -> Vacancy:
    if user.role not in (Role.ADMIN, Role.EMPLOYER):
        raise Forbidden("Only the employer itself or an admin may do this")
    row = get(db_session=db_session, vacancy_id=vacancy_id)
    check_owner_or_admin(user, row.employer_id)
    if not row.closed:
        row.closed = True
        outbox.add(db_session=db_session,
                   event=ev.VacancyClosed(vacancy_id=row.id, employer_id=row.employer_id))
        db_session.commit()
    return row


def list_for(*, db_session: Session, user: Principal, employer_id: str | None, limit: int,
             offset: int) -> tuple[list[Vacancy], int]:
    if user.role == Role.EMPLOYER:
        if user.employer_id is None:  # never unscoped: a missing filter would list all
            raise Forbidden("This login belongs to no employer")
        if employer_id not in (None, user.employer_id):
            raise Forbidden("An employer sees only its own vacancies")
        employer_id = user.employer_id
    elif user.role not in (Role.ADMIN, Role.RECRUITER):
        raise Forbidden("Workers see vacancies through their matches")
    names, values = narrowing(employer_id=employer_id)
    return paged_entities(db_session=db_session, prepared=_listing(names), values=values,
                          limit=limit, offset=offset)


@functools.cache
def _listing(narrowed_by: tuple[str, ...]) -> Listing:
    """Vacancies oldest first, narrowed by these filters (prepared once per combination:
    ``pagination.prepare``)."""
    return prepare(select(Vacancy), (Vacancy.created_at, Vacancy.id),
                   [getattr(Vacancy, name) for name in narrowed_by])
