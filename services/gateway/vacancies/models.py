"""Vacancies: the table (with the matcher's verdict folded in) and API bodies."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, StrictBool
from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import Id
from schemas.events.vacancies import VacancyPosted, Violation
from services.gateway.database.core import Base, utcnow
from services.gateway.validation import CycleDate, Fee, Wage


class VacancyStatus(StrEnum):
    PENDING = "pending"
    OPEN = "open"
    REJECTED = "rejected"
    FILLED = "filled"
    CLOSED = "closed"


class Vacancy(Base):
    __tablename__ = "vacancies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    employer_id: Mapped[str] = mapped_column(String(64), index=True)
    destination_country: Mapped[str] = mapped_column(String(2))
    isco_code: Mapped[str] = mapped_column(String(4))
    start_date: Mapped[date] = mapped_column(Date)
    positions: Mapped[int]
    body: Mapped[dict[str, Any]]
    verdict: Mapped[str | None] = mapped_column(String(16))
    violations: Mapped[list[Any]] = mapped_column(default=list)
    agreement_id: Mapped[str | None] = mapped_column(String(64), index=True)
    positions_filled: Mapped[int] = mapped_column(default=0)
    closed: Mapped[bool] = mapped_column(default=False)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def status(self) -> VacancyStatus:
        if self.closed or self.verdict == "closed":
            return VacancyStatus.CLOSED
        if self.verdict is None:
            return VacancyStatus.PENDING
        if self.verdict == "rejected":
            return VacancyStatus.REJECTED
        if self.positions_filled >= self.positions:
            return VacancyStatus.FILLED
        return VacancyStatus.OPEN


class VacancyCreate(VacancyPosted):
    """The body of ``POST /vacancies``: a vacancy as posted, its id optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    vacancy_id: Id | None = None  # type: ignore[assignment]
    monthly_wage: Wage
    worker_fee: Fee | None = None
    start_date: CycleDate
    #: true or false only (not 0/1 or "yes"), as the document states a boolean
    housing_provided: StrictBool = False


class VacancyRead(VacancyPosted):
    model_config = ConfigDict(extra="forbid", frozen=True)
    status: VacancyStatus
    violations: list[Violation]
    agreement_id: str | None
    positions_filled: int
