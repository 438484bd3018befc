"""Folding the matcher's match and quota events into ``matches`` and ``quota_usage``."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.events import matches as ev
from schemas.events.matches import MatchStatus
from services.gateway.agreements.models import QuotaUsage
from services.gateway.matches.models import Match
from services.gateway.vacancies.models import Vacancy


def _row(session: Session, event: ev.MatchState) -> Match:
    row = session.get(Match, event.match_id)
    if row is None:
        vacancy = session.get(Vacancy, event.vacancy_id)
        row = Match(id=event.match_id, vacancy_id=event.vacancy_id, worker_id=event.worker_id,
                    employer_id=event.employer_id, agreement_id=event.agreement_id,
                    destination_country=event.destination_country, isco_code=event.isco_code,
                    start_year=vacancy.start_date.year if vacancy else None,
                    status=MatchStatus.PROPOSED.value, score=0.0, reasons=[])
        session.add(row)
    return row


def _settle(status: MatchStatus | None, reason: Callable[[ev.MatchState], str | None]
            ) -> Callable[[Session, Decoded], None]:
    def apply(session: Session, decoded: Decoded) -> None:
        event = decoded.event
        assert isinstance(event, ev.MatchState)
        row = _row(session, event)
        row.pending = None
        if status is not None:
            row.status = status.value
        found = reason(event)
        if found is not None or status is not None:
            row.outcome_reason = found
        if isinstance(event, ev.MatchApproved):
            row.approved_at = decoded.envelope.time
        if isinstance(event, ev.MatchAccepted):
            row.accepted_at = decoded.envelope.time
            row.contract_months = event.contract_months
            row.return_grace_days = event.return_grace_days
            row.reentry_cooldown_months = event.reentry_cooldown_months
    return apply


def on_proposed(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.MatchProposed)
    row = _row(session, event)
    row.status = MatchStatus.PROPOSED.value
    row.pending = None
    row.outcome_reason = None
    row.score = event.score
    row.reasons = [r.model_dump(mode="json") for r in event.reasons]
    row.proposed_at = decoded.envelope.time


def on_quota(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.QuotaUsageChanged)
    row = session.get(QuotaUsage, (event.agreement_id, event.isco_code, event.year))
    if row is None:
        session.add(QuotaUsage(agreement_id=event.agreement_id, isco_code=event.isco_code,
                               year=event.year, annual_quota=event.annual_quota,
                               used=event.used))
    else:
        row.annual_quota, row.used = event.annual_quota, event.used


def _reason(event: ev.MatchState) -> str | None:
    value = getattr(event, "reason", None)
    return None if value is None else str(getattr(value, "value", value))


PROJECTIONS = {
    ev.MatchProposed: on_proposed,
    ev.MatchApproved: _settle(MatchStatus.APPROVED, lambda e: None),
    ev.MatchApprovalRefused: _settle(None, _reason),
    ev.MatchRejected: _settle(MatchStatus.REJECTED, _reason),
    ev.MatchAccepted: _settle(MatchStatus.ACCEPTED, lambda e: None),
    ev.MatchAcceptanceRefused: _settle(None, _reason),
    ev.MatchDeclined: _settle(MatchStatus.DECLINED, lambda e: None),
    ev.MatchWithdrawn: _settle(MatchStatus.WITHDRAWN, _reason),
    ev.QuotaUsageChanged: on_quota,
}
