"""Folding the tracker's placement events into ``placements`` and ``returns``."""

from __future__ import annotations

from schemas.codec import Decoded
from schemas.events import placements as ev
from services.gateway.placements.models import Placement, ReturnRegistration, ReturnStatus
from services.gateway.projections.fold import Fold, Row
from services.gateway.stream.models import ChangeKind


def _placement_changed(fold: Fold, row: Row) -> None:
    """For the stream: to the worker (employers do not read placements) and staff."""
    fold.changed(ChangeKind.PLACEMENT, row["id"], row["status"], worker_id=row["worker_id"])


def _return_changed(fold: Fold, row: Row) -> None:
    fold.changed(ChangeKind.RETURN, row["id"], row["status"], worker_id=row["worker_id"])


def on_started(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.PlacementStarted)
    row = fold.get(Placement, event.placement_id)
    if row is None:
        row = {"id": event.placement_id, "match_id": event.match_id,
               "worker_id": event.worker_id, "departure_date": event.departure_date,
               "status": "abroad", "request_hash": ""}
    row.update(employer_id=event.employer_id, agreement_id=event.agreement_id,
               destination_country=event.destination_country, isco_code=event.isco_code,
               departure_date=event.departure_date,
               expected_return_date=event.expected_return_date)
    if row["status"] == "pending":
        row["status"] = ev.PlacementStatus.ABROAD.value
    fold.put(Placement, row)
    _placement_changed(fold, row)


def on_overdue(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.PlacementOverdue)
    row = fold.get(Placement, event.placement_id)
    if row is not None and row["status"] != ev.PlacementStatus.RETURNED:
        row["status"] = ev.PlacementStatus.OVERDUE.value
        row["overdue_since"] = event.overdue_since
        fold.put(Placement, row)
        _placement_changed(fold, row)


def on_returned(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.PlacementReturned)
    row = fold.get(Placement, event.placement_id)
    if row is not None:
        row["status"] = ev.PlacementStatus.RETURNED.value
        row["return_date"] = event.return_date
        fold.put(Placement, row)
        _placement_changed(fold, row)
    registration = fold.get(ReturnRegistration, event.return_id)
    if registration is not None:
        registration["status"] = ReturnStatus.MATCHED.value
        registration["match_id"] = event.match_id
        fold.put(ReturnRegistration, registration)
        _return_changed(fold, registration)


def on_unmatched(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.ReturnUnmatched)
    registration = fold.get(ReturnRegistration, event.return_id)
    if registration is not None:
        registration["status"] = ReturnStatus.UNMATCHED.value
        registration["problem"] = event.reason
        fold.put(ReturnRegistration, registration)
        _return_changed(fold, registration)


def on_reminder(fold: Fold, decoded: Decoded) -> None:
    """Reminders only go on the worker's timeline (recorded for every event)."""


PROJECTIONS = {
    ev.PlacementStarted: on_started,
    ev.PlacementOverdue: on_overdue,
    ev.PlacementReturned: on_returned,
    ev.ReturnUnmatched: on_unmatched,
    ev.ReturnReminderDue: on_reminder,
}
