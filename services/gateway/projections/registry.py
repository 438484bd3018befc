"""Which read model each event lands in, and the topics the projector reads."""

from __future__ import annotations

from schemas.events.base import Event
from schemas.topics import VACANCY_STATUS, Topic
from services.gateway.projections.consumer import Projection
from services.gateway.vacancies import projections as vacancies

TOPICS: tuple[Topic, ...] = (VACANCY_STATUS,)


def projections() -> dict[type[Event], Projection]:
    found: dict[type[Event], Projection] = {}
    for module in (vacancies,):
        found.update(module.PROJECTIONS)
    return found
