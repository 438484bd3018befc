"""Validated code types shared by every contract: ISO 3166-1 alpha-2 countries,
ISO 4217 currencies, ISO 639-1 languages with CEFR levels, ISCO-08 unit groups.

Countries, currencies and languages are checked against pycountry's code lists;
ISCO-08 against the ILO table shipped in ``schemas/data/isco08.csv``.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)


def _not_true_or_false(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true or false")
    return value


#: an integer field's last piece of metadata (after its ``Field``, so the document keeps
#: its bounds): JSON's ``true`` and ``false`` are not numbers, though pydantic would take
#: them as 1 and 0; a numeral in a string (a form's field, a roster's cell) still counts
NOT_TRUE_OR_FALSE = BeforeValidator(_not_true_or_false)


@cache
def isco_unit_groups() -> dict[str, str]:
    """ISCO-08 four-digit unit groups -> title."""
    text = resources.files("schemas").joinpath("data/isco08.csv").read_text("utf-8")
    return {row["code"]: row["title"] for row in csv.DictReader(text.splitlines())
            if row["level"] == "4"}


@cache
def countries() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@cache
def languages() -> frozenset[str]:
    return frozenset(x.alpha_2 for x in pycountry.languages if hasattr(x, "alpha_2"))


def _country(value: str) -> str:
    if value not in countries():
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return value


def _currency(value: str) -> str:
    if value not in currencies():
        raise ValueError("not an ISO 4217 currency code")
    return value


def _language(value: str) -> str:
    if value not in languages():
        raise ValueError("not an ISO 639-1 language code")
    return value


def _isco(value: str) -> str:
    if value not in isco_unit_groups():
        raise ValueError("not an ISCO-08 unit group (four-digit) code")
    return value


CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_country),
    Field(description="ISO 3166-1 alpha-2 country code", examples=["AM"]),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_currency),
    Field(description="ISO 4217 currency code", examples=["EUR"]),
]
LanguageCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2}$"),
    AfterValidator(_language),
    Field(description="ISO 639-1 language code", examples=["de"]),
]
IscoCode = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}$"),
    AfterValidator(_isco),
    Field(description="ISCO-08 unit group code", examples=["6111"]),
]

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"),
    Field(description="Opaque identifier: letters, digits, '.', '_', ':', '-'; at most 64"),
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Skill = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=60),
    Field(description="A skill tag, compared case-insensitively"),
]


class CefrLevel(StrEnum):
    """Common European Framework of Reference levels, ordered A1 < ... < C2."""

    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"

    @property
    def rank(self) -> int:
        return list(CefrLevel).index(self)


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(Contract):
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
    currency: CurrencyCode


class LanguageRequirement(Contract):
    language: LanguageCode
    min_level: CefrLevel


class LanguageSkill(Contract):
    language: LanguageCode
    level: CefrLevel
