"""Departures, returns and placements (SPEC 3.6).

The gateway publishes what people record (departures, return registrations); the
tracker publishes the placement's lifecycle. Everything is keyed by worker.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.codes import CountryCode, Id, IscoCode, ShortText, Skill
from schemas.events.base import Event

_PLACEMENT_NS = uuid.UUID("5b1e0d8e-86a4-4c39-8f0e-2a7c9d4e1f30")


def placement_id(match_id: str) -> str:
    """A match departs at most once, so the placement id follows from the match."""
    return "p-" + uuid.uuid5(_PLACEMENT_NS, match_id).hex[:24]


class Intention(StrEnum):
    RE_MIGRATE = "re_migrate"
    LOCAL_JOB = "local_job"
    START_BUSINESS = "start_business"
    STUDY = "study"
    UNDECIDED = "undecided"


class Need(StrEnum):
    TRAINING = "training"
    CREDIT = "credit"
    COUNSELLING = "counselling"
    HEALTH = "health"
    HOUSING = "housing"
    LEGAL = "legal"


class EarlyReturnReason(StrEnum):
    CONTRACT_ENDED = "contract_ended"
    EMPLOYER_ABUSE = "employer_abuse"
    HEALTH = "health"
    FAMILY = "family"
    OTHER = "other"


class DepartureRecorded(Event):
    type = "circular.departure.recorded"
    key_field = "worker_id"
    match_id: Id
    worker_id: Id
    departure_date: date
    border_crossing_point: ShortText | None = None
    recorded_by: Id


class ReturnRegistered(Event):
    type = "circular.return.registered"
    key_field = "worker_id"
    return_id: Id
    worker_id: Id
    match_id: Id | None = None
    return_date: date
    intentions: Annotated[list[Intention], Field(max_length=5)] = []
    needs: Annotated[list[Need], Field(max_length=6)] = []
    skills_acquired: Annotated[list[Skill], Field(max_length=50)] = []
    early_return_reason: EarlyReturnReason | None = None


class PlacementStatus(StrEnum):
    ABROAD = "abroad"
    OVERDUE = "overdue"
    RETURNED = "returned"


class PlacementStarted(Event):
    type = "circular.placement.started"
    key_field = "worker_id"
    placement_id: Id
    match_id: Id
    worker_id: Id
    vacancy_id: Id
    employer_id: Id
    agreement_id: Id
    destination_country: CountryCode
    isco_code: IscoCode
    departure_date: date
    expected_return_date: date


class PlacementOverdue(Event):
    type = "circular.placement.overdue"
    key_field = "worker_id"
    placement_id: Id
    worker_id: Id
    expected_return_date: date
    overdue_since: date


class PlacementReturned(Event):
    type = "circular.placement.returned"
    key_field = "worker_id"
    placement_id: Id
    match_id: Id
    worker_id: Id
    employer_id: Id
    agreement_id: Id
    return_id: Id
    return_date: date
    expected_return_date: date
    on_time: bool
    early: bool
    reentry_from: Annotated[date, Field(description="first start date of a next placement")]


class ReturnUnmatched(Event):
    """A return registration the tracker could not attach to an open placement."""

    type = "circular.return.unmatched"
    key_field = "worker_id"
    return_id: Id
    worker_id: Id
    return_date: date
    reason: ShortText


class ReturnReminderDue(Event):
    """Thirty days before the expected return: the agency and worker plan the return."""

    type = "circular.return.reminder-due"
    key_field = "worker_id"
    placement_id: Id
    worker_id: Id
    expected_return_date: date
    remind_on: date
