"""May this worker be proposed for this open vacancy? (SPEC 3.3)

Every condition has a code; :func:`failures` lists all that fail, in the order of
the SPEC. Boundaries: ages are whole years on the start date (a birthday on the
start date counts) and both age limits are inclusive; a language level equal to
the requirement meets it; available on the start date is in time; a returnee may
start on the day the cooldown ends (``reentry_from``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from schemas.codes import CefrLevel
from services.matcher.domain.views import VacancyView, WorkerView


class Ineligible(StrEnum):
    NO_CONSENT = "no_consent"
    ERASED = "erased"
    WRONG_ORIGIN = "wrong_origin"
    OCCUPATION_NOT_LISTED = "occupation_not_listed"
    TOO_LITTLE_EXPERIENCE = "too_little_experience"
    TOO_YOUNG = "too_young"
    TOO_OLD = "too_old"
    LANGUAGE = "language"
    NOT_AVAILABLE_YET = "not_available_yet"
    DESTINATION_NOT_PREFERRED = "destination_not_preferred"
    BUSY = "busy"
    IN_COOLDOWN = "in_cooldown"
    QUOTA_FULL = "quota_full"
    POSITIONS_FULL = "positions_full"


def age_on(born: date, day: date) -> int:
    """Whole years of age on ``day`` (29 February birthdays count on 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def language_needs(vacancy: VacancyView) -> dict[str, CefrLevel]:
    """The stricter of the agreement's and the vacancy's requirement: the same
    language at the higher level; different languages, both."""
    needs: dict[str, CefrLevel] = {}
    for req in (vacancy.agreement_language, vacancy.language_requirement):
        if req is None:
            continue
        language, level = req
        if language not in needs or level.rank > needs[language].rank:
            needs[language] = level
    return needs


def failures(worker: WorkerView, vacancy: VacancyView, *, quota_room: bool = True,
             positions_taken: int = 0) -> list[Ineligible]:
    found: list[Ineligible] = []
    if not worker.consent_matching:
        found.append(Ineligible.NO_CONSENT)
    if worker.erased:
        found.append(Ineligible.ERASED)
    if worker.citizenship != vacancy.origin_country:
        found.append(Ineligible.WRONG_ORIGIN)
    experience = worker.occupations.get(vacancy.isco_code)
    if experience is None:
        found.append(Ineligible.OCCUPATION_NOT_LISTED)
    elif experience < vacancy.min_experience_years:
        found.append(Ineligible.TOO_LITTLE_EXPERIENCE)
    age = age_on(worker.date_of_birth, vacancy.start_date)
    if age < vacancy.min_age:
        found.append(Ineligible.TOO_YOUNG)
    elif age > vacancy.max_age:
        found.append(Ineligible.TOO_OLD)
    for language, level in language_needs(vacancy).items():
        has = worker.languages.get(language)
        if has is None or has.rank < level.rank:
            found.append(Ineligible.LANGUAGE)
            break
    if worker.available_from > vacancy.start_date:
        found.append(Ineligible.NOT_AVAILABLE_YET)
    if (worker.preferred_destinations
            and vacancy.destination_country not in worker.preferred_destinations):
        found.append(Ineligible.DESTINATION_NOT_PREFERRED)
    if worker.busy:
        found.append(Ineligible.BUSY)
    if worker.reentry_from is not None and vacancy.start_date < worker.reentry_from:
        found.append(Ineligible.IN_COOLDOWN)
    if not quota_room:
        found.append(Ineligible.QUOTA_FULL)
    if positions_taken >= vacancy.positions:
        found.append(Ineligible.POSITIONS_FULL)
    return found


def is_eligible(worker: WorkerView, vacancy: VacancyView, *, quota_room: bool = True,
                positions_taken: int = 0) -> bool:
    return not failures(worker, vacancy, quota_room=quota_room,
                        positions_taken=positions_taken)
