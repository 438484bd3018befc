"""Quota and positions arithmetic (SPEC 3.5): approved and accepted matches (and the
placements that follow them) count against the agreement's quota for the
occupation and the calendar year of the vacancy's start date, and against the
vacancy's positions; declined, rejected and withdrawn ones do not. Which statuses
hold a place is the shared policy in :mod:`schemas.events.matches` (the gateway
counts by it too)."""

from __future__ import annotations

from schemas.events.matches import HOLDS_PLACE, RefusalReason, holds_place
from services.matcher.domain.views import VacancyView

__all__ = ["HOLDS_PLACE", "approval_refusal", "has_room", "holds_place"]


def has_room(vacancy: VacancyView, quota_used: int) -> bool:
    """Room for one more approved match under the vacancy's quota."""
    return quota_used < vacancy.annual_quota


def approval_refusal(vacancy: VacancyView, *, quota_used: int,
                     positions_taken: int) -> RefusalReason | None:
    """Why one more approval is not possible now, or None when it is. Positions are
    checked first: a vacancy with no open position is full whatever the quota."""
    if positions_taken >= vacancy.positions:
        return RefusalReason.POSITIONS_FILLED
    if not has_room(vacancy, quota_used):
        return RefusalReason.QUOTA_EXHAUSTED
    return None
