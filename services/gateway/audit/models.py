"""Who read which worker's personal data, and when (SPEC 3.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.database.core import Base, utcnow


class AuditRecord(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    actor_user_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    worker_id: Mapped[str] = mapped_column(String(64), index=True)
    fields: Mapped[list[Any]]
    path: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor_user_id: str
    actor_role: str
    action: str
    worker_id: str
    fields: list[str]
    path: str
    at: datetime
