"""Input rules the event contracts do not state, applied to API bodies only: money a
worker is paid is more than zero, and dates lie in a range that makes sense for
the field (a birth date in the past and not before 1900; the dates of agreements,
vacancies, departures, returns and ticks between 2000 and 2199).

Each rule is stated in the OpenAPI document too, in terms a client (and a request
generator) can check: a date's years as a pattern next to ``format: date``, an amount
as a decimal string with a pattern."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from schemas.codes import Money

EARLIEST_BIRTH = date(1900, 1, 1)
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def _in_the_past(value: date) -> date:
    if value >= datetime.now(UTC).date():
        raise ValueError("must be in the past")
    return value


#: month and day of an ISO date (``format: date`` rules out the 30th of February)
_MONTH_DAY = r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def _years_up_to(last: int) -> str:
    """A regex alternation of the years 1900 to ``last`` (1900 <= last <= 2199)."""
    parts = []
    for century in range(19, last // 100 + 1):
        top = last - century * 100 if century == last // 100 else 99
        tens, ones = divmod(top, 10)
        if tens:
            parts.append(f"{century}[0-{tens - 1}][0-9]")
        parts.append(f"{century}{tens}[0-{ones}]")
    return "|".join(parts)


def _birth_date_schema(schema: dict[str, object]) -> None:
    """Computed when the document is: no year after this one (a later date of this
    year is still refused, as the description says)."""
    schema["pattern"] = f"^({_years_up_to(datetime.now(UTC).year)}){_MONTH_DAY}"


BirthDate = Annotated[
    date, Field(ge=EARLIEST_BIRTH, description="in the past, not before 1900-01-01",
                json_schema_extra=_birth_date_schema),
    AfterValidator(_in_the_past)]
CycleDate = Annotated[
    date, Field(ge=EARLIEST, le=LATEST, description="between 2000-01-01 and 2199-12-31",
                json_schema_extra={"pattern": f"^2[01][0-9]{{2}}{_MONTH_DAY}"})]

#: 0 to 999,999,999,999.99: at most 14 digits, two of them after the point
AMOUNT = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"
#: the same, but more than zero
POSITIVE_AMOUNT = r"^([1-9][0-9]{0,11}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$"


def _decimal_text(pattern: str) -> BeforeValidator:
    """An amount is a decimal string, as the API answers it (a JSON number would be a
    binary fraction: 0.1 is not one tenth); a Decimal passes (Python callers)."""
    bare = pattern.removeprefix("^").removesuffix("$")  # fullmatch: no "\n" before the end

    def check(value: object) -> object:
        if (isinstance(value, str) and re.fullmatch(bare, value)) or isinstance(value, Decimal):
            return value
        raise ValueError("must be a decimal number as a string, such as \"1800.00\"")
    return BeforeValidator(check)


def _amount(pattern: str, description: str) -> object:
    return Annotated[
        Decimal, _decimal_text(pattern), Field(max_digits=14, decimal_places=2),
        WithJsonSchema({"type": "string", "pattern": pattern, "description": description,
                        "examples": ["1800.00"]}, mode="validation")]


class Wage(Money):
    """An amount a worker is paid: more than zero."""

    amount: _amount(POSITIVE_AMOUNT, "more than 0, at most two decimals")  # type: ignore[valid-type]


class Fee(Money):
    """An amount a worker pays (``worker_fee``): 0 or more."""

    amount: _amount(AMOUNT, "0 or more, at most two decimals")  # type: ignore[valid-type]
