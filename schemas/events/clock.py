"""Time as events (SPEC 3.6): one tick a day, or any later date in a test deployment."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from schemas.events.base import Event


class TickSource(StrEnum):
    TRACKER = "tracker"
    ADMIN = "admin"


class ClockTicked(Event):
    type = "circular.clock.ticked"
    key_field = "clock"
    clock: str = "clock"
    date: date
    source: TickSource
