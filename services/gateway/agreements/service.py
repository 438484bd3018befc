"""Agreement commands and queries (keyword-only, the caller's session)."""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, select, tuple_
from sqlalchemy.orm import Session

from schemas.events import agreements as ev
from services.gateway.agreements.models import (
    Agreement,
    AgreementCreate,
    AgreementRead,
    AgreementStatus,
    QuotaRead,
    QuotaUsage,
)
from services.gateway.database.idempotent import is_repeat, new_id, request_hash
from services.gateway.errors import NotFound
from services.gateway.outbox import service as outbox
from services.gateway.pagination import paged


def get(*, db_session: Session, agreement_id: str) -> Agreement:
    row = db_session.get(Agreement, agreement_id)
    if row is None:
        raise NotFound(f"No agreement {agreement_id}")
    return row


def read(row: Agreement) -> AgreementRead:
    return AgreementRead.model_validate({**row.terms, "agreement_id": row.id,
                                         "status": row.status})


def create(*, db_session: Session, agreement_in: AgreementCreate) -> Agreement:
    agreement_id = agreement_in.agreement_id or new_id("agr")
    digest = request_hash(agreement_in, exclude={"agreement_id"})
    existing = db_session.get(Agreement, agreement_id)
    if is_repeat(existing, digest, f"Agreement {agreement_id}"):
        return existing  # type: ignore[return-value]
    terms = agreement_in.model_dump(mode="json", exclude={"agreement_id"})
    row = Agreement(id=agreement_id, origin_country=agreement_in.origin_country,
                    destination_country=agreement_in.destination_country,
                    valid_from=agreement_in.valid_from, valid_until=agreement_in.valid_until,
                    terms=terms, request_hash=digest)
    db_session.add(row)
    outbox.add(db_session=db_session, event=ev.AgreementRecorded.model_validate(
        {**terms, "agreement_id": agreement_id}))
    db_session.commit()
    return row


def set_status(*, db_session: Session, agreement_id: str, status: AgreementStatus) -> Agreement:
    row = get(db_session=db_session, agreement_id=agreement_id)
    if row.status != status.value:
        row.status = status.value
        event = (ev.AgreementSuspended if status is AgreementStatus.SUSPENDED
                 else ev.AgreementResumed)(agreement_id=agreement_id)
        outbox.add(db_session=db_session, event=event)
        db_session.commit()
    return row


def list_all(*, db_session: Session, limit: int, offset: int) -> tuple[list[Agreement], int]:
    return paged(db_session=db_session, query=select(Agreement),
                 order_by=(Agreement.created_at, Agreement.id), limit=limit, offset=offset)


def quota(*, db_session: Session, agreement_id: str, year: int) -> list[QuotaRead]:
    """Each covered occupation's quota for ``year``, as the matcher last counted it."""
    found = quotas(db_session=db_session, keys={(agreement_id, year)}).get((agreement_id, year))
    if found is None:
        raise NotFound(f"No agreement {agreement_id}")
    return found


def quotas(*, db_session: Session,
           keys: set[tuple[str, int]]) -> dict[tuple[str, int], list[QuotaRead]]:
    """:func:`quota` for several agreements and years in two queries (a page showing
    many vacancies); an agreement that does not exist is left out."""
    if not keys:
        return {}
    agreements_of, usage_of = _quota_statements()
    found = {row.id: row for row in db_session.scalars(
        agreements_of, {"ids": sorted({a for a, _ in keys})})}
    used = {(u.agreement_id, u.year, u.isco_code): u.used for u in db_session.scalars(
        usage_of, {"keys": sorted(keys)})}
    out: dict[tuple[str, int], list[QuotaRead]] = {}
    for agreement_id, year in keys:
        if (row := found.get(agreement_id)) is None:
            continue
        out[agreement_id, year] = [
            QuotaRead(isco_code=o["isco_code"], annual_quota=int(o["annual_quota"]),
                      used=(taken := used.get((agreement_id, year, o["isco_code"]), 0)),
                      remaining=max(0, int(o["annual_quota"]) - taken))
            for o in row.terms["occupations"]]
    return out


@functools.cache
def _quota_statements() -> tuple[Select[Agreement], Select[QuotaUsage]]:
    """:func:`quotas`' two statements, built once per process with their keys bound."""
    return (select(Agreement).where(Agreement.id.in_(bindparam("ids", expanding=True))),
            select(QuotaUsage).where(tuple_(QuotaUsage.agreement_id, QuotaUsage.year)
                                     .in_(bindparam("keys", expanding=True))))
