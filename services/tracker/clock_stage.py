"""The clock: the latest tick seen is "today"; earlier ticks change nothing.

State key: ``today`` (ISO date)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from eventbus.stage import Context, Output, StateTx
from schemas.codec import Decoded
from schemas.events.clock import ClockTicked
from services.tracker.domain.clock import advance

TODAY = "today"


def handle(tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
    event = decoded.event
    if not isinstance(event, ClockTicked):
        return
    seen = tx.get(TODAY)
    today = advance(date.fromisoformat(seen) if seen else None, event.date)
    if today is not None:
        tx.set(TODAY, today.isoformat())
    yield from ()
