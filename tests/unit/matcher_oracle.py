"""An independent reading of SPEC 3.2 (is a vacancy open?) and 3.3 (may a worker be
proposed for it?), for checking the matcher from outside. Written from the spec's
text over plain data, the way the events carry it; it imports nothing from
``services.matcher`` so a mistake in the production rules cannot hide here.

Data shapes (dicts):

- ``worker``: the fields of WorkerRegistered (``date_of_birth``, ``citizenship``,
  ``occupations`` [{isco_code, experience_years}], ``languages`` [{language,
  level}], ``preferred_destinations``, ``available_from``, ``consent_matching``),
  plus what the world knows about the person: ``erased`` (bool), ``busy`` (holds an
  accepted match whose placement has not returned), ``reentry_from`` (the return
  date of the latest placement plus the cooldown of the agreement it was under,
  or None);
- ``vacancy``: the fields of VacancyPosted;
- ``agreement``: the fields of AgreementRecorded, plus ``active`` (bool).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

CEFR = ["A1", "A2", "B1", "B2", "C1", "C2"]


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(year=year, month=month,
                       day=min(day.day, calendar.monthrange(year, month)[1]))


def whole_years(born: date, on: date) -> int:
    """Completed years of age on a day: one more on each birthday."""
    years = on.year - born.year
    if (on.month, on.day) < (born.month, born.day):
        years -= 1
    return years


def _covered(agreement: Mapping[str, Any], isco: str) -> Mapping[str, Any] | None:
    for o in agreement["occupations"]:
        if o["isco_code"] == isco:
            return o
    return None


def vacancy_problems(vacancy: Mapping[str, Any], agreement: Mapping[str, Any] | None,
                     employer_verified: bool, closed: bool = False) -> list[str]:
    """Why the vacancy is not open under ``agreement`` (SPEC 3.2); empty: open."""
    found = []
    if closed:
        found.append("closed")
    if not employer_verified:
        found.append("employer_not_verified")
    fee = vacancy.get("worker_fee")
    if fee is not None and Decimal(str(fee["amount"])) != 0:
        found.append("worker_fee_charged")
    if agreement is None or agreement["destination_country"] != vacancy["destination_country"]:
        return [*found, "no_agreement"]
    occupation = _covered(agreement, vacancy["isco_code"])
    if occupation is None:
        found.append("occupation_not_covered")
    if not agreement["valid_from"] <= vacancy["start_date"] <= agreement["valid_until"]:
        found.append("outside_agreement_validity")
    if not agreement.get("active", True):
        found.append("agreement_suspended")
    if occupation is not None:
        floor, wage = occupation["min_monthly_wage"], vacancy["monthly_wage"]
        if floor["currency"] != wage["currency"]:
            found.append("currency_mismatch")
        elif Decimal(str(wage["amount"])) < Decimal(str(floor["amount"])):
            found.append("wage_below_floor")
    if vacancy["contract_months"] > agreement["max_contract_months"]:
        found.append("contract_too_long")
    return found


def _requirements(vacancy: Mapping[str, Any], agreement: Mapping[str, Any]
                  ) -> list[tuple[str, str]]:
    found = []
    for req in (agreement.get("language_requirement"), vacancy.get("language_requirement")):
        if req is not None:
            found.append((req["language"], _value(req["min_level"])))
    return found


def pair_problems(worker: Mapping[str, Any], vacancy: Mapping[str, Any],
                  agreement: Mapping[str, Any], *, quota_used: int, positions_taken: int
                  ) -> list[str]:
    """Why ``worker`` may not be proposed for the open ``vacancy`` (SPEC 3.3, rules
    1 to 8, and the origin of SPEC 3.2); empty: eligible. ``quota_used``: approved and
    accepted matches under the agreement's quota for the occupation and the start
    year; ``positions_taken``: those of this vacancy."""
    found = []
    start = vacancy["start_date"]
    if worker["citizenship"] != agreement["origin_country"]:
        found.append("origin")
    # 1
    if not worker["consent_matching"] or worker.get("erased", False):
        found.append("1 consent/erased")
    # 2
    years = {o["isco_code"]: o["experience_years"] for o in worker["occupations"]}
    if vacancy["isco_code"] not in years:
        found.append("2 occupation")
    elif years[vacancy["isco_code"]] < vacancy.get("min_experience_years", 0):
        found.append("2 experience")
    # 3
    if not agreement["min_age"] <= whole_years(worker["date_of_birth"], start) \
            <= agreement["max_age"]:
        found.append("3 age")
    # 4: every requirement met; for one language that is the stricter level
    has = {x["language"]: CEFR.index(_value(x["level"])) for x in worker["languages"]}
    for language, level in _requirements(vacancy, agreement):
        if has.get(language, -1) < CEFR.index(level):
            found.append("4 language")
            break
    # 5
    if worker["available_from"] > start:
        found.append("5 available")
    # 6
    preferred = worker["preferred_destinations"]
    if preferred and vacancy["destination_country"] not in preferred:
        found.append("6 destination")
    # 7
    if worker.get("busy", False):
        found.append("7 busy")
    reentry = worker.get("reentry_from")
    if reentry is not None and start < reentry:
        found.append("7 cooldown")
    # 8
    quota = _covered(agreement, vacancy["isco_code"])
    if quota is None or quota_used >= quota["annual_quota"]:
        found.append("8 quota")
    if positions_taken >= vacancy["positions"]:
        found.append("8 positions")
    return found


def proposal_limit(positions: int, taken: int) -> int:
    """SPEC 3.4: at most max(5, 3 x open positions) proposals; none when no position
    is open (SPEC 3.3 rule 8)."""
    open_positions = positions - taken
    return max(5, 3 * open_positions) if open_positions > 0 else 0
