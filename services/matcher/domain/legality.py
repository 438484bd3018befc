"""Is a vacancy legal under a labour agreement? (SPEC 3.2)

A vacancy is evaluated against every agreement whose destination is the vacancy's
country. The agreement it is judged under is the one it breaks the fewest rules
of (ties: the one covering its occupation, then the latest to start, then the
lowest id), and its verdict lists every rule it breaks there. A vacancy with no
agreement at all is still checked for what needs no agreement (employer, fee).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.events.agreements import AgreementRecorded
from schemas.events.vacancies import VacancyPosted, Verdict, Violation


class EmployerStatus:
    REGISTERED = "registered"
    VERIFIED = "verified"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Agreement:
    terms: AgreementRecorded
    active: bool = True


@dataclass(frozen=True)
class Evaluation:
    status: Verdict
    violations: tuple[Violation, ...]
    agreement_id: str | None

    @property
    def is_open(self) -> bool:
        return self.status is Verdict.OPEN


def _employer_violations(employer_status: str | None) -> list[Violation]:
    return [] if employer_status == EmployerStatus.VERIFIED else [Violation.EMPLOYER_NOT_VERIFIED]


def _fee_violations(vacancy: VacancyPosted) -> list[Violation]:
    fee = vacancy.worker_fee
    return [Violation.WORKER_FEE_CHARGED] if fee is not None and fee.amount > 0 else []


def violations_under(vacancy: VacancyPosted, agreement: Agreement,
                     employer_status: str | None) -> list[Violation]:
    """Every rule of SPEC 3.2 the vacancy breaks under this agreement."""
    terms = agreement.terms
    found: list[Violation] = []
    occupation = terms.occupation(vacancy.isco_code)
    if occupation is None:
        found.append(Violation.OCCUPATION_NOT_COVERED)
    if not terms.valid_from <= vacancy.start_date <= terms.valid_until:
        found.append(Violation.OUTSIDE_AGREEMENT_VALIDITY)
    if not agreement.active:
        found.append(Violation.AGREEMENT_SUSPENDED)
    found += _employer_violations(employer_status)
    if occupation is not None:
        floor = occupation.min_monthly_wage
        if vacancy.monthly_wage.currency != floor.currency:
            found.append(Violation.CURRENCY_MISMATCH)
        elif vacancy.monthly_wage.amount < floor.amount:
            found.append(Violation.WAGE_BELOW_FLOOR)
    if vacancy.contract_months > terms.max_contract_months:
        found.append(Violation.CONTRACT_TOO_LONG)
    found += _fee_violations(vacancy)
    return found


def evaluate(vacancy: VacancyPosted, agreements: Iterable[Agreement],
             employer_status: str | None, *, closed: bool = False) -> Evaluation:
    candidates = [a for a in agreements
                  if a.terms.destination_country == vacancy.destination_country]
    if not candidates:
        found = [Violation.NO_AGREEMENT, *_employer_violations(employer_status),
                 *_fee_violations(vacancy)]
        return _verdict(found, None, closed)

    def rank(a: Agreement) -> tuple[int, int, int, str]:
        v = violations_under(vacancy, a, employer_status)
        covers = 0 if a.terms.occupation(vacancy.isco_code) is not None else 1
        return (len(v), covers, -a.terms.valid_from.toordinal(), a.terms.agreement_id)

    best = min(candidates, key=rank)
    return _verdict(violations_under(vacancy, best, employer_status),
                    best.terms.agreement_id, closed)


def _verdict(found: list[Violation], agreement_id: str | None, closed: bool) -> Evaluation:
    if closed:
        status = Verdict.CLOSED
    else:
        status = Verdict.REJECTED if found else Verdict.OPEN
    return Evaluation(status, tuple(found), agreement_id)
