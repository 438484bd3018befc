"""Every table of the gateway, imported in one place for Alembic."""

from __future__ import annotations

from services.gateway.agreements.models import Agreement, QuotaUsage
from services.gateway.audit.models import AuditRecord
from services.gateway.auth.models import User
from services.gateway.clock.models import ClockState
from services.gateway.database.core import Base
from services.gateway.employers.models import Employer
from services.gateway.matches.models import Match
from services.gateway.outbox.models import OutboxRecord
from services.gateway.placements.models import Placement, ReturnRegistration
from services.gateway.projections.models import ConsumerLag, ProcessedEvent
from services.gateway.stream.models import Change
from services.gateway.timeline.models import TimelineEntry
from services.gateway.triggers.models import Trigger
from services.gateway.vacancies.models import Vacancy
from services.gateway.workers.models import Worker

metadata = Base.metadata

__all__ = ["Agreement", "AuditRecord", "Change", "ClockState", "ConsumerLag", "Employer", "Match",
           "OutboxRecord", "Placement", "ProcessedEvent", "QuotaUsage", "ReturnRegistration",
           "TimelineEntry", "Trigger", "User", "Vacancy", "Worker", "metadata"]
