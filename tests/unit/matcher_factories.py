"""Builders for matcher rule tests."""

from datetime import date

from schemas.codes import CefrLevel
from services.matcher.domain.views import VacancyView, WorkerView


def worker(worker_id="w1", **changes):
    base = dict(worker_id=worker_id, date_of_birth=date(1990, 6, 15), citizenship="AM",
                occupations={"6111": 5}, skills=frozenset({"tractor", "pruning"}),
                languages={"de": CefrLevel.B1}, preferred_destinations=frozenset(),
                available_from=date(2027, 1, 1), consent_matching=True)
    return WorkerView(**{**base, **changes})


def vacancy(vacancy_id="v1", **changes):
    base = dict(vacancy_id=vacancy_id, employer_id="e1", destination_country="DE",
                isco_code="6111", positions=2, start_date=date(2027, 4, 1), contract_months=6,
                required_skills=frozenset({"tractor", "pruning"}), min_experience_years=2,
                language_requirement=None, agreement_id="am-de", origin_country="AM",
                min_age=18, max_age=55, agreement_language=None, annual_quota=10,
                return_grace_days=14, reentry_cooldown_months=3)
    return VacancyView(**{**base, **changes})
