"""The dates a placement lives by (SPEC 3.6), calendar-correct at month ends.

- expected return = departure + contract months (31 January + 1 month = 28/29 February)
- overdue from   = the first day after expected return + grace days
- reminder on    = 30 days before the expected return
- re-entry from  = return date + the agreement's cooldown months
- a return is *early* when it is more than 30 days before the expected return
  (on expected - 31 days or before), *late* when after expected + grace, and
  *on time* otherwise
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum

EARLY_DAYS = 30
REMINDER_DAYS = 30


class Timing(StrEnum):
    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"


def add_months(day: date, months: int) -> date:
    """``months`` calendar months later, on the same day of the month or the month's
    last day when it is shorter (as ``dateutil.relativedelta``, at a tenth the cost)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expected_return(departure: date, contract_months: int) -> date:
    return add_months(departure, contract_months)


def overdue_from(expected: date, grace_days: int) -> date:
    return expected + timedelta(days=grace_days + 1)


def trafficking_referral_from(expected: date, grace_days: int) -> date:
    """Still abroad past twice the grace period: referred from this day."""
    return expected + timedelta(days=2 * grace_days + 1)


def reminder_on(expected: date) -> date:
    return expected - timedelta(days=REMINDER_DAYS)


def reentry_from(returned: date, cooldown_months: int) -> date:
    return add_months(returned, cooldown_months)


def timing(returned: date, expected: date, grace_days: int) -> Timing:
    if returned < expected - timedelta(days=EARLY_DAYS):
        return Timing.EARLY
    if returned > expected + timedelta(days=grace_days):
        return Timing.LATE
    return Timing.ON_TIME


def days_early(returned: date, expected: date) -> int:
    return (expected - returned).days
