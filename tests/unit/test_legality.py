"""Vacancy legality (SPEC 3.2): every violation code, at its boundary."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.events.agreements import AgreementRecorded
from schemas.events.vacancies import VacancyPosted, Verdict, Violation
from services.matcher.domain.legality import Agreement, EmployerStatus, evaluate

V = Violation
TERMS = dict(
    agreement_id="am-de", origin_country="AM", destination_country="DE", title="AM-DE",
    valid_from=date(2027, 1, 1), valid_until=date(2027, 12, 31), max_contract_months=9,
    min_age=18, max_age=55, reentry_cooldown_months=3, return_grace_days=14,
    occupations=[{"isco_code": "6111", "annual_quota": 10,
                  "min_monthly_wage": {"amount": "1800.00", "currency": "EUR"}}],
)
VACANCY = dict(
    vacancy_id="v1", employer_id="e1", destination_country="DE", isco_code="6111",
    title="Harvest", positions=2, monthly_wage={"amount": "1800.00", "currency": "EUR"},
    contract_months=9, start_date=date(2027, 3, 1),
)


def agreement(active=True, **changes):
    return Agreement(AgreementRecorded(**{**TERMS, **changes}), active=active)


def vacancy(**changes):
    return VacancyPosted(**{**VACANCY, **changes})


def verdict(v=None, agreements=None, employer=EmployerStatus.VERIFIED, closed=False):
    return evaluate(v or vacancy(), [agreement()] if agreements is None else agreements,
                    employer, closed=closed)


def test_a_vacancy_meeting_every_rule_is_open_under_its_agreement():
    result = verdict()
    assert result.status is Verdict.OPEN
    assert result.violations == ()
    assert result.agreement_id == "am-de"


@pytest.mark.parametrize(("v", "agreements", "employer", "expected"), [
    (vacancy(destination_country="KR"), None, EmployerStatus.VERIFIED, {V.NO_AGREEMENT}),
    (vacancy(isco_code="7112"), None, EmployerStatus.VERIFIED, {V.OCCUPATION_NOT_COVERED}),
    (vacancy(start_date=date(2026, 12, 31)), None, EmployerStatus.VERIFIED,
     {V.OUTSIDE_AGREEMENT_VALIDITY}),
    (vacancy(start_date=date(2028, 1, 1)), None, EmployerStatus.VERIFIED,
     {V.OUTSIDE_AGREEMENT_VALIDITY}),
    (vacancy(), [agreement(active=False)], EmployerStatus.VERIFIED, {V.AGREEMENT_SUSPENDED}),
    (vacancy(), None, EmployerStatus.REGISTERED, {V.EMPLOYER_NOT_VERIFIED}),
    (vacancy(), None, EmployerStatus.SUSPENDED, {V.EMPLOYER_NOT_VERIFIED}),
    (vacancy(), None, None, {V.EMPLOYER_NOT_VERIFIED}),
    (vacancy(monthly_wage={"amount": "1799.99", "currency": "EUR"}), None,
     EmployerStatus.VERIFIED, {V.WAGE_BELOW_FLOOR}),
    (vacancy(monthly_wage={"amount": "5000", "currency": "USD"}), None,
     EmployerStatus.VERIFIED, {V.CURRENCY_MISMATCH}),
    (vacancy(contract_months=10), None, EmployerStatus.VERIFIED, {V.CONTRACT_TOO_LONG}),
    (vacancy(worker_fee={"amount": "0.01", "currency": "EUR"}), None,
     EmployerStatus.VERIFIED, {V.WORKER_FEE_CHARGED}),
])
def test_each_rule_is_reported_alone(v, agreements, employer, expected):
    result = verdict(v, agreements, employer)
    assert result.status is Verdict.REJECTED
    assert set(result.violations) == expected


@pytest.mark.parametrize("v", [
    vacancy(start_date=date(2027, 1, 1)),
    vacancy(start_date=date(2027, 12, 31)),
    vacancy(monthly_wage={"amount": "1800", "currency": "EUR"}),
    vacancy(contract_months=9),
    vacancy(worker_fee={"amount": "0", "currency": "EUR"}),
])
def test_boundaries_are_legal(v):
    assert verdict(v).status is Verdict.OPEN


def test_every_broken_rule_is_listed():
    v = vacancy(monthly_wage={"amount": "100", "currency": "EUR"}, contract_months=12,
                worker_fee={"amount": "50", "currency": "EUR"}, start_date=date(2029, 1, 1))
    result = verdict(v, [agreement(active=False)], EmployerStatus.REGISTERED)
    assert set(result.violations) == {V.WAGE_BELOW_FLOOR, V.CONTRACT_TOO_LONG,
                                      V.WORKER_FEE_CHARGED, V.OUTSIDE_AGREEMENT_VALIDITY,
                                      V.AGREEMENT_SUSPENDED, V.EMPLOYER_NOT_VERIFIED}


def test_without_an_agreement_the_other_rules_still_count():
    v = vacancy(destination_country="KR", worker_fee={"amount": "1", "currency": "KRW"})
    result = verdict(v, [], EmployerStatus.REGISTERED)
    assert set(result.violations) == {V.NO_AGREEMENT, V.EMPLOYER_NOT_VERIFIED,
                                      V.WORKER_FEE_CHARGED}


def test_the_agreement_broken_least_is_the_one_that_counts():
    old = agreement(agreement_id="old", valid_from=date(2025, 1, 1), valid_until=date(2026, 12, 31))
    new = agreement(agreement_id="new")
    result = verdict(agreements=[old, new])
    assert result.status is Verdict.OPEN and result.agreement_id == "new"


def test_closed_wins_over_everything():
    assert verdict(closed=True).status is Verdict.CLOSED
    assert verdict(vacancy(destination_country="KR"), closed=True).status is Verdict.CLOSED


def floor_of(amount):
    return agreement(occupations=[{"isco_code": "6111", "annual_quota": 10,
                                   "min_monthly_wage": {"amount": amount, "currency": "EUR"}}])


@pytest.mark.parametrize(("floor", "wage", "below"), [
    ("1800.10", "1800.1", False),              # the same amount, written differently
    ("1800.10", "1800.09", True),               # one cent below
    ("1800", "1799.99", True),
    ("999999999999.99", "999999999999.99", False),
    ("999999999999.99", "999999999999.98", True),  # one cent below, at the largest amount
    ("0.30", "0.3", False),
    ("0.30", "0.29", True),
])
def test_wage_compares_exact_decimals(floor, wage, below):
    result = verdict(vacancy(monthly_wage={"amount": wage, "currency": "EUR"}),
                     [floor_of(floor)])
    assert result.violations == ((V.WAGE_BELOW_FLOOR,) if below else ())
    assert result.status is (Verdict.REJECTED if below else Verdict.OPEN)


def test_a_wage_below_a_cent_cannot_be_stated():
    """So no rounding can decide legality: 1799.995 is neither 1799.99 nor 1800.00."""
    with pytest.raises(ValidationError, match="decimal"):
        vacancy(monthly_wage={"amount": "1799.995", "currency": "EUR"})
    assert vacancy(monthly_wage={"amount": "1799.99", "currency": "EUR"}).monthly_wage.amount \
        == Decimal("1799.99")
