"""Ticks seen on the clock topic move the gateway's today forward."""

from __future__ import annotations

from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.events.clock import ClockTicked
from services.gateway.clock import service


def on_tick(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ClockTicked)
    service.advance(db_session=session, to=event.date)


PROJECTIONS = {ClockTicked: on_tick}
