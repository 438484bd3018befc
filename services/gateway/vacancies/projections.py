"""Folding the matcher's vacancy verdicts and fill levels into ``vacancies``."""

from __future__ import annotations

import logging

from schemas.codec import Decoded
from schemas.events import vacancies as ev
from services.gateway.projections.fold import Fold, Row
from services.gateway.stream.models import ChangeKind
from services.gateway.vacancies.models import Vacancy

log = logging.getLogger(__name__)


def on_evaluated(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.VacancyEvaluated)
    row = fold.get(Vacancy, event.vacancy_id)
    if row is None:
        log.warning("verdict for an unknown vacancy", extra={"vacancy_id": event.vacancy_id})
        return
    row["verdict"] = event.status.value
    row["violations"] = [v.value for v in event.violations]
    row["agreement_id"] = event.agreement_id
    fold.put(Vacancy, row)
    _changed(fold, row)


def on_positions_changed(fold: Fold, decoded: Decoded) -> None:
    event = decoded.event
    assert isinstance(event, ev.VacancyPositionsChanged)
    row = fold.get(Vacancy, event.vacancy_id)
    if row is not None:
        row["positions_filled"] = event.positions_filled
        fold.put(Vacancy, row)
        _changed(fold, row)


def _changed(fold: Fold, row: Row) -> None:
    """For the stream: the vacancy's status as the API shows it, to its employer."""
    status = Vacancy(closed=row["closed"], verdict=row["verdict"],
                     positions=row["positions"],
                     positions_filled=row["positions_filled"]).status
    fold.changed(ChangeKind.VACANCY, row["id"], status.value, vacancy_id=row["id"],
                 employer_id=row["employer_id"])


PROJECTIONS = {
    ev.VacancyEvaluated: on_evaluated,
    ev.VacancyPositionsChanged: on_positions_changed,
}
