"""Reintegration triggers (SPEC 3.6). Fired by the tracker, completed by recruiters."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from schemas.codes import Id
from schemas.events.base import Event

_TRIGGER_NS = uuid.UUID("c7d3f1a2-4b6e-4e0f-9a1d-3e5b7c9f2d14")


class TriggerKind(StrEnum):
    COUNSELLING_REFERRAL = "counselling_referral"
    BUSINESS_SUPPORT = "business_support"
    LOCAL_JOB_MATCHING = "local_job_matching"
    SKILLS_RECOGNITION = "skills_recognition"
    WELFARE_CHECK = "welfare_check"
    COUNTER_TRAFFICKING_REFERRAL = "counter_trafficking_referral"
    OVERDUE_RETURN = "overdue_return"
    REENTRY_ELIGIBLE = "reentry_eligible"


def trigger_id(worker_id: str, placement_id: str | None, kind: str, cause: str) -> str:
    """Fires once per cause: the same worker, placement, kind and cause give one id.
    A trigger of no placement (a return registration that matched none) takes the
    empty string in its place; ids never are empty, so the two never meet."""
    name = "\x1f".join((worker_id, placement_id or "", kind, cause))
    return "t-" + uuid.uuid5(_TRIGGER_NS, name).hex[:24]


class TriggerFired(Event):
    type = "circular.trigger.fired"
    key_field = "worker_id"
    trigger_id: Id
    worker_id: Id
    placement_id: Annotated[Id | None, Field(
        description="the placement it concerns; null for a return registration that "
        "matched no open placement")] = None
    kind: TriggerKind
    cause: Annotated[str, Field(max_length=120, description="what fired it, e.g. a return id")]
    reason: Annotated[str, Field(max_length=500)]
    due_date: date


class Outcome(StrEnum):
    SERVICE_DELIVERED = "service_delivered"
    REFERRED = "referred"
    DECLINED_BY_WORKER = "declined_by_worker"
    UNREACHABLE = "unreachable"
    NOT_NEEDED = "not_needed"


class TriggerCompleted(Event):
    """A recruiter closed a trigger. Free-text notes stay in the gateway's database."""

    type = "circular.trigger.completed"
    key_field = "worker_id"
    trigger_id: Id
    worker_id: Id
    outcome: Outcome
    completed_by: Id
