"""Folding the matcher's vacancy verdicts and fill levels into ``vacancies``."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from schemas.codec import Decoded
from schemas.events import vacancies as ev
from services.gateway.vacancies.models import Vacancy

log = logging.getLogger(__name__)


def on_evaluated(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.VacancyEvaluated)
    row = session.get(Vacancy, event.vacancy_id)
    if row is None:
        log.warning("verdict for an unknown vacancy", extra={"vacancy_id": event.vacancy_id})
        return
    row.verdict = event.status.value
    row.violations = [v.value for v in event.violations]
    row.agreement_id = event.agreement_id


def on_positions_changed(session: Session, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.VacancyPositionsChanged)
    row = session.get(Vacancy, event.vacancy_id)
    if row is not None:
        row.positions_filled = event.positions_filled


PROJECTIONS = {
    ev.VacancyEvaluated: on_evaluated,
    ev.VacancyPositionsChanged: on_positions_changed,
}
