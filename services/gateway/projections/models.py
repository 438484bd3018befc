"""Which events the projector has applied: written in the same transaction as the
read-model change, so a redelivered event is skipped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.database.core import Base, utcnow


class ProcessedEvent(Base):
    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int]
    offset: Mapped[int] = mapped_column(BigInteger)  # Kafka offsets outgrow 32 bits
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsumerLag(Base):
    """How far the projector is behind each partition it reads, as it last saw."""

    __tablename__ = "consumer_lag"

    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    partition: Mapped[int] = mapped_column(primary_key=True)
    lag: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
