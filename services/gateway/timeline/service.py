"""The worker's timeline: every event about a worker, once, in order.

The stored copy holds no personal data (the date of birth in registrations is
dropped), and only pseudonymous facts once the worker is erased, including for
events that arrive after the erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.envelope import Envelope
from schemas.events.base import Event
from services.gateway.pagination import paged
from services.gateway.privacy import pseudonymous, without_personal
from services.gateway.projections.fold import Fold
from services.gateway.timeline.models import TimelineEntry
from services.gateway.workers.models import Worker, WorkerStatus


def stored(event: Event, *, erased: bool) -> dict[str, Any]:
    """What the timeline keeps of ``event``: no personal data; once the worker is
    erased, only pseudonymous facts."""
    data = without_personal(event.model_dump(mode="json"))
    return pseudonymous(data) if erased else data


def note(*, db_session: Session, event: Event, envelope: Envelope) -> None:
    """Record ``event`` on its worker's timeline if it names a worker. For the outbox,
    whose events are encoded just before (a new envelope id, so no entry has it yet).
    Nothing is flushed here: the caller's writes go to the database together when it
    commits, so on SQLite its write lock is taken then and held only for them."""
    worker_id = getattr(event, "worker_id", None)
    if worker_id is None:
        return
    data = stored(event, erased=_erased(db_session, worker_id))
    db_session.add(TimelineEntry(event_id=envelope.id, worker_id=worker_id,
                                 event_type=envelope.type, at=envelope.time, data=data))


def _erased(db_session: Session, worker_id: str) -> bool:
    """Whether the worker is erased, without flushing the session: one registered in
    this transaction (pending) is not; one loaded in it is as it stands there."""
    if any(isinstance(o, Worker) and o.id == worker_id for o in db_session.new):
        return False
    with db_session.no_autoflush:
        worker = db_session.get(Worker, worker_id)
    return worker is not None and worker.status == WorkerStatus.ERASED


def note_folded(fold: Fold, decoded: Decoded) -> None:
    """:func:`note` for the projector: the entry joins the chunk's other writes (an
    entry with the same event id already there is left as it is)."""
    event, envelope = decoded.event, decoded.envelope
    worker_id = getattr(event, "worker_id", None)
    if worker_id is None:
        return
    fold.insert_missing(TimelineEntry, {
        "event_id": envelope.id, "worker_id": worker_id, "event_type": envelope.type,
        "at": envelope.time, "data": stored(event, erased=fold.erased(worker_id))},
        on=("event_id",))


def erase(*, db_session: Session, worker_id: str) -> None:
    """Keep only pseudonymous facts on an erased worker's timeline."""
    for row in db_session.scalars(select(TimelineEntry).where(
            TimelineEntry.worker_id == worker_id)):
        kept = pseudonymous(row.data)
        if kept != row.data:
            row.data = kept


def for_worker(*, db_session: Session, worker_id: str, limit: int,
               offset: int) -> tuple[list[TimelineEntry], int]:
    return paged(db_session=db_session,
                 query=select(TimelineEntry).where(TimelineEntry.worker_id == worker_id),
                 order_by=(TimelineEntry.at, TimelineEntry.seq), limit=limit, offset=offset)
