"""Time as events (SPEC 3.6): the clock never goes backwards."""

from __future__ import annotations

from datetime import date


def advance(today: date | None, tick: date) -> date | None:
    """The new "today" after a tick, or None when the tick changes nothing (it is not
    later than the latest tick seen)."""
    if today is not None and tick <= today:
        return None
    return tick
