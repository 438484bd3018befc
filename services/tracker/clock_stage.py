"""The clock (SPEC 3.6): the latest tick seen is "today"; a tick not later than it
changes nothing. A tick that moves the clock forward is copied to every partition
of the tracker's tick topic, so every placement shard sees every tick.

State key: ``today`` (ISO date)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import cast

from eventbus.handlers import Context, HandlerTable, Output, StateTx
from schemas.codec import Decoded
from schemas.envelope import derived_event_id
from schemas.events.clock import ClockTicked
from services.tracker.domain.clock import advance

TODAY = "today"


class ClockStage:
    def __init__(self, ticks_topic: str, partitions: int) -> None:
        self.ticks_topic = ticks_topic
        self.partitions = partitions
        self.handle = HandlerTable({ClockTicked: self._on_tick})

    def _on_tick(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(ClockTicked, decoded.event)
        seen = tx.get(TODAY)
        today = advance(date.fromisoformat(seen) if seen else None, event.date)
        if today is None:
            return
        tx.set(TODAY, today.isoformat())
        event_id = derived_event_id("tick", today.isoformat())
        for partition in range(self.partitions):
            yield Output(self.ticks_topic, event, event_id, partition=partition)
