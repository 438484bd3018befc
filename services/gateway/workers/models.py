"""Workers: the only place personal data lives (names, passport numbers, contacts,
region, date of birth). Events carry the opaque id and matching attributes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from sqlalchemy import Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import CountryCode, Id, LanguageSkill, ShortText
from schemas.events.workers import Experience, WorkerProfile
from services.gateway.auth.models import Password, Username
from services.gateway.database.core import Base, utcnow


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
    region: Mapped[str | None] = mapped_column(String(100))
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


class WorkerCreate(WorkerProfile, Contact):
    """``POST /workers``: the profile matching uses, the contact data that stays here,
    and, for someone registering themselves, the login to create."""

    model_config = ConfigDict(extra="forbid", frozen=False)
    worker_id: Id | None = None
    citizenship: CountryCode
    username: Username | None = None
    password: Password | None = None


class WorkerUpdate(BaseModel):
    """``PATCH /workers/{id}``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    phone: Phone | None = None
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    region: ShortText | None = None
    occupations: list[dict[str, Any]] | None = None
    skills: list[str] | None = None
    languages: list[dict[str, Any]] | None = None
    preferred_destinations: list[str] | None = None
    available_from: date | None = None
    consent_matching: bool | None = None


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
