"""Folding the tracker's triggers into ``triggers``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.events import triggers as ev
from services.gateway.triggers.models import Trigger


def on_fired(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.TriggerFired)
    if session.get(Trigger, event.trigger_id) is None:
        session.add(Trigger(id=event.trigger_id, worker_id=event.worker_id,
                            placement_id=event.placement_id, kind=event.kind.value,
                            cause=event.cause, reason=event.reason, due_date=event.due_date,
                            fired_at=decoded.envelope.time))


PROJECTIONS = {ev.TriggerFired: on_fired}
