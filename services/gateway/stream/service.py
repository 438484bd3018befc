"""Reading the change feed, and who may hear of a change: the same rules as the
reads (staff see everything; an employer what ``GET`` shows it of its own vacancies
and their matches once approved; a worker its own matches once approved, its
placements, returns and triggers). The rule for matches is the matches service's
(:func:`services.gateway.matches.service.shown_to_parties`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.database.core import utcnow
from services.gateway.matches import service as matches
from services.gateway.matches.models import Match
from services.gateway.stream.models import RETENTION, Change, ChangeKind

STAFF = frozenset({Role.ADMIN.value, Role.RECRUITER.value})
#: what a match's change says about its approval without reading the match
APPROVED_BY_STATUS = {"proposed": False, "approval_refused": False,
                      "acceptance_refused": True}


@dataclass(frozen=True)
class Seen:
    """A change as the streams send it, with whether the match's parties may see it."""

    id: int
    kind: str
    entity_id: str
    status: str
    vacancy_id: str | None
    employer_id: str | None
    worker_id: str | None
    parties: bool = True

    def data(self) -> dict[str, Any]:
        """What the event carries: ids and the status, nothing personal."""
        out: dict[str, Any] = {"kind": self.kind, "id": self.entity_id, "status": self.status}
        if self.vacancy_id is not None and self.kind != ChangeKind.VACANCY:
            out["vacancy_id"] = self.vacancy_id
        return out


def may_see(user: Principal, change: Seen) -> bool:
    if user.role in STAFF:
        return True
    if user.role == Role.EMPLOYER:
        party = change.employer_id is not None and change.employer_id == user.employer_id
    elif user.role == Role.WORKER:
        party = change.worker_id is not None and change.worker_id == user.worker_id
    else:
        return False
    return party and (change.kind != ChangeKind.MATCH or change.parties)


def read_after(session: Session, after: int, limit: int, upto: int | None = None) -> list[Seen]:
    """The changes after the id ``after`` (up to ``upto``), oldest first, at most
    ``limit``; a match's change knows whether its parties may see it."""
    query = select(Change).where(Change.id > after).order_by(Change.id).limit(limit)
    if upto is not None:
        query = query.where(Change.id <= upto)
    rows = list(session.scalars(query))
    unsure = {r.entity_id for r in rows if r.kind == ChangeKind.MATCH
              and r.status not in APPROVED_BY_STATUS
              and not matches.shown_to_parties(r.status, False)}
    approved: set[str] = set()
    if unsure:  # withdrawn or rejected: shown to the parties if it had been approved
        approved = set(session.scalars(select(Match.id).where(
            Match.id.in_(unsure), Match.approved_at.is_not(None))))
    out = []
    for r in rows:
        parties = True
        if r.kind == ChangeKind.MATCH:
            was_approved = APPROVED_BY_STATUS.get(r.status, r.entity_id in approved)
            parties = matches.shown_to_parties(r.status, was_approved)
        out.append(Seen(id=r.id, kind=r.kind, entity_id=r.entity_id, status=r.status,
                        vacancy_id=r.vacancy_id, employer_id=r.employer_id,
                        worker_id=r.worker_id, parties=parties))
    return out


def latest_id(session: Session) -> int:
    return session.scalar(select(func.max(Change.id))) or 0


def replay(session: Session, last_id: int, upto: int, limit: int) -> list[Seen] | None:
    """What a client that saw ``last_id`` missed, up to ``upto``; None when that cannot
    be told (the change it names is no longer kept, or more than ``limit`` followed
    it): the client should reload what it shows."""
    if last_id >= upto:
        return []
    if session.get(Change, last_id) is None:
        return None
    rows = read_after(session, last_id, limit + 1, upto=upto)
    return None if len(rows) > limit else rows


def prune(session: Session, now: datetime | None = None) -> int:
    """Delete the changes older than :data:`RETENTION`; returns how many."""
    cutoff = (now or utcnow()) - RETENTION
    result = session.execute(delete(Change).where(Change.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
