"""Matches between a worker and a vacancy (SPEC 3.4, 3.5).

Commands from people (recruiter review, worker response) are published by the
gateway; the matcher, the authority on quota and positions, answers with the match's
new state. Match ids are deterministic: ``match_id(worker_id, vacancy_id)``.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.codes import NOT_TRUE_OR_FALSE, Contract, CountryCode, Id, IscoCode, ShortText
from schemas.events.base import Event

_MATCH_NS = uuid.UUID("0f7c4e6a-2d0b-4a53-9b8e-6d1f2c3b4a59")


def match_id(worker_id: str, vacancy_id: str) -> str:
    """The one id of the match between this worker and this vacancy."""
    return "m-" + uuid.uuid5(_MATCH_NS, f"{worker_id}\x1f{vacancy_id}").hex[:24]


def market_key(destination_country: str, isco_code: str) -> str:
    """A labour market: destination country and occupation, e.g. ``DE-6111``. Market
    keys are built by this function only, and taken apart by :func:`split_market`."""
    return f"{destination_country}-{isco_code}"


def split_market(market: str) -> tuple[str, str]:
    """The destination country and the occupation of a :func:`market_key`."""
    destination_country, sep, isco_code = market.partition("-")
    if not sep or not destination_country or not isco_code:
        raise ValueError(f"not a market key: {market!r}")
    return destination_country, isco_code


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


#: Quota policy, shared by the matcher (the authority) and the gateway (which refuses
#: up front what its read model shows to be impossible): the statuses in which a
#: match holds a place, that is one of its vacancy's positions and one unit of its
#: agreement's quota for the occupation and the vacancy's start year (SPEC 3.5). An
#: approval holds it from the moment it is approved; a decline, rejection or
#: withdrawal releases it.
HOLDS_PLACE: frozenset[MatchStatus] = frozenset({MatchStatus.APPROVED, MatchStatus.ACCEPTED})


def holds_place(status: str) -> bool:
    """Whether a match in ``status`` (the enum or its stored value) holds a place."""
    return status in HOLDS_PLACE


class WithdrawalReason(StrEnum):
    DISPLACED = "displaced"
    WORKER_ACCEPTED_OTHER = "worker_accepted_other"
    WORKER_ERASED = "worker_erased"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    WORKER_NO_LONGER_ELIGIBLE = "worker_no_longer_eligible"
    EMPLOYER_SUSPENDED = "employer_suspended"
    VACANCY_CLOSED = "vacancy_closed"
    VACANCY_FILLED = "vacancy_filled"
    QUOTA_EXHAUSTED = "quota_exhausted"
    VACANCY_REJECTED = "vacancy_rejected"


class RefusalReason(StrEnum):
    QUOTA_EXHAUSTED = "quota_exhausted"
    POSITIONS_FILLED = "positions_filled"
    NOT_PENDING = "not_pending"
    ALREADY_ACCEPTED_OTHER = "already_accepted_other"
    VACANCY_NOT_OPEN = "vacancy_not_open"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    ACCEPT = "accept"
    DECLINE = "decline"


class MatchRef(Contract):
    match_id: Id
    vacancy_id: Id
    worker_id: Id


class MatchReviewed(Event, MatchRef):
    """A recruiter approved or rejected a proposed match. Keyed by labour market,
    where the matcher keeps the vacancy, its quota and its proposals."""

    type = "circular.match.reviewed"
    key_field = "market"
    market: Annotated[str, Field(pattern=r"^[A-Z]{2}-[0-9]{4}$")]
    decision: Annotated[Decision, Field(description="approve or reject")]
    reason: ShortText | None = None
    reviewed_by: Id


class MatchResponded(Event, MatchRef):
    """The worker accepted or declined an approved match. Keyed by worker, where the
    matcher makes sure a worker holds at most one accepted match."""

    type = "circular.match.responded"
    key_field = "worker_id"
    market: Annotated[str, Field(pattern=r"^[A-Z]{2}-[0-9]{4}$")]
    decision: Annotated[Decision, Field(description="accept or decline")]


class Reason(Contract):
    """One part of a score, shown to recruiters."""

    code: Annotated[str, Field(max_length=60)]
    text: Annotated[str, Field(max_length=300)]
    weight: float


class MatchState(Event, MatchRef):
    """Base of the matcher's match events, keyed by worker."""

    key_field = "worker_id"
    employer_id: Id
    agreement_id: Id
    destination_country: CountryCode
    isco_code: IscoCode


class MatchProposed(MatchState):
    type = "circular.match.proposed"
    score: Annotated[float, Field(ge=0, le=1)]
    reasons: list[Reason] = []


class MatchApproved(MatchState):
    type = "circular.match.approved"
    reviewed_by: Id


class MatchApprovalRefused(MatchState):
    """An approval the matcher refused; the match stays proposed."""

    type = "circular.match.approval-refused"
    reason: RefusalReason


class MatchRejected(MatchState):
    type = "circular.match.rejected"
    reason: ShortText | None = None
    reviewed_by: Id


class MatchAccepted(MatchState):
    """The worker accepted; carries the terms the tracker needs for the placement."""

    type = "circular.match.accepted"
    contract_months: Annotated[int, Field(ge=1), NOT_TRUE_OR_FALSE]
    return_grace_days: Annotated[int, Field(ge=0), NOT_TRUE_OR_FALSE]
    reentry_cooldown_months: Annotated[int, Field(ge=0), NOT_TRUE_OR_FALSE]


class MatchAcceptanceRefused(MatchState):
    type = "circular.match.acceptance-refused"
    reason: RefusalReason


class MatchDeclined(MatchState):
    type = "circular.match.declined"


class MatchWithdrawn(MatchState):
    type = "circular.match.withdrawn"
    reason: WithdrawalReason


class QuotaUsageChanged(Event):
    """Quota used under an agreement's occupation in one calendar year."""

    type = "circular.quota.usage-changed"
    key_field = "agreement_id"
    agreement_id: Id
    isco_code: IscoCode
    year: Annotated[int, Field(ge=2000, le=2200), NOT_TRUE_OR_FALSE]
    annual_quota: Annotated[int, Field(ge=0), NOT_TRUE_OR_FALSE]
    used: Annotated[int, Field(ge=0), NOT_TRUE_OR_FALSE]
