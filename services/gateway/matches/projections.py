"""Folding the matcher's match and quota events into ``matches`` and ``quota_usage``:
plain upserts of what each event says (no read of the row first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.codec import Decoded
from schemas.events import matches as ev
from schemas.events.matches import MatchStatus
from services.gateway.agreements.models import QuotaUsage
from services.gateway.matches.models import Match
from services.gateway.projections.fold import Fold
from services.gateway.stream.models import ChangeKind
from services.gateway.vacancies.models import Vacancy

#: the change a refusal makes (the match's status stays as it was)
REFUSALS = {ev.MatchApprovalRefused: "approval_refused",
            ev.MatchAcceptanceRefused: "acceptance_refused"}


def _upsert(fold: Fold, event: ev.MatchState, values: dict[str, Any]) -> None:
    """Set ``values`` on the match; a match not seen before starts as proposed."""
    vacancy = fold.get(Vacancy, event.vacancy_id)
    fold.upsert(Match, {"id": event.match_id, **values}, on_insert={
        "vacancy_id": event.vacancy_id, "worker_id": event.worker_id,
        "employer_id": event.employer_id, "agreement_id": event.agreement_id,
        "destination_country": event.destination_country, "isco_code": event.isco_code,
        "start_year": vacancy["start_date"].year if vacancy else None,
        "status": MatchStatus.PROPOSED.value, "score": 0.0, "reasons": []})
    status = values.get("status") or REFUSALS.get(type(event), "changed")
    fold.changed(ChangeKind.MATCH, event.match_id, status, vacancy_id=event.vacancy_id,
                 employer_id=event.employer_id, worker_id=event.worker_id)


def _settle(status: MatchStatus | None, reason: Callable[[ev.MatchState], str | None]
            ) -> Callable[[Fold, Decoded], None]:
    def apply(fold: Fold, decoded: Decoded) -> None:
        event = decoded.event
        assert isinstance(event, ev.MatchState)
        values: dict[str, Any] = {"pending": None}
        if status is not None:
            values["status"] = status.value
        found = reason(event)
        if found is not None or status is not None:
            values["outcome_reason"] = found
        if isinstance(event, ev.MatchApproved):
            values["approved_at"] = decoded.envelope.time
        if isinstance(event, ev.MatchAccepted):
            values.update(accepted_at=decoded.envelope.time,
                          contract_months=event.contract_months,
                          return_grace_days=event.return_grace_days,
                          reentry_cooldown_months=event.reentry_cooldown_months)
        _upsert(fold, event, values)
    return apply


def on_proposed(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.MatchProposed)
    _upsert(fold, event, {"status": MatchStatus.PROPOSED.value, "pending": None,
                          "outcome_reason": None, "score": event.score,
                          "reasons": [r.model_dump(mode="json") for r in event.reasons],
                          "proposed_at": decoded.envelope.time})


def on_quota(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.QuotaUsageChanged)
    fold.upsert(QuotaUsage, {"agreement_id": event.agreement_id, "isco_code": event.isco_code,
                             "year": event.year, "annual_quota": event.annual_quota,
                             "used": event.used})


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
