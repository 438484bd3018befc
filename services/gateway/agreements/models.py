"""Labour agreements: the table, the API bodies."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import Id
from schemas.events.agreements import AgreementTerms, CoveredOccupation
from services.gateway.database.core import Base, utcnow
from services.gateway.validation import CycleDate, Wage


class AgreementStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Agreement(Base):
    __tablename__ = "agreements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2))
    destination_country: Mapped[str] = mapped_column(String(2), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    terms: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default=AgreementStatus.ACTIVE.value)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OccupationCreate(CoveredOccupation):
    """A covered occupation as an admin records it: its wage floor is more than zero."""

    min_monthly_wage: Wage


class AgreementCreate(AgreementTerms):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agreement_id: Id | None = None
    valid_from: CycleDate
    valid_until: CycleDate
    occupations: Annotated[  # type: ignore[assignment]
        list[OccupationCreate], Field(min_length=1, max_length=500)]


class AgreementRead(AgreementTerms):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agreement_id: str
    status: AgreementStatus



class QuotaUsage(Base):
    """Used places per agreement, occupation and year, as the matcher counts them."""

    __tablename__ = "quota_usage"

    agreement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    isco_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    annual_quota: Mapped[int]
    used: Mapped[int]


class QuotaRead(BaseModel):
    isco_code: str
    annual_quota: int
    used: int
    remaining: int
