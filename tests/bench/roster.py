"""A synthetic but realistic roster: destinations and occupations skewed the way
labour demand is (a few occupations hold most vacancies; Zipf-like), workers with
one to three occupations and one to three preferred destinations (a tenth list
none), ages 19-60, languages at assorted levels. Deterministic for a seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta

from schemas.codes import isco_unit_groups
from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import vacancies as va
from schemas.events import workers as wk

DESTINATIONS = ["DE", "KR", "CA", "PL", "CZ", "IL", "AE", "QA", "SA", "JP", "IT", "ES", "FR",
                "NL", "BE", "AT", "SE", "FI", "DK", "NO", "IE", "GB", "US", "AU", "NZ", "LT",
                "LV", "EE", "HU", "SK"]
CURRENCY = "EUR"
SKILLS = ["tractor", "pruning", "irrigation", "welding", "forklift", "greenhouse", "masonry",
          "carpentry", "plumbing", "wiring", "cooking", "caregiving", "driving", "packing",
          "harvesting", "milking", "painting", "tiling", "sewing", "cleaning"]
LEVELS = ["A1", "A2", "B1", "B2", "C1"]


def occupations(count: int = 60) -> list[str]:
    codes = sorted(isco_unit_groups())
    step = len(codes) // count
    return [codes[i * step] for i in range(count)]


class Roster:
    def __init__(self, seed: int = 7, n_occupations: int = 60) -> None:
        self.rng = random.Random(seed)
        self.occupations = occupations(n_occupations)
        # Zipf-like weights: occupation k gets 1/(k+1)^1.2 of the demand
        self.weights = [1 / (k + 1) ** 1.2 for k in range(len(self.occupations))]

    def occupation(self) -> str:
        return self.rng.choices(self.occupations, self.weights)[0]

    def agreements(self) -> Iterator[ag.AgreementRecorded]:
        for i, dest in enumerate(DESTINATIONS):
            yield ag.AgreementRecorded(
                agreement_id=f"am-{dest.lower()}", origin_country="AM", destination_country=dest,
                title=f"Armenia-{dest}", valid_from=date(2027, 1, 1),
                valid_until=date(2029, 12, 31), max_contract_months=12, min_age=18,
                max_age=55 + i % 6, reentry_cooldown_months=3, return_grace_days=14,
                language_requirement={"language": "en", "min_level": "A1"} if i % 5 == 0
                else None,
                occupations=[{"isco_code": o, "annual_quota": 100_000,
                              "min_monthly_wage": {"amount": "1000", "currency": CURRENCY}}
                             for o in self.occupations])

    def employers(self, count: int) -> Iterator[em.EmployerRegistered | em.EmployerVerified]:
        for i in range(count):
            yield em.EmployerRegistered(employer_id=f"e{i}", country=DESTINATIONS[i % 30])
            yield em.EmployerVerified(employer_id=f"e{i}")

    def worker(self, i: int) -> wk.WorkerRegistered:
        rng = self.rng
        occs = {self.occupation() for _ in range(rng.choice((1, 1, 2, 3)))}
        prefs = ([] if rng.random() < 0.1 else
                 rng.sample(DESTINATIONS, rng.choice((1, 2, 3))))
        return wk.WorkerRegistered(
            worker_id=f"w{i}",
            date_of_birth=date(1966, 1, 1) + timedelta(days=rng.randrange(365 * 41)),
            citizenship="AM",
            occupations=[{"isco_code": o, "experience_years": rng.randrange(0, 16)}
                         for o in sorted(occs)],
            skills=rng.sample(SKILLS, rng.randrange(1, 6)),
            languages=[{"language": "en", "level": rng.choice(LEVELS)}] if rng.random() < 0.7
            else [],
            preferred_destinations=prefs,
            available_from=date(2027, 1, 1) + timedelta(days=rng.randrange(180)),
            consent_matching=rng.random() > 0.02)

    def vacancy(self, i: int, employers: int) -> va.VacancyPosted:
        rng = self.rng
        employer = rng.randrange(employers)
        return va.VacancyPosted(
            vacancy_id=f"v{i}", employer_id=f"e{employer}",
            destination_country=DESTINATIONS[employer % 30], isco_code=self.occupation(),
            title="Job", positions=rng.choice((1, 1, 2, 3, 5)),
            monthly_wage={"amount": str(1000 + rng.randrange(2000)), "currency": CURRENCY},
            contract_months=rng.choice((3, 6, 9, 12)),
            start_date=date(2027, 3, 1) + timedelta(days=rng.randrange(300)),
            required_skills=rng.sample(SKILLS, rng.randrange(0, 4)),
            min_experience_years=rng.randrange(0, 5))
