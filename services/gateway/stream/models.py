"""The change feed: one row per change a client may want to hear about, written by the
projector's folds in the same transaction as the change itself (``Fold.changed``).
Its id is the stream's event id. It holds ids and statuses only, never personal
data, and who may hear of it: the employer and the worker it concerns (``None``: not
that party), staff always. Rows older than :data:`RETENTION` are pruned by the
projector."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.database.core import Base, utcnow

#: how long a change is kept, so a client that reconnects with Last-Event-ID gets
#: what it missed; older, it is told to reload (``reset``)
RETENTION = timedelta(hours=1)


class ChangeKind(StrEnum):
    VACANCY = "vacancy"  # a verdict, or positions filled: status open/rejected/filled/closed
    MATCH = "match"  # proposed, approved, rejected, accepted, declined, withdrawn, refusals
    PLACEMENT = "placement"  # abroad, overdue, returned
    RETURN = "return"  # a return registration matched to its placement or not
    TRIGGER = "trigger"  # a reintegration trigger fired


class Change(Base):
    __tablename__ = "changes"
    # AUTOINCREMENT on SQLite: an id is never used again after its row is pruned (a
    # client's Last-Event-ID must not name a different change)
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    vacancy_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: who besides staff may hear of it (the party whose reads show the entity)
    employer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    worker_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
