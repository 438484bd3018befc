"""Folding the tracker's triggers into ``triggers``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.events import triggers as ev
from services.gateway.privacy import ERASED_REASON
from services.gateway.triggers.models import Trigger
from services.gateway.workers.models import Worker, WorkerStatus


def on_fired(session: Session, decoded: Decoded) -> None:
    """A trigger of a return that closed no placement has no ``placement_id``; one that
    arrives after its worker was erased keeps no reason (it may quote the worker)."""
    event = decoded.event
    assert isinstance(event, ev.TriggerFired)
    if session.get(Trigger, event.trigger_id) is not None:
        return
    worker = session.get(Worker, event.worker_id)
    erased = worker is not None and worker.status == WorkerStatus.ERASED
    session.add(Trigger(id=event.trigger_id, worker_id=event.worker_id,
                        placement_id=event.placement_id,
                        kind=event.kind.value, cause=event.cause,
                        reason=ERASED_REASON if erased else event.reason,
                        due_date=event.due_date, fired_at=decoded.envelope.time))


PROJECTIONS = {ev.TriggerFired: on_fired}
