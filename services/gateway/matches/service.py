"""Match reviews and responses, and what each party may see of matches.

The matcher is the authority on quota and positions; the gateway refuses up front
(409) what its read model already shows to be impossible, counting approvals it
has asked for and not yet heard back about."""

from __future__ import annotations

import functools

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, Select, String, bindparam, func, select
from sqlalchemy.orm import Session

from schemas.events import matches as ev
from schemas.events.matches import HOLDS_PLACE, Decision, MatchStatus, market_key
from schemas.events.placements import PlacementStatus
from services.gateway.agreements.models import Agreement, QuotaUsage
from services.gateway.audit import service as audit
from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.employers.models import Employer
from services.gateway.errors import Conflict, Forbidden, NotFound
from services.gateway.matches.models import Match, MatchRead
from services.gateway.outbox import service as outbox
from services.gateway.pagination import Listing, narrowing, paged_rows, prepare
from services.gateway.placements.models import Placement
from services.gateway.vacancies.models import Vacancy, VacancyStatus
from services.gateway.workers import service as workers

#: what an employer sees of the matches for its vacancies: approved and later
EMPLOYER_VISIBLE = (MatchStatus.APPROVED, MatchStatus.ACCEPTED, MatchStatus.DECLINED)
#: the stored statuses that hold a place (the quota policy shared with the matcher)
_HOLDING = sorted(s.value for s in HOLDS_PLACE)
#: a listed match's columns, named as :class:`MatchRead`'s fields: a page of matches is
#: read as rows and validated in one call, without building an ORM object each (the
#: API's most asked list: docs/performance.md, the gateway's profile)
SHOWN = (Match.id.label("match_id"), Match.vacancy_id, Match.worker_id, Match.employer_id,
         Match.agreement_id, Match.destination_country, Match.isco_code, Match.score,
         Match.reasons, Match.status, Match.pending, Match.outcome_reason)
MATCHES = TypeAdapter(list[MatchRead])


def get(*, db_session: Session, match_id: str) -> Match:
    row = db_session.get(Match, match_id)
    if row is None:
        raise NotFound(f"No match {match_id}")
    return row


def check_can_see(*, db_session: Session, user: Principal, row: Match) -> None:
    if db_session.scalar(visible_to(user).where(Match.id == row.id)) is None:
        raise Forbidden("This match is another party's, or not shown to you before a "
                        "recruiter approved it")


def check_filters(*, db_session: Session, user: Principal, vacancy_id: str | None,
                  worker_id: str | None) -> None:
    """A filter may narrow what a party sees, never name another party."""
    if user.role == Role.WORKER and worker_id not in (None, user.worker_id):
        raise Forbidden("A worker sees only its own matches")
    if user.role == Role.EMPLOYER and vacancy_id is not None:
        vacancy = db_session.get(Vacancy, vacancy_id)
        if vacancy is not None and vacancy.employer_id != user.employer_id:
            raise Forbidden("An employer sees only the matches of its own vacancies")


def visible_to(user: Principal) -> Select[Match]:
    return select(Match).where(*_shown_to(user.role)).params(party=_party(user))


def _shown_to(role: str) -> list[ColumnElement[bool]]:
    """Which matches ``role`` sees, the caller's own employer or worker id bound as
    ``party``: recruiters and admins all; an employer its vacancies' and a worker its
    own, approved and later or approved once (:func:`shown_to_parties`)."""
    if role in (Role.ADMIN, Role.RECRUITER):
        return []
    own = Match.employer_id if role == Role.EMPLOYER else Match.worker_id
    return [own == bindparam("party", type_=String),
            Match.status.in_([s.value for s in EMPLOYER_VISIBLE]) | Match.approved_at.is_not(None)]


def _party(user: Principal) -> str | None:
    return user.employer_id if user.role == Role.EMPLOYER else user.worker_id


def shown_to_parties(status: str, approved: bool) -> bool:
    """:func:`visible_to`'s rule for one match, for its employer and worker: approved
    and later, or approved once (``approved_at`` set) whatever came after."""
    return status in {s.value for s in EMPLOYER_VISIBLE} or approved


def listing(*, db_session: Session, user: Principal, status: MatchStatus | None,
            vacancy_id: str | None, worker_id: str | None, limit: int, offset: int,
            path: str) -> tuple[list[MatchRead], int]:
    check_filters(db_session=db_session, user=user, vacancy_id=vacancy_id,
                  worker_id=worker_id)
    names, values = narrowing(status=status.value if status is not None else None,
                              vacancy_id=vacancy_id, worker_id=worker_id)
    rows, total = paged_rows(db_session=db_session, prepared=_listing(user.role, names),
                             values={**values, "party": _party(user)}, limit=limit,
                             offset=offset)
    shown = [row._asdict() for row in rows]
    for match in shown:
        match["candidate_name"] = candidate_name(
            db_session=db_session, user=user, worker_id=match["worker_id"],
            employer_id=match["employer_id"], status=match["status"], path=path)
    return MATCHES.validate_python(shown), total


@functools.cache
def _listing(role: str, narrowed_by: tuple[str, ...]) -> Listing:
    """What ``role`` sees, narrowed by these filters, best score first."""
    return prepare(select(*SHOWN).where(*_shown_to(role)), (Match.score.desc(), Match.id),
                   [getattr(Match, name) for name in narrowed_by])


def read(*, db_session: Session, row: Match, user: Principal, path: str) -> MatchRead:
    name = candidate_name(db_session=db_session, user=user, worker_id=row.worker_id,
                          employer_id=row.employer_id, status=row.status, path=path)
    return MatchRead(match_id=row.id, vacancy_id=row.vacancy_id, worker_id=row.worker_id,
                     employer_id=row.employer_id, agreement_id=row.agreement_id,
                     destination_country=row.destination_country, isco_code=row.isco_code,
                     score=row.score, reasons=row.reasons, status=MatchStatus(row.status),
                     pending=row.pending, outcome_reason=row.outcome_reason,
                     candidate_name=name)


def candidate_name(*, db_session: Session, user: Principal, worker_id: str, employer_id: str,
                   status: str, path: str) -> str | None:
    """The worker's name for the employer whose match the worker accepted (recorded in
    the audit log as a read of personal data); None for anyone else."""
    if (user.role != Role.EMPLOYER or status != MatchStatus.ACCEPTED
            or employer_id != user.employer_id):
        return None
    name = workers.name_of(db_session=db_session, worker_id=worker_id)
    if name is not None:
        audit.record_read(db_session=db_session, actor=user, worker_id=worker_id,
                          fields=["full_name"], path=path)
        db_session.commit()
    return name


def _places_taken(db_session: Session, where: object) -> int:
    held = select(func.count()).select_from(Match).where(
        where, Match.status.in_(_HOLDING))  # type: ignore[arg-type]
    asked = select(func.count()).select_from(Match).where(
        where, Match.status == MatchStatus.PROPOSED.value,  # type: ignore[arg-type]
        Match.pending == Decision.APPROVE.value)
    return (db_session.scalar(held) or 0) + (db_session.scalar(asked) or 0)


def check_room(*, db_session: Session, row: Match, vacancy: Vacancy) -> None:
    """409 when the vacancy's positions or the agreement's quota for the occupation and
    the vacancy's start year are used up, counting approvals still in flight."""
    if _places_taken(db_session, Match.vacancy_id == vacancy.id) >= vacancy.positions:
        raise Conflict("The vacancy's positions are used up")
    agreement = db_session.get(Agreement, row.agreement_id)
    if agreement is None:
        return
    occupation = next((o for o in agreement.terms["occupations"]
                       if o["isco_code"] == row.isco_code), None)
    if occupation is None:
        return
    year = vacancy.start_date.year
    usage = db_session.get(QuotaUsage, (row.agreement_id, row.isco_code, year))
    in_flight = db_session.scalar(
        select(func.count()).select_from(Match).join(Vacancy, Vacancy.id == Match.vacancy_id)
        .where(Match.agreement_id == row.agreement_id, Match.isco_code == row.isco_code,
               func.extract("year", Vacancy.start_date) == year,
               Match.status == MatchStatus.PROPOSED.value,
               Match.pending == Decision.APPROVE.value)) or 0
    used = max(usage.used if usage else 0, _quota_held(db_session, row, year)) + in_flight
    if used >= int(occupation["annual_quota"]):
        raise Conflict(f"The {year} quota for {row.isco_code} under {row.agreement_id} "
                       "is used up")


def _quota_held(db_session: Session, row: Match, year: int) -> int:
    return db_session.scalar(
        select(func.count()).select_from(Match).join(Vacancy, Vacancy.id == Match.vacancy_id)
        .where(Match.agreement_id == row.agreement_id, Match.isco_code == row.isco_code,
               func.extract("year", Vacancy.start_date) == year,
               Match.status.in_(_HOLDING))) or 0


def review(*, db_session: Session, match_id: str, user: Principal, decision: Decision,
           reason: str | None) -> Match:
    row = get(db_session=db_session, match_id=match_id)
    if row.status != MatchStatus.PROPOSED or row.pending is not None:
        why = f" ({row.outcome_reason})" if row.outcome_reason and not row.pending else ""
        raise Conflict(f"The match is {row.pending or row.status}{why}; only a proposed "
                       "match can be reviewed")
    vacancy = db_session.get(Vacancy, row.vacancy_id)
    if decision is Decision.APPROVE:
        if vacancy is None or vacancy.status is not VacancyStatus.OPEN:
            raise Conflict("The vacancy is not open")
        check_room(db_session=db_session, row=row, vacancy=vacancy)
    row.pending = decision.value
    outbox.add(db_session=db_session, event=ev.MatchReviewed(
        match_id=row.id, vacancy_id=row.vacancy_id, worker_id=row.worker_id,
        market=market_key(row.destination_country, row.isco_code), decision=decision,
        reason=reason, reviewed_by=user.user_id))
    db_session.commit()
    return row


def respond(*, db_session: Session, match_id: str, user: Principal, decision: Decision) -> Match:
    if user.role != Role.WORKER:
        raise Forbidden("Only the worker the match is for may answer it")
    row = get(db_session=db_session, match_id=match_id)
    if user.worker_id != row.worker_id:
        raise Forbidden("Only the worker the match is for may answer it")
    if row.status != MatchStatus.APPROVED or row.pending is not None:
        raise Conflict(f"The match is {row.pending or row.status}; only an approved offer "
                       "can be accepted or declined")
    if decision is Decision.ACCEPT:
        returned = select(Placement.match_id).where(
            Placement.status == PlacementStatus.RETURNED.value)
        other = db_session.scalar(select(Match.id).where(
            Match.worker_id == row.worker_id, Match.id != row.id,
            (Match.status == MatchStatus.ACCEPTED.value)
            | (Match.pending == Decision.ACCEPT.value),
            Match.id.not_in(returned)))
        if other is not None:
            raise Conflict("You hold another accepted offer that has not ended yet")
    row.pending = decision.value
    outbox.add(db_session=db_session, event=ev.MatchResponded(
        match_id=row.id, vacancy_id=row.vacancy_id, worker_id=row.worker_id,
        market=market_key(row.destination_country, row.isco_code), decision=decision))
    db_session.commit()
    return row


def offered_terms(*, db_session: Session, user: Principal,
                  items: list[MatchRead]) -> dict[str, dict[str, object]]:
    """The terms of the vacancies behind matches ``user`` may see (as ``listing`` gave
    them): what a worker decides an offer on (title, employer, wage, start, length,
    housing). Nothing for a match the user may not see."""
    visible = {m.vacancy_id for m in items}
    if not visible:
        return {}
    rows = db_session.execute(
        select(Vacancy.id, Vacancy.body, Employer.name)
        .join(Employer, Employer.id == Vacancy.employer_id, isouter=True)
        .where(Vacancy.id.in_(visible))).all()
    return {vid: {**{k: body.get(k) for k in TERMS}, "employer_name": name}
            for vid, body, name in rows}


#: a vacancy's terms as its worker sees them with the offer
TERMS = ("title", "monthly_wage", "start_date", "contract_months", "housing_provided")
