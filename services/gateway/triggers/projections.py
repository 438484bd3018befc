"""Folding the tracker's triggers into ``triggers``."""

from __future__ import annotations

from schemas.codec import Decoded
from schemas.events import triggers as ev
from services.gateway.privacy import ERASED_REASON
from services.gateway.projections.fold import Fold
from services.gateway.stream.models import ChangeKind
from services.gateway.triggers.models import Trigger


def on_fired(fold: Fold, decoded: Decoded) -> None:
    """A trigger of a return that closed no placement has no ``placement_id``; one that
    arrives after its worker was erased keeps no reason (it may quote the worker). A
    trigger already there is left as it is (a recruiter may have completed it)."""
    event = decoded.event
    assert isinstance(event, ev.TriggerFired)
    fold.insert_missing(Trigger, {
        "id": event.trigger_id, "worker_id": event.worker_id,
        "placement_id": event.placement_id, "kind": event.kind.value, "cause": event.cause,
        "reason": ERASED_REASON if fold.erased(event.worker_id) else event.reason,
        "due_date": event.due_date, "fired_at": decoded.envelope.time})
    fold.changed(ChangeKind.TRIGGER, event.trigger_id, "open", worker_id=event.worker_id)


PROJECTIONS = {ev.TriggerFired: on_fired}
