"""Placements (from the tracker's events) and return registrations (ours)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import Id, ShortText, Skill
from schemas.events.placements import EarlyReturnReason, Intention, Need, PlacementStatus
from services.gateway.database.core import Base, utcnow
from services.gateway.validation import CycleDate


class Placement(Base):
    __tablename__ = "placements"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    match_id: Mapped[str] = mapped_column(String(64), unique=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    employer_id: Mapped[str | None] = mapped_column(String(64))
    agreement_id: Mapped[str | None] = mapped_column(String(64))
    destination_country: Mapped[str | None] = mapped_column(String(2))
    isco_code: Mapped[str | None] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), index=True)
    departure_date: Mapped[date] = mapped_column(Date)
    expected_return_date: Mapped[date | None] = mapped_column(Date)
    return_date: Mapped[date | None] = mapped_column(Date)
    overdue_since: Mapped[date | None] = mapped_column(Date)
    border_crossing_point: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReturnStatus(StrEnum):
    PENDING = "pending"
    MATCHED = "matched"
    UNMATCHED = "unmatched"


class ReturnRegistration(Base):
    __tablename__ = "returns"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    match_id: Mapped[str | None] = mapped_column(String(64))
    return_date: Mapped[date] = mapped_column(Date)
    body: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default=ReturnStatus.PENDING.value)
    problem: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DepartureCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match_id: Id
    departure_date: CycleDate
    border_crossing_point: ShortText | None = None


class ReturnCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: Id
    return_date: CycleDate
    match_id: Id | None = None
    intentions: Annotated[list[Intention], Field(max_length=5)] = []
    needs: Annotated[list[Need], Field(max_length=6)] = []
    skills_acquired: Annotated[list[Skill], Field(max_length=50)] = []
    early_return_reason: EarlyReturnReason | None = None


class PlacementRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    placement_id: str
    match_id: str
    worker_id: str
    status: PlacementStatus | str
    departure_date: date
    expected_return_date: date | None
    return_date: date | None


class ReturnRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    return_id: str
    worker_id: str
    match_id: str | None
    return_date: date
    status: ReturnStatus
    problem: str | None
