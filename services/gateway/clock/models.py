"""The gateway's "today": the real date, or a later one ticked in a test
deployment. Never goes backwards."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.database.core import Base
from services.gateway.validation import CycleDate


class ClockState(Base):
    __tablename__ = "clock"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    today: Mapped[date] = mapped_column(Date)


class TickBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: CycleDate
