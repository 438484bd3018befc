"""Recording reads of personal data."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.gateway.audit.models import AuditRecord
from services.gateway.auth.security import Principal
from services.gateway.database.core import begin_write
from services.gateway.pagination import paged

READ_PERSONAL_DATA = "read_personal_data"


def record_read(*, db_session: Session, actor: Principal, worker_id: str,
                fields: Iterable[str], path: str) -> None:
    """Adds an audit row to the caller's transaction (commit with the response); a
    read-only transaction becomes a writer first (``begin_write``)."""
    begin_write(db_session)
    db_session.add(AuditRecord(actor_user_id=actor.user_id, actor_role=actor.role,
                               action=READ_PERSONAL_DATA, worker_id=worker_id,
                               fields=sorted(set(fields)), path=path[:300]))


def for_worker(*, db_session: Session, worker_id: str, limit: int,
               offset: int) -> tuple[list[AuditRecord], int]:
    return paged(db_session=db_session,
                 query=select(AuditRecord).where(AuditRecord.worker_id == worker_id),
                 order_by=(AuditRecord.id,), limit=limit, offset=offset)
