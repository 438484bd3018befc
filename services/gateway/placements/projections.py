"""Folding the tracker's placement events into ``placements`` and ``returns``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.events import placements as ev
from services.gateway.placements.models import Placement, ReturnRegistration, ReturnStatus


def on_started(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.PlacementStarted)
    row = session.get(Placement, event.placement_id)
    if row is None:
        row = Placement(id=event.placement_id, match_id=event.match_id,
                        worker_id=event.worker_id, departure_date=event.departure_date,
                        status="abroad", request_hash="")
        session.add(row)
    row.employer_id, row.agreement_id = event.employer_id, event.agreement_id
    row.destination_country, row.isco_code = event.destination_country, event.isco_code
    row.departure_date = event.departure_date
    row.expected_return_date = event.expected_return_date
    if row.status == "pending":
        row.status = ev.PlacementStatus.ABROAD.value


def on_overdue(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.PlacementOverdue)
    row = session.get(Placement, event.placement_id)
    if row is not None and row.status != ev.PlacementStatus.RETURNED:
        row.status = ev.PlacementStatus.OVERDUE.value
        row.overdue_since = event.overdue_since


def on_returned(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.PlacementReturned)
    row = session.get(Placement, event.placement_id)
    if row is not None:
        row.status = ev.PlacementStatus.RETURNED.value
        row.return_date = event.return_date
    registration = session.get(ReturnRegistration, event.return_id)
    if registration is not None:
        registration.status = ReturnStatus.MATCHED.value
        registration.match_id = event.match_id


def on_unmatched(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.ReturnUnmatched)
    registration = session.get(ReturnRegistration, event.return_id)
    if registration is not None:
        registration.status = ReturnStatus.UNMATCHED.value
        registration.problem = event.reason


def on_reminder(session: Session, decoded: Decoded) -> None:
    """Reminders only go on the worker's timeline (recorded for every event)."""


PROJECTIONS = {
    ev.PlacementStarted: on_started,
    ev.PlacementOverdue: on_overdue,
    ev.PlacementReturned: on_returned,
    ev.ReturnUnmatched: on_unmatched,
    ev.ReturnReminderDue: on_reminder,
}
