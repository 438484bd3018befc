"""Bilateral labour agreements (SPEC 3.1). Produced by the gateway."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, model_validator

from schemas.codes import (
    NOT_TRUE_OR_FALSE,
    Contract,
    CountryCode,
    Id,
    IscoCode,
    LanguageRequirement,
    Money,
    ShortText,
)
from schemas.events.base import Event


class CoveredOccupation(Contract):
    isco_code: IscoCode
    annual_quota: Annotated[int, Field(ge=0, le=1_000_000), NOT_TRUE_OR_FALSE]
    min_monthly_wage: Money


class AgreementTerms(Contract):
    origin_country: CountryCode
    destination_country: CountryCode
    title: ShortText
    valid_from: date
    valid_until: date
    max_contract_months: Annotated[int, Field(ge=1, le=120), NOT_TRUE_OR_FALSE]
    min_age: Annotated[int, Field(ge=14, le=100), NOT_TRUE_OR_FALSE]
    max_age: Annotated[int, Field(ge=14, le=100), NOT_TRUE_OR_FALSE]
    language_requirement: LanguageRequirement | None = None
    reentry_cooldown_months: Annotated[int, Field(ge=0, le=120), NOT_TRUE_OR_FALSE]
    return_grace_days: Annotated[int, Field(ge=0, le=365), NOT_TRUE_OR_FALSE]
    occupations: Annotated[list[CoveredOccupation], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _consistent(self) -> AgreementTerms:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        if self.max_age < self.min_age:
            raise ValueError("max_age must not be below min_age")
        if self.origin_country == self.destination_country:
            raise ValueError("origin and destination must differ")
        codes = [o.isco_code for o in self.occupations]
        if len(codes) != len(set(codes)):
            raise ValueError("each occupation may be listed once")
        return self

    def occupation(self, isco_code: str) -> CoveredOccupation | None:
        return next((o for o in self.occupations if o.isco_code == isco_code), None)


class AgreementRecorded(Event, AgreementTerms):
    """An admin recorded an agreement; it starts active."""

    type = "circular.agreement.recorded"
    key_field = "agreement_id"
    agreement_id: Id


class AgreementSuspended(Event):
    type = "circular.agreement.suspended"
    key_field = "agreement_id"
    agreement_id: Id


class AgreementResumed(Event):
    type = "circular.agreement.resumed"
    key_field = "agreement_id"
    agreement_id: Id
