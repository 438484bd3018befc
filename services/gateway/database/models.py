"""Every table of the gateway, imported in one place for Alembic."""

from __future__ import annotations

from services.gateway.agreements.models import Agreement
from services.gateway.auth.models import User
from services.gateway.database.core import Base
from services.gateway.employers.models import Employer
from services.gateway.outbox.models import OutboxRecord
from services.gateway.projections.models import ProcessedEvent
from services.gateway.vacancies.models import Vacancy

metadata = Base.metadata

__all__ = ["Agreement", "Employer", "OutboxRecord", "ProcessedEvent", "User", "Vacancy",
           "metadata"]
