"""Reintegration triggers fired by the tracker, completed by recruiters."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from schemas.codes import ShortText
from schemas.events.triggers import Outcome, TriggerKind
from services.gateway.database.core import Base, utcnow


class TriggerStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class Trigger(Base):
    __tablename__ = "triggers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    placement_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40), index=True)
    cause: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=TriggerStatus.OPEN.value)
    outcome: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    completed_by: Mapped[str | None] = mapped_column(String(64))
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)


class TriggerRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trigger_id: str
    worker_id: str
    placement_id: Annotated[str | None, Field(
        description="none for a return that closed no placement")]
    kind: TriggerKind
    reason: str
    due_date: date
    status: TriggerStatus
    outcome: Outcome | None


class TriggerComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: ShortText | None = None
