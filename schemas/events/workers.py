"""Workers as matching sees them: an opaque id and the attributes matching needs.

Names, passport numbers, phones, e-mails and addresses never appear here; they stay
in the gateway's database. The date of birth is carried because eligibility depends
on the exact age on a vacancy's start date (SPEC 3.3 rule 3).
"""

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
    LanguageSkill,
    Skill,
)
from schemas.events.base import Event


class Experience(Contract):
    isco_code: IscoCode
    experience_years: Annotated[int, Field(ge=0, le=60), NOT_TRUE_OR_FALSE]


class WorkerProfile(Contract):
    date_of_birth: date
    citizenship: CountryCode
    occupations: Annotated[list[Experience], Field(max_length=20)] = []
    skills: Annotated[list[Skill], Field(max_length=100)] = []
    languages: Annotated[list[LanguageSkill], Field(max_length=20)] = []
    preferred_destinations: Annotated[list[CountryCode], Field(max_length=50)] = []
    available_from: date
    consent_matching: bool

    @model_validator(mode="after")
    def _distinct(self) -> WorkerProfile:
        codes = [o.isco_code for o in self.occupations]
        if len(codes) != len(set(codes)):
            raise ValueError("each occupation may be listed once")
        langs = [x.language for x in self.languages]
        if len(langs) != len(set(langs)):
            raise ValueError("each language may be listed once")
        return self


class WorkerRegistered(Event, WorkerProfile):
    type = "circular.worker.registered"
    key_field = "worker_id"
    worker_id: Id


class WorkerProfileUpdated(Event, WorkerProfile):
    """The whole current profile (not a patch), so consumers simply replace it."""

    type = "circular.worker.profile-updated"
    key_field = "worker_id"
    worker_id: Id


class WorkerErased(Event):
    """Personal data erased; the worker leaves matching for good."""

    type = "circular.worker.erased"
    key_field = "worker_id"
    worker_id: Id
