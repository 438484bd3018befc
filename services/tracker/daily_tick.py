"""The daily tick: the group leader publishes the real date once a day. Its event id
follows from the date, so a second leader or a restart never makes two ticks of
one day count twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import faust

from schemas.codec import encode
from schemas.envelope import derived_event_id
from schemas.events.clock import ClockTicked, TickSource

log = logging.getLogger(__name__)


def daily_tick(app: faust.App, clock_topic: str) -> Callable[[], Awaitable[None]]:
    last: dict[str, str] = {}

    async def tick() -> None:
        today = datetime.now(UTC).date()
        if last.get("date") == today.isoformat():
            return
        enc = encode(ClockTicked(date=today, source=TickSource.TRACKER), source="/circular/tracker",
                     event_id=derived_event_id("daily-tick", today.isoformat()))
        await app.producer.send(clock_topic, enc.key, enc.value, None, None, enc.headers)
        last["date"] = today.isoformat()
        log.info("published the daily clock tick", extra={"date": today.isoformat()})

    return tick
