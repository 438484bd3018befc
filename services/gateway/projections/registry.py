"""Which read model each event lands in, and the topics the projector reads."""

from __future__ import annotations

from schemas.events.base import Event
from schemas.topics import CLOCK, MATCHES, PLACEMENTS, QUOTA, TRIGGERS, VACANCY_STATUS, Topic
from services.gateway.clock import projections as clock
from services.gateway.matches import projections as matches
from services.gateway.placements import projections as placements
from services.gateway.projections.fold import Projection
from services.gateway.triggers import projections as triggers
from services.gateway.vacancies import projections as vacancies

TOPICS: tuple[Topic, ...] = (VACANCY_STATUS, MATCHES, QUOTA, PLACEMENTS, TRIGGERS, CLOCK)


def projections() -> dict[type[Event], Projection]:
    found: dict[type[Event], Projection] = {}
    for module in (vacancies, matches, placements, triggers, clock):
        found.update(module.PROJECTIONS)
    return found
