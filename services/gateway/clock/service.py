"""The gateway's "today" (SPEC 3.6): the latest of the real date and every tick
seen or published. Departures and returns dated after it are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from services.gateway.clock.models import ClockState

KEY = "today"


def real_today() -> date:
    return datetime.now(UTC).date()


def today(*, db_session: Session) -> date:
    row = db_session.get(ClockState, KEY)
    return max(real_today(), row.today) if row else real_today()


def ticked(*, db_session: Session) -> date | None:
    row = db_session.get(ClockState, KEY)
    return row.today if row else None


def advance(*, db_session: Session, to: date) -> bool:
    """Move the latest tick forward to ``to``; False (and nothing changes) when ``to``
    is not later than the latest tick."""
    row = db_session.get(ClockState, KEY)
    if row is None:
        db_session.add(ClockState(name=KEY, today=to))
        return True
    if to <= row.today:
        return False
    row.today = to
    return True
