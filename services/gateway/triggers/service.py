"""Reintegration triggers: listing for each party, completion by recruiters."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.events import triggers as ev
from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.database.core import utcnow
from services.gateway.errors import Conflict, Forbidden, NotFound
from services.gateway.outbox import service as outbox
from services.gateway.pagination import paged
from services.gateway.triggers.models import Trigger, TriggerComplete, TriggerRead, TriggerStatus


def read(row: Trigger) -> TriggerRead:
    return TriggerRead(trigger_id=row.id, worker_id=row.worker_id, placement_id=row.placement_id,
                       kind=ev.TriggerKind(row.kind), reason=row.reason, due_date=row.due_date,
                       status=TriggerStatus(row.status),
                       outcome=ev.Outcome(row.outcome) if row.outcome else None)


def listing(*, db_session: Session, user: Principal, worker_id: str | None,
            kind: ev.TriggerKind | None, status: TriggerStatus | None, limit: int,
            offset: int) -> tuple[list[TriggerRead], int]:
    if user.role == Role.WORKER:
        if worker_id not in (None, user.worker_id):
            raise Forbidden("A worker sees only its own triggers")
        worker_id = user.worker_id
    elif user.role not in (Role.ADMIN, Role.RECRUITER):
        raise Forbidden("Only the worker, recruiters and admins may see triggers")
    query = select(Trigger)
    if worker_id is not None:
        query = query.where(Trigger.worker_id == worker_id)
    if kind is not None:
        query = query.where(Trigger.kind == kind.value)
    if status is not None:
        query = query.where(Trigger.status == status.value)
    rows, total = paged(db_session=db_session, query=query,
                        order_by=(Trigger.due_date, Trigger.id), limit=limit, offset=offset)
    return [read(r) for r in rows], total


def complete(*, db_session: Session, trigger_id: str, body: TriggerComplete,
             user: Principal) -> Trigger:
    row = db_session.get(Trigger, trigger_id)
    if row is None:
        raise NotFound(f"No trigger {trigger_id}")
    if row.status == TriggerStatus.COMPLETED:
        if row.outcome == body.outcome.value:
            return row
        raise Conflict(f"The trigger was completed already with outcome {row.outcome}")
    row.status = TriggerStatus.COMPLETED.value
    row.outcome = body.outcome.value
    row.note = body.note
    row.completed_by = user.user_id
    row.completed_at = utcnow()
    outbox.add(db_session=db_session, event=ev.TriggerCompleted(
        trigger_id=row.id, worker_id=row.worker_id, outcome=body.outcome,
        completed_by=user.user_id))
    db_session.commit()
    return row
