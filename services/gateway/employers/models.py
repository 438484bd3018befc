"""Employers abroad: the table (the company name stays here, never on Kafka)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import CountryCode, Id, ShortText
from services.gateway.database.core import Base, utcnow


class EmployerStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    SUSPENDED = "suspended"


class Employer(Base):
    __tablename__ = "employers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    registration_number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=EmployerStatus.PENDING.value)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmployerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    employer_id: Id | None = None
    name: ShortText
    country: CountryCode
    registration_number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                          max_length=64)]


class EmployerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    employer_id: str
    name: str
    country: str
    registration_number: str
    status: EmployerStatus
