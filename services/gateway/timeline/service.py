"""The worker's timeline: every event about a worker, once, in order."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.envelope import Envelope
from schemas.events.base import Event
from services.gateway.timeline.models import TimelineEntry


def note(*, db_session: Session, event: Event, envelope: Envelope) -> None:
    """Record ``event`` on its worker's timeline if it names a worker (events carry
    no personal data, so the payload is kept as it is)."""
    worker_id = getattr(event, "worker_id", None)
    if worker_id is None:
        return
    if db_session.scalar(select(TimelineEntry.seq).where(
            TimelineEntry.event_id == envelope.id)) is not None:
        return
    db_session.add(TimelineEntry(event_id=envelope.id, worker_id=worker_id,
                                 event_type=envelope.type, at=envelope.time,
                                 data=event.model_dump(mode="json")))


def for_worker(*, db_session: Session, worker_id: str, limit: int,
               offset: int) -> tuple[list[TimelineEntry], int]:
    where = TimelineEntry.worker_id == worker_id
    total = db_session.scalar(select(func.count()).select_from(TimelineEntry).where(where)) or 0
    rows = db_session.scalars(select(TimelineEntry).where(where)
                              .order_by(TimelineEntry.at, TimelineEntry.seq)
                              .limit(limit).offset(offset))
    return list(rows), total
