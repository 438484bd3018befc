"""Input rules the event contracts do not state, applied to API bodies only: money a
worker is paid is more than zero, and dates lie in a range that makes sense for
the field (a birth date in the past and not before 1900; the dates of agreements,
vacancies, departures, returns and ticks between 2000 and 2199)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from schemas.codes import Money

EARLIEST_BIRTH = date(1900, 1, 1)
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def _in_the_past(value: date) -> date:
    if value >= datetime.now(UTC).date():
        raise ValueError("must be in the past")
    return value


BirthDate = Annotated[
    date, Field(ge=EARLIEST_BIRTH, description="in the past, not before 1900-01-01"),
    AfterValidator(_in_the_past)]
CycleDate = Annotated[
    date, Field(ge=EARLIEST, le=LATEST, description="between 2000-01-01 and 2199-12-31")]


class Wage(Money):
    """An amount a worker is paid: more than zero."""

    amount: Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]
