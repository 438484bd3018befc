"""What the matching rules read: a worker and an open vacancy with its agreement's
terms, as frozen values built from the contracts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from schemas.codes import CefrLevel
from schemas.events.agreements import AgreementRecorded
from schemas.events.market import MarketVacancy, MarketWorker, WorkerStanding
from schemas.events.vacancies import VacancyPosted, Verdict
from schemas.events.workers import WorkerProfile

Language = tuple[str, CefrLevel]


class SharedValues:
    """One object for each distinct value among many workers' views: a national roster
    repeats the same skills, destinations, occupations, languages and dates hundreds of
    thousands of times (a view of its own values is ~1.2 kB). The values are never
    changed after a view is built (the mappings are read-only by convention, as the
    frozen view's).

    Profiles change, so values go out of use. They are held in two generations: a
    lookup finds a value in either (and keeps it in the newer); once the newer holds
    ``generation`` values it becomes the older one, and the older is dropped. So what
    it holds stays under two generations' worth whatever the churn (each round of
    every worker's profile sent again added about half of what a roster's values
    were); a value no view asked for during a whole generation leaves it (views
    holding it keep it, and an equal value asked for later is another object). The
    owner sizes ``generation`` to what it holds (:class:`Workers`: twice its views)."""

    MIN_GENERATION = 4096

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}
        self._older: dict[Any, Any] = {}
        self.generation = self.MIN_GENERATION

    def __len__(self) -> int:
        return len(self._values) + len(self._older)

    def value(self, value: Any) -> Any:
        """``value`` (hashable), or the equal one given before."""
        found = self._values.get(value)
        return found if found is not None else self._keep(value, value)

    def day(self, iso: str) -> date:
        found = self._values.get(iso)
        if found is None:
            found = self._keep(iso, None) or self._keep(iso, date.fromisoformat(iso))
        return cast(date, found)

    def mapping(self, mapping: dict[Any, Any]) -> Mapping[Any, Any]:
        key = ("mapping", *sorted(mapping.items()))
        found = self._values.get(key)
        return cast(Mapping[Any, Any], found if found is not None else self._keep(key, mapping))

    def _keep(self, key: Any, value: Any) -> Any:
        """The older generation's value for ``key`` or else ``value`` (None: only the
        older's), now in the newer."""
        found = self._older.pop(key, None)
        if found is None:
            if value is None:
                return None
            found = value
        self._values[key] = found
        if len(self._values) >= self.generation:
            self._older, self._values = self._values, {}
        return found


@dataclass(frozen=True, slots=True, weakref_slot=True)
class WorkerView:
    worker_id: str
    date_of_birth: date
    citizenship: str
    occupations: Mapping[str, int]
    skills: frozenset[str]
    languages: Mapping[str, CefrLevel]
    preferred_destinations: frozenset[str]
    available_from: date
    consent_matching: bool
    erased: bool = False
    busy: bool = False
    reentry_from: date | None = None
    returned_on_time: bool = False
    rehire_employers: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, worker_id: str, profile: WorkerProfile, **standing: object) -> WorkerView:
        return cls(
            worker_id=worker_id, date_of_birth=profile.date_of_birth,
            citizenship=profile.citizenship,
            occupations={o.isco_code: o.experience_years for o in profile.occupations},
            skills=frozenset(profile.skills),
            languages={x.language: x.level for x in profile.languages},
            preferred_destinations=frozenset(profile.preferred_destinations),
            available_from=profile.available_from, consent_matching=profile.consent_matching,
            **standing)  # type: ignore[arg-type]

    @classmethod
    def from_record(cls, data: Mapping[str, Any],
                    shared: SharedValues | None = None) -> WorkerView | None:
        """From a stored MarketWorker (as JSON data) without re-validating it: the
        stage validated it when it arrived. With ``shared``, equal field values of
        different workers are one object."""
        profile = data.get("profile")
        if profile is None or data["standing"] in ("erased", "left"):
            return None
        v = shared if shared is not None else SharedValues()
        reentry = data.get("reentry_from")
        return cls(
            worker_id=data["worker_id"],
            date_of_birth=v.day(profile["date_of_birth"]),
            citizenship=v.value(profile["citizenship"]),
            occupations=v.mapping({o["isco_code"]: o["experience_years"]
                                   for o in profile["occupations"]}),
            skills=v.value(frozenset(profile["skills"])),
            languages=v.mapping({x["language"]: CefrLevel(x["level"])
                                 for x in profile["languages"]}),
            preferred_destinations=v.value(frozenset(profile["preferred_destinations"])),
            available_from=v.day(profile["available_from"]),
            consent_matching=profile["consent_matching"], busy=data["standing"] == "busy",
            reentry_from=v.day(reentry) if reentry else None,
            returned_on_time=data.get("returned_on_time", False),
            rehire_employers=v.value(frozenset(data.get("rehire_employers", ()))))

    @classmethod
    def from_market(cls, message: MarketWorker) -> WorkerView | None:
        """None when the worker is not matchable in this market at all."""
        if message.profile is None or message.standing in (WorkerStanding.ERASED,
                                                           WorkerStanding.LEFT):
            return None
        return cls.of(message.worker_id, message.profile,
                      busy=message.standing is WorkerStanding.BUSY,
                      reentry_from=message.reentry_from,
                      returned_on_time=message.returned_on_time,
                      rehire_employers=frozenset(message.rehire_employers))


@dataclass(frozen=True)
class VacancyView:
    """An open vacancy and the terms of the agreement it is legal under."""

    vacancy_id: str
    employer_id: str
    destination_country: str
    isco_code: str
    positions: int
    start_date: date
    contract_months: int
    required_skills: frozenset[str]
    min_experience_years: int
    language_requirement: Language | None
    agreement_id: str
    origin_country: str
    min_age: int
    max_age: int
    agreement_language: Language | None
    annual_quota: int
    return_grace_days: int
    reentry_cooldown_months: int

    @property
    def quota_key(self) -> tuple[str, str, int]:
        """Quota is counted per agreement, occupation and year of the start date."""
        return (self.agreement_id, self.isco_code, self.start_date.year)

    @classmethod
    def of(cls, vacancy: VacancyPosted, agreement: AgreementRecorded) -> VacancyView:
        occupation = agreement.occupation(vacancy.isco_code)
        req = vacancy.language_requirement
        areq = agreement.language_requirement
        return cls(
            vacancy_id=vacancy.vacancy_id, employer_id=vacancy.employer_id,
            destination_country=vacancy.destination_country, isco_code=vacancy.isco_code,
            positions=vacancy.positions, start_date=vacancy.start_date,
            contract_months=vacancy.contract_months,
            required_skills=frozenset(vacancy.required_skills),
            min_experience_years=vacancy.min_experience_years,
            language_requirement=(req.language, req.min_level) if req else None,
            agreement_id=agreement.agreement_id, origin_country=agreement.origin_country,
            min_age=agreement.min_age, max_age=agreement.max_age,
            agreement_language=(areq.language, areq.min_level) if areq else None,
            annual_quota=occupation.annual_quota if occupation else 0,
            return_grace_days=agreement.return_grace_days,
            reentry_cooldown_months=agreement.reentry_cooldown_months)

    @classmethod
    def from_market(cls, message: MarketVacancy) -> VacancyView | None:
        """None unless the vacancy is open under an agreement."""
        if message.status is not Verdict.OPEN or message.agreement is None:
            return None
        return cls.of(message.vacancy, message.agreement)
