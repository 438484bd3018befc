"""Departures and return registrations (people record them here; the tracker
decides the placement), and what each party may see of placements."""

from __future__ import annotations

import functools
from datetime import date

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.events import placements as ev
from schemas.events.matches import MatchStatus
from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.clock import service as clock
from services.gateway.database.idempotent import is_repeat, new_id, request_hash
from services.gateway.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from services.gateway.matches.models import Match
from services.gateway.outbox import service as outbox
from services.gateway.pagination import Listing, narrowing, paged_rows, prepare
from services.gateway.placements.models import (
    DepartureCreate,
    Placement,
    PlacementRead,
    ReturnCreate,
    ReturnRead,
    ReturnRegistration,
)
from services.gateway.workers import service as workers
from services.gateway.workers.models import WorkerStatus

PENDING = "pending"
PLACEMENTS = TypeAdapter(list[PlacementRead])
RETURNS = TypeAdapter(list[ReturnRead])


def _not_after_today(db_session: Session, field: str, value: date) -> None:
    today = clock.today(db_session=db_session)
    if value > today:
        raise Unprocessable(f"{field} is after today ({today.isoformat()})", [FieldError(
            field=f"body.{field}", message=f"must not be after {today.isoformat()}",
            type="date_in_future")])


def record_departure(*, db_session: Session, body: DepartureCreate, user: Principal) -> Placement:
    match = db_session.get(Match, body.match_id)
    if match is None:
        raise NotFound(f"No match {body.match_id}")
    _not_after_today(db_session, "departure_date", body.departure_date)
    placement_id = ev.placement_id(match.id)
    digest = request_hash(body)
    existing = db_session.get(Placement, placement_id)
    if existing is not None and existing.request_hash != digest:
        raise Conflict("This match has departed already")
    if is_repeat(existing, digest, f"Departure of {match.id}"):
        return existing  # type: ignore[return-value]
    if match.status != MatchStatus.ACCEPTED:
        raise Conflict(f"The match is {match.status}; only an accepted match can depart")
    row = Placement(id=placement_id, match_id=match.id, worker_id=match.worker_id,
                    employer_id=match.employer_id, agreement_id=match.agreement_id,
                    destination_country=match.destination_country, isco_code=match.isco_code,
                    status=PENDING, departure_date=body.departure_date,
                    border_crossing_point=body.border_crossing_point, request_hash=digest)
    db_session.add(row)
    outbox.add(db_session=db_session, event=ev.DepartureRecorded(
        match_id=match.id, worker_id=match.worker_id, departure_date=body.departure_date,
        border_crossing_point=body.border_crossing_point, recorded_by=user.user_id))
    db_session.commit()
    return row


def register_return(*, db_session: Session, body: ReturnCreate,
                    user: Principal) -> ReturnRegistration:
    if user.role == Role.WORKER and user.worker_id != body.worker_id:
        raise Forbidden("A worker registers only its own return")
    if user.role not in (Role.WORKER, Role.RECRUITER):
        raise Forbidden("Returns are registered by the worker or a recruiter")
    worker = workers.get(db_session=db_session, worker_id=body.worker_id)
    if worker.status == WorkerStatus.ERASED:
        raise Conflict("This worker's data was erased")
    _not_after_today(db_session, "return_date", body.return_date)
    if body.match_id is not None:
        match = db_session.get(Match, body.match_id)
        if match is None or match.worker_id != body.worker_id:
            raise Unprocessable("The match is not this worker's", [FieldError(
                field="body.match_id", message="no such match for this worker",
                type="unknown_id")])
    return_id = new_id("ret")
    row = ReturnRegistration(id=return_id, worker_id=body.worker_id, match_id=body.match_id,
                             return_date=body.return_date, body=body.model_dump(mode="json"))
    db_session.add(row)
    outbox.add(db_session=db_session, event=ev.ReturnRegistered(
        return_id=return_id, **body.model_dump()))
    db_session.commit()
    return row


def _scope_worker(user: Principal, worker_id: str | None) -> str | None:
    if user.role in (Role.ADMIN, Role.RECRUITER):
        return worker_id
    if user.role == Role.WORKER:
        if user.worker_id is None:  # never unscoped: a missing filter would list all
            raise Forbidden("This login belongs to no worker")
        if worker_id not in (None, user.worker_id):
            raise Forbidden("A worker sees only its own records")
        return user.worker_id
    raise Forbidden("Only the worker, recruiters and admins may see this")


def list_placements(*, db_session: Session, user: Principal, status: str | None,
                    worker_id: str | None, limit: int,
                    offset: int) -> tuple[list[PlacementRead], int]:
    names, values = narrowing(status=status, worker_id=_scope_worker(user, worker_id))
    rows, total = paged_rows(db_session=db_session, prepared=_placements(names), values=values,
                             limit=limit, offset=offset)
    return PLACEMENTS.validate_python([row._asdict() for row in rows]), total


def list_returns(*, db_session: Session, user: Principal, status: str | None,
                 worker_id: str | None, limit: int, offset: int) -> tuple[list[ReturnRead], int]:
    names, values = narrowing(status=status, worker_id=_scope_worker(user, worker_id))
    rows, total = paged_rows(db_session=db_session, prepared=_returns(names), values=values,
                             limit=limit, offset=offset)
    return RETURNS.validate_python([row._asdict() for row in rows]), total


@functools.cache
def _placements(narrowed_by: tuple[str, ...]) -> Listing:
    """Placements as :class:`PlacementRead` shows them, by departure, narrowed by these
    filters (a listing prepared once per combination: ``pagination.prepare``)."""
    return prepare(select(Placement.id.label("placement_id"), Placement.match_id,
                          Placement.worker_id, Placement.status, Placement.departure_date,
                          Placement.expected_return_date, Placement.return_date),
                   (Placement.departure_date, Placement.id),
                   [getattr(Placement, name) for name in narrowed_by])


@functools.cache
def _returns(narrowed_by: tuple[str, ...]) -> Listing:
    """Return registrations as :class:`ReturnRead` shows them, oldest first."""
    return prepare(select(ReturnRegistration.id.label("return_id"), ReturnRegistration.worker_id,
                          ReturnRegistration.match_id, ReturnRegistration.return_date,
                          ReturnRegistration.status, ReturnRegistration.problem),
                   (ReturnRegistration.created_at, ReturnRegistration.id),
                   [getattr(ReturnRegistration, name) for name in narrowed_by])
