"""Adding events to the outbox, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schemas.codec import encode
from schemas.events.base import Event
from schemas.topics import topic_for
from services.gateway.outbox.models import OutboxRecord
from services.gateway.timeline import service as timeline

SOURCE = "/circular/gateway"


def add(*, db_session: Session, event: Event, causation_id: str | None = None) -> str:
    """Stage ``event`` for publication with the caller's transaction (and on its
    worker's timeline); returns its id. The row names the topic as the catalogue does
    (``schemas/topics.py``); the relay adds the deployment's prefix when it publishes."""
    enc = encode(event, source=SOURCE, causation_id=causation_id)
    timeline.note(db_session=db_session, event=event, envelope=enc.envelope)
    db_session.add(OutboxRecord(
        event_id=enc.envelope.id,
        event_type=event.type,
        topic=topic_for(type(event)).name,
        key=enc.key.decode(),
        value=enc.value.decode(),
        headers=[[k, v.decode()] for k, v in enc.headers],
    ))
    return enc.envelope.id


def backlog(*, db_session: Session) -> int:
    return db_session.scalar(
        select(func.count()).select_from(OutboxRecord).where(OutboxRecord.published_at.is_(None))
    ) or 0
