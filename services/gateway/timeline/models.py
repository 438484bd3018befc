"""A worker's events, in order: what the gateway recorded and what the matcher and
tracker decided about the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.database.core import Base


class TimelineEntry(Base):
    __tablename__ = "timeline"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class TimelineRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str
    type: str
    at: datetime
    data: dict[str, Any]
