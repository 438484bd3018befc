"""Workers: the only place personal data lives (names, passport numbers, contacts,
region, date of birth). Events carry the opaque id and matching attributes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool, StringConstraints
from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import CountryCode, Id, LanguageSkill, ShortText, Skill
from schemas.events.workers import Experience, WorkerProfile
from services.gateway.auth.models import Password, Username
from services.gateway.database.core import Base, utcnow
from services.gateway.validation import BirthDate, CycleDate


class WorkerStatus(StrEnum):
    ACTIVE = "active"
    ERASED = "erased"


class Worker(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    passport_number: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    region: Mapped[str | None] = mapped_column(String(200))
    citizenship: Mapped[str] = mapped_column(String(2))
    profile: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default=WorkerStatus.ACTIVE.value)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_workers_passport", "citizenship", "passport_number", unique=True),
    )


Passport = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                            pattern=r"^[A-Z0-9]{5,20}$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,24}$")]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full_name: FullName
    passport_number: Passport
    phone: Phone | None = None
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    region: ShortText | None = None


def _login_whole_or_none(schema: dict[str, Any]) -> None:
    """The document states it: ``username`` and ``password`` come together or not at
    all (the service refuses one alone, 422)."""
    schema["anyOf"] = [
        {"title": "With a login", "required": ["username", "password"], "properties": {
            "username": {"type": "string"}, "password": {"type": "string"}}},
        {"title": "Without a login", "properties": {
            "username": {"type": "null"}, "password": {"type": "null"}}},
    ]


class WorkerCreate(WorkerProfile, Contact):
    """``POST /workers``: the profile matching uses, the contact data that stays here,
    and, for someone registering themselves, the login to create (both ``username``
    and ``password``, or neither)."""

    model_config = ConfigDict(extra="forbid", frozen=False,
                              json_schema_extra=_login_whole_or_none)
    worker_id: Id | None = None
    date_of_birth: BirthDate
    citizenship: CountryCode
    available_from: CycleDate
    #: true or false only (not 0/1 or "yes"), as the document states a boolean
    consent_matching: StrictBool
    username: Username | None = None
    password: Password | None = None


#: the default of a PATCH field that may be left out but not set to null
NOT_GIVEN: Any = None


def _no_null_defaults(schema: dict[str, Any]) -> None:
    """In the document, a field that cannot be null shows no ``default: null``."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", 0) is None and "anyOf" not in prop:
            del prop["default"]


class WorkerUpdate(BaseModel):
    """``PATCH /workers/{id}``: only the fields given change. ``null`` clears an
    optional contact (phone, e-mail, region); a required field (name, profile) cannot
    be cleared, so ``null`` for it is invalid (422), not a wipe."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)

    full_name: FullName = NOT_GIVEN
    phone: Phone | None = None
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    region: ShortText | None = None
    occupations: Annotated[list[Experience], Field(max_length=20)] = NOT_GIVEN
    skills: Annotated[list[Skill], Field(max_length=100)] = NOT_GIVEN
    languages: Annotated[list[LanguageSkill], Field(max_length=20)] = NOT_GIVEN
    preferred_destinations: Annotated[list[CountryCode], Field(max_length=50)] = NOT_GIVEN
    available_from: CycleDate = NOT_GIVEN
    consent_matching: StrictBool = NOT_GIVEN


class WorkerRead(BaseModel):
    """A worker as the worker, recruiters and admins see it; after erasure only the
    id and status remain."""

    model_config = ConfigDict(extra="forbid")

    worker_id: str
    status: WorkerStatus
    full_name: str | None = None
    passport_number: str | None = None
    phone: str | None = None
    email: str | None = None
    region: str | None = None
    date_of_birth: date | None = None
    citizenship: str
    occupations: list[Experience] = []
    skills: list[str] = []
    languages: list[LanguageSkill] = []
    preferred_destinations: list[str] = []
    available_from: date | None = None
    consent_matching: bool = False


class WorkerSummary(BaseModel):
    """A row of the staff's list of workers."""

    model_config = ConfigDict(extra="forbid")

    worker_id: str
    full_name: str | None
    status: WorkerStatus
    consent_matching: bool
