"""The daily tick: the group leader publishes the real date once a day. Its event id
follows from the date, so a second leader or a restart never makes two ticks of
one day count twice; and it never publishes a date earlier than one it published
(a system clock set back changes nothing)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import faust

from schemas.codec import encode
from schemas.envelope import derived_event_id
from schemas.events.clock import ClockTicked, TickSource

log = logging.getLogger(__name__)


def utc_today() -> date:
    return datetime.now(UTC).date()


def tick_event_id(day: date) -> str:
    return derived_event_id("daily-tick", day.isoformat())


def daily_tick(app: faust.App, clock_topic: str, today: Callable[[], date] = utc_today
               ) -> Callable[[], Awaitable[None]]:
    last: list[date] = []

    async def tick() -> None:
        day = today()
        if last and day <= last[0]:
            return
        enc = encode(ClockTicked(date=day, source=TickSource.TRACKER), source="/circular/tracker",
                     event_id=tick_event_id(day))
        await app.producer.send(clock_topic, enc.key, enc.value, None, None, enc.headers)
        last[:] = [day]
        log.info("published the daily clock tick", extra={"date": day.isoformat()})

    return tick
