"""Every event type, by its wire name, and the upcasters that lift old versions."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from schemas.events import (
    agreements,
    clock,
    employers,
    market,
    matches,
    placements,
    triggers,
    vacancies,
    workers,
)
from schemas.events.base import Event

EVENTS: tuple[type[Event], ...] = (
    agreements.AgreementRecorded,
    agreements.AgreementSuspended,
    agreements.AgreementResumed,
    employers.EmployerRegistered,
    employers.EmployerVerified,
    employers.EmployerSuspended,
    vacancies.VacancyPosted,
    vacancies.VacancyClosed,
    vacancies.VacancyEvaluated,
    vacancies.VacancyPositionsChanged,
    workers.WorkerRegistered,
    workers.WorkerProfileUpdated,
    workers.WorkerErased,
    matches.MatchReviewed,
    matches.MatchResponded,
    matches.MatchProposed,
    matches.MatchApproved,
    matches.MatchApprovalRefused,
    matches.MatchRejected,
    matches.MatchAccepted,
    matches.MatchAcceptanceRefused,
    matches.MatchDeclined,
    matches.MatchWithdrawn,
    matches.QuotaUsageChanged,
    placements.DepartureRecorded,
    placements.ReturnRegistered,
    placements.PlacementStarted,
    placements.PlacementOverdue,
    placements.PlacementReturned,
    placements.ReturnUnmatched,
    placements.ReturnReminderDue,
    clock.ClockTicked,
    triggers.TriggerFired,
    triggers.TriggerCompleted,
    market.MarketVacancy,
    market.MarketWorker,
    market.AcceptanceRequest,
)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: (event type, version it reads) -> function returning the data of the next version.
#: Add one when an event gains a version; old records on the log stay readable.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


@cache
def by_type() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    for cls in EVENTS:
        if cls.type in found:
            raise ValueError(f"event type {cls.type} is defined twice")
        found[cls.type] = cls
    return found
