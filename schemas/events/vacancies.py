"""Vacancies posted by employers (gateway) and their evaluation (matcher).

Gateway events travel keyed by ``employer_id`` so the matcher decides legality with
the employer's state at hand; matcher events are keyed by ``vacancy_id``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.codes import (
    NOT_TRUE_OR_FALSE,
    CountryCode,
    Id,
    IscoCode,
    LanguageRequirement,
    Money,
    ShortText,
    Skill,
)
from schemas.events.base import Event


class VacancyPosted(Event):
    type = "circular.vacancy.posted"
    key_field = "employer_id"
    vacancy_id: Id
    employer_id: Id
    destination_country: CountryCode
    isco_code: IscoCode
    title: ShortText
    positions: Annotated[int, Field(ge=1, le=10_000), NOT_TRUE_OR_FALSE]
    monthly_wage: Money
    contract_months: Annotated[int, Field(ge=1, le=120), NOT_TRUE_OR_FALSE]
    start_date: date
    required_skills: Annotated[list[Skill], Field(max_length=50)] = []
    min_experience_years: Annotated[int, Field(ge=0, le=60), NOT_TRUE_OR_FALSE] = 0
    language_requirement: LanguageRequirement | None = None
    worker_fee: Money | None = None
    housing_provided: bool = False


class VacancyClosed(Event):
    type = "circular.vacancy.closed"
    key_field = "employer_id"
    vacancy_id: Id
    employer_id: Id


class Violation(StrEnum):
    """Why a vacancy is not legal under its agreement (SPEC 3.2)."""

    NO_AGREEMENT = "no_agreement"
    OCCUPATION_NOT_COVERED = "occupation_not_covered"
    OUTSIDE_AGREEMENT_VALIDITY = "outside_agreement_validity"
    AGREEMENT_SUSPENDED = "agreement_suspended"
    EMPLOYER_NOT_VERIFIED = "employer_not_verified"
    WAGE_BELOW_FLOOR = "wage_below_floor"
    CURRENCY_MISMATCH = "currency_mismatch"
    CONTRACT_TOO_LONG = "contract_too_long"
    WORKER_FEE_CHARGED = "worker_fee_charged"


class Verdict(StrEnum):
    OPEN = "open"
    REJECTED = "rejected"
    CLOSED = "closed"


class VacancyEvaluated(Event):
    """The matcher's current legality verdict on a vacancy; a later one supersedes it.
    ``closed`` once its employer (or an admin) closed it."""

    type = "circular.vacancy.evaluated"
    key_field = "vacancy_id"
    vacancy_id: Id
    employer_id: Id
    agreement_id: Id | None = None
    status: Verdict
    violations: list[Violation] = []


class VacancyPositionsChanged(Event):
    """How many positions of an open vacancy are taken by approved or accepted
    matches; the vacancy is filled when ``positions_filled == positions``."""

    type = "circular.vacancy.positions-changed"
    key_field = "vacancy_id"
    vacancy_id: Id
    positions: Annotated[int, Field(ge=1), NOT_TRUE_OR_FALSE]
    positions_filled: Annotated[int, Field(ge=0), NOT_TRUE_OR_FALSE]
