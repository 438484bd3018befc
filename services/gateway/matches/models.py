"""Matches as the matcher decided them, folded in by the projector; what the
recruiter or worker asked and is still waiting for (``pending``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import ShortText
from schemas.events.matches import MatchStatus, Reason
from services.gateway.database.core import Base, utcnow


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vacancy_id: Mapped[str] = mapped_column(String(64), index=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    employer_id: Mapped[str] = mapped_column(String(64), index=True)
    agreement_id: Mapped[str] = mapped_column(String(64), index=True)
    destination_country: Mapped[str] = mapped_column(String(2))
    isco_code: Mapped[str] = mapped_column(String(4))
    start_year: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    pending: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(200))
    contract_months: Mapped[int | None] = mapped_column(Integer)
    return_grace_days: Mapped[int | None] = mapped_column(Integer)
    reentry_cooldown_months: Mapped[int | None] = mapped_column(Integer)
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MatchRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match_id: str
    vacancy_id: str
    worker_id: str
    employer_id: str
    agreement_id: str
    destination_country: str
    isco_code: str
    score: float
    reasons: list[Reason]
    status: MatchStatus
    pending: Annotated[str | None, Field(
        description="what was asked and is not decided yet: approve, reject, accept, decline")]
    outcome_reason: str | None
    candidate_name: Annotated[str | None, Field(
        description="for the owning employer, once the worker accepted")] = None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: ShortText
