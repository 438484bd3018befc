"""Ticks seen on the clock topic move the gateway's today forward."""

from __future__ import annotations

from schemas.codec import Decoded
from schemas.events.clock import ClockTicked
from services.gateway.clock.models import ClockState
from services.gateway.clock.service import KEY
from services.gateway.projections.fold import Fold


def on_tick(fold: Fold, decoded: Decoded) -> None:
    """The latest tick moves forward to the event's date, never back."""
    event = decoded.event
    assert isinstance(event, ClockTicked)
    row = fold.get(ClockState, KEY)
    if row is None or event.date > row["today"]:
        fold.put(ClockState, {"name": KEY, "today": event.date})


PROJECTIONS = {ClockTicked: on_tick}
