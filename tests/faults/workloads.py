"""Deterministic workloads: the same inputs, with the same event ids, for a run with
faults and for the reference run without. Each workload comes in phases; the driver
lets the system catch up between phases, so the effects do not depend on how the
records of different partitions interleave (within a phase no decision depends on
another phase's records arriving first).

Matcher workload (``market``): labour markets each get vacancies with room for
every eligible worker of their market (no displacement, so the set of proposals is
fixed by the inputs alone), then the workers register, then some withdraw and
re-grant consent (every proposal withdrawn and made again) or are erased, then
vacancies close and employers are suspended.

Tracker workload (``placements``): accepted matches depart, return on time, early
(with and without abuse), late within the grace period, after being overdue, or
never; returns that match no placement; a clock tick every two weeks.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from schemas.events import agreements as ag
from schemas.events import clock as ck
from schemas.events import employers as em
from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import vacancies as va
from schemas.events import workers as wk
from schemas.events.base import Event
from schemas.events.matches import match_id
from schemas.topics import (
    AGREEMENTS,
    CLOCK,
    EMPLOYERS,
    MATCHES,
    MOVEMENTS,
    VACANCIES,
    WORKERS,
    Topic,
)
from services.matcher.domain.proposals import capacity
from services.tracker.domain.dates import add_months

_IDS = uuid.UUID("3f1d7a52-9c4e-4b8a-a1e6-5d0c2b7f9e83")
DESTINATIONS = ["DE", "KR", "CA", "PL", "CZ", "IL", "AE", "QA", "SA", "JP", "IT", "ES", "FR",
                "NL", "BE", "AT", "SE", "FI", "DK", "NO", "IE", "GB", "US", "AU", "NZ", "LT",
                "LV", "EE", "HU", "SK"]
OCCUPATIONS = ["6111", "6112", "6113", "6114", "6121", "6122", "7112", "7115", "7122", "7126",
               "7212", "7411", "8322", "8332", "9111", "9211", "9212", "9313", "9329", "9412"]
SKILLS = ["tractor", "pruning", "irrigation", "welding", "forklift", "greenhouse", "masonry",
          "carpentry", "plumbing", "wiring"]
START = date(2027, 5, 1)
VACANCY_POSITIONS = 5


def event_id(workload: str, n: int) -> str:
    """Input ids are fixed by the workload and the record's place in it."""
    return str(uuid.uuid5(_IDS, f"{workload}/{n}"))


@dataclass(frozen=True)
class Input:
    topic: Topic
    event: Event
    event_id: str


@dataclass
class Workload:
    name: str
    setup: list[Input] = field(default_factory=list)
    phases: list[list[Input]] = field(default_factory=list)
    count: int = 0
    #: records of an earlier phase that a redelivery brings again, after newer ones (an
    #: outbox re-published after a crash, an operator's replay of a slice of a topic)
    stale: list[Input] = field(default_factory=list)
    stale_after: int = -1  # the phase after which they come again

    @property
    def stream(self) -> list[Input]:
        return [i for phase in self.phases for i in phase]

    def inputs(self) -> list[Input]:
        return self.setup + self.stream

    def add(self, where: list[Input], topic: Topic, event: Event) -> None:
        self.count += 1
        where.append(Input(topic, event, event_id(self.name, self.count)))


# --- the matcher workload --------------------------------------------------------------


@dataclass(frozen=True)
class MarketPlan:
    """How big the matcher workload is. ``workers`` per market stay below the
    proposal capacity of every vacancy (5 positions: 15 proposals)."""

    destinations: int
    occupations: int
    workers: int
    toggles: int
    erasures: int
    closes: int

    @classmethod
    def for_size(cls, size: int) -> MarketPlan:
        """About ``size`` stream events."""
        markets = max(6, round(size * 0.06))
        destinations = min(len(DESTINATIONS), max(3, round(markets ** 0.5 * 1.2)))
        occupations = min(len(OCCUPATIONS), max(2, markets // destinations))
        workers = round(size * 0.58)
        return cls(destinations, occupations, workers, toggles=round(size * 0.3),
                   erasures=round(size * 0.01), closes=round(size * 0.02))


def agreement(dest: str, occupations: list[str]) -> ag.AgreementRecorded:
    i = DESTINATIONS.index(dest)
    return ag.AgreementRecorded(
        agreement_id=f"am-{dest.lower()}", origin_country="AM", destination_country=dest,
        title=f"Armenia-{dest} seasonal work", valid_from=date(2027, 1, 1),
        valid_until=date(2029, 12, 31), max_contract_months=9, min_age=18, max_age=55,
        language_requirement={"language": "en", "min_level": "A2"} if i % 4 == 3 else None,
        reentry_cooldown_months=3, return_grace_days=14,
        occupations=[{"isco_code": o, "annual_quota": 100_000,
                      "min_monthly_wage": {"amount": "1500", "currency": "EUR"}}
                     for o in occupations])


def market_vacancy(n: int, employer: str, dest: str, isco: str, rng: random.Random,
                   legal: bool = True) -> va.VacancyPosted:
    return va.VacancyPosted(
        vacancy_id=f"v{n}", employer_id=employer, destination_country=dest, isco_code=isco,
        title="Seasonal work", positions=VACANCY_POSITIONS,
        monthly_wage={"amount": str(1600 + rng.randrange(800)) if legal else "900",
                      "currency": "EUR"},
        contract_months=rng.choice((3, 6, 9)), start_date=START,
        required_skills=rng.sample(SKILLS, 2), min_experience_years=1,
        worker_fee={"amount": "0" if legal else "300", "currency": "EUR"})


def market_worker(n: int, dest: str | None, isco: str, rng: random.Random) -> wk.WorkerRegistered:
    kind = n % 12  # 0..1: not eligible anywhere, for different reasons
    born = date(1985, 1, 1) + timedelta(days=rng.randrange(3650))
    return wk.WorkerRegistered(
        worker_id=f"w{n}", date_of_birth=date(1960, 1, 1) if kind == 0 else born,
        citizenship="AM",
        occupations=[{"isco_code": isco, "experience_years": 0 if kind == 1
                      else 1 + rng.randrange(12)}],
        skills=rng.sample(SKILLS, rng.randrange(0, 4)),
        languages=[{"language": "en", "level": rng.choice(("A2", "B1", "B2"))}],
        preferred_destinations=[dest] if dest else [],
        available_from=date(2027, 1, 1) + timedelta(days=rng.randrange(100)),
        consent_matching=True)


def _no_displacement(markets: list[tuple[str, str]], registered: list[Input]) -> None:
    """What keeps the matcher workload's effects independent of how partitions
    interleave: no market has more candidates than a vacancy can hold proposals, so
    no proposal displaces another (who is displaced depends on who came first)."""
    most = capacity(VACANCY_POSITIONS, 0)
    everywhere = sorted({dest for dest, _ in markets})
    candidates: Counter[tuple[str, str]] = Counter()
    for i in registered:
        assert isinstance(i.event, wk.WorkerRegistered)
        isco = i.event.occupations[0].isco_code
        for dest in i.event.preferred_destinations or everywhere:
            candidates[(dest, isco)] += 1
    for (dest, isco), count in sorted(candidates.items()):
        if count > most:
            raise ValueError(f"market {mv.market_key(dest, isco)} has {count} candidates, "
                             f"more than the {most} proposals a vacancy holds: effects "
                             "would depend on arrival order")


def matcher_workload(size: int, seed: int = 7) -> Workload:
    rng = random.Random(seed)
    p = MarketPlan.for_size(size)
    dests, occs = DESTINATIONS[:p.destinations], OCCUPATIONS[:p.occupations]
    w = Workload("market")
    for dest in dests:
        w.add(w.setup, AGREEMENTS, agreement(dest, occs))
    employers = [(f"e-{d.lower()}-{k}", d) for d in dests for k in range(2)]
    for employer, dest in employers:
        w.add(w.setup, EMPLOYERS, em.EmployerRegistered(employer_id=employer, country=dest))
        w.add(w.setup, EMPLOYERS, em.EmployerVerified(employer_id=employer))
    vacancies: list[Input] = []
    markets = [(d, o) for d in dests for o in occs]
    for m, (dest, isco) in enumerate(markets):
        employer = f"e-{dest.lower()}-{m % 2}"
        w.add(vacancies, VACANCIES, market_vacancy(m, employer, dest, isco, rng))
        if m % 6 == 0:  # a second vacancy in some markets: every worker goes to both
            w.add(vacancies, VACANCIES, market_vacancy(10_000 + m, employer, dest, isco, rng))
        if m % 10 == 0:  # and an illegal one: below the wage floor, a fee charged
            w.add(vacancies, VACANCIES,
                  market_vacancy(20_000 + m, employer, dest, isco, rng, legal=False))
    w.phases.append(vacancies)
    registered: list[Input] = []
    for n in range(p.workers):
        dest, isco = markets[n % len(markets)]
        if n % 100 == 50:  # one worker in every hundred lists no destination: a
            # candidate in every market of its occupation (spread over the occupations)
            dest, isco = None, occs[(n // 100) % len(occs)]
        w.add(registered, WORKERS, market_worker(n, dest, isco, rng))
    w.phases.append(registered)
    _no_displacement(markets, registered)
    profiles = {i.event.worker_id: i.event for i in registered}  # type: ignore[attr-defined]
    toggled = rng.sample(range(p.workers), min(p.workers, p.toggles // 2))
    for consent in (False, True):  # one phase each: never two changes of one worker
        changes: list[Input] = []
        for n in toggled:
            profile = profiles[f"w{n}"].model_dump(exclude={"worker_id"})
            w.add(changes, WORKERS, wk.WorkerProfileUpdated(
                worker_id=f"w{n}", **{**profile, "consent_matching": consent}))
        if not consent:  # erasures of other workers: one change per worker and phase
            others = sorted(set(range(p.workers)) - set(toggled))
            for n in rng.sample(others, min(len(others), p.erasures)):
                w.add(changes, WORKERS, wk.WorkerErased(worker_id=f"w{n}"))
            w.stale = rng.sample(changes, max(1, len(changes) // 5))
        w.phases.append(changes)
    w.stale_after = len(w.phases) - 1
    endings: list[Input] = []
    posted = [i.event for i in vacancies]
    for vac in rng.sample(posted, min(len(posted), p.closes)):
        w.add(endings, VACANCIES, va.VacancyClosed(vacancy_id=vac.vacancy_id,  # type: ignore[attr-defined]
                                                   employer_id=vac.employer_id))  # type: ignore[attr-defined]
    w.phases.append(endings)
    # the suspension in a phase of its own: some of the closed vacancies are this
    # employer's, and which of the two withdraws their matches (and with which reason)
    # would depend on how two topics interleave, which neither Kafka nor the matcher
    # orders (a rebalance's backlog does reorder them)
    suspension: list[Input] = []
    w.add(suspension, EMPLOYERS, em.EmployerSuspended(employer_id=employers[-1][0]))
    w.phases.append(suspension)
    return w


# --- the tracker workload --------------------------------------------------------------

#: what each placement does, by its number modulo 20
ON_TIME, EARLY_ABUSE, EARLY_HEALTH, LATE_IN_GRACE, AFTER_OVERDUE, NEVER = range(6)


def fate(n: int) -> int:
    fates = [ON_TIME] * 12 + [EARLY_ABUSE, EARLY_HEALTH, LATE_IN_GRACE, LATE_IN_GRACE,
                              AFTER_OVERDUE, NEVER, NEVER, NEVER]
    return fates[n % 20]


def accepted(n: int, rng: random.Random) -> mv.MatchAccepted:
    dest = DESTINATIONS[n % 5]
    return mv.MatchAccepted(
        match_id=match_id(f"w{n}", f"v{n % 50}"), vacancy_id=f"v{n % 50}", worker_id=f"w{n}",
        employer_id=f"e{n % 25}", agreement_id=f"am-{dest.lower()}",
        destination_country=dest, isco_code=OCCUPATIONS[n % 7],
        contract_months=rng.choice((3, 6, 9)), return_grace_days=14,
        reentry_cooldown_months=3)


def the_return(n: int, match: mv.MatchAccepted, departed: date,
               rng: random.Random) -> pl.ReturnRegistered | None:
    expected = add_months(departed, match.contract_months)
    kind = fate(n)
    if kind == NEVER:
        return None
    back = {ON_TIME: expected - timedelta(days=rng.randrange(25)),
            EARLY_ABUSE: expected - timedelta(days=40 + rng.randrange(30)),
            EARLY_HEALTH: expected - timedelta(days=35 + rng.randrange(30)),
            LATE_IN_GRACE: expected + timedelta(days=1 + rng.randrange(12)),
            AFTER_OVERDUE: expected + timedelta(days=20 + rng.randrange(20))}[kind]
    reason = {EARLY_ABUSE: pl.EarlyReturnReason.EMPLOYER_ABUSE,
              EARLY_HEALTH: pl.EarlyReturnReason.HEALTH}.get(kind)
    intentions = rng.sample(list(pl.Intention), rng.randrange(0, 3))
    return pl.ReturnRegistered(
        return_id=f"r{n}", worker_id=match.worker_id,
        match_id=match.match_id if n % 3 else None, return_date=back,
        intentions=intentions, needs=rng.sample(list(pl.Need), rng.randrange(0, 2)),
        skills_acquired=rng.sample(SKILLS, 1) if n % 4 == 0 else [],
        early_return_reason=reason)


def _movements(placements: int, unmatched: int, rng: random.Random
               ) -> tuple[list[mv.MatchAccepted], list[tuple[date, Event]]]:
    matches, dated = [], []
    for n in range(placements):
        match = accepted(n, rng)
        departed = date(2027, 1, 4) + timedelta(days=rng.randrange(85))
        matches.append(match)
        dated.append((departed, pl.DepartureRecorded(
            match_id=match.match_id, worker_id=match.worker_id, departure_date=departed,
            recorded_by="recruiter-1")))
        back = the_return(n, match, departed, rng)
        if back is not None:
            dated.append((back.return_date, back))
    for k in range(unmatched):
        day = date(2027, 2, 1) + timedelta(days=rng.randrange(300))
        dated.append((day, pl.ReturnRegistered(return_id=f"ru{k}", worker_id=f"home{k}",
                                               return_date=day, intentions=["local_job"])))
    return matches, dated


def tracker_workload(size: int, seed: int = 11) -> Workload:
    """About ``size`` stream events: per placement an accepted match, a departure and
    mostly a return; a tick every 14 days, each after the movements it follows."""
    rng = random.Random(seed)
    placements = max(20, round(size / 2.9))
    matches, dated = _movements(placements, max(5, placements // 34), rng)
    w = Workload("placements")
    first: list[Input] = []
    for match in matches:
        w.add(first, MATCHES, match)
    w.phases.append(first)
    day, last = date(2027, 1, 1), date(2028, 6, 30)
    dated.sort(key=lambda x: (x[0], x[1].worker_id))  # type: ignore[attr-defined]
    k = 0
    while day <= last:
        phase: list[Input] = []
        while k < len(dated) and dated[k][0] <= day:
            w.add(phase, MOVEMENTS, dated[k][1])
            k += 1
        w.add(phase, CLOCK, ck.ClockTicked(date=day, source=ck.TickSource.ADMIN))
        w.phases.append(phase)
        day += timedelta(days=14)
    return w


# --- the gateway workload (HTTP) ---------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP write as a person makes it; ``key`` keeps one person's calls in order."""

    method: str
    path: str
    body: dict[str, Any] | None
    key: str


def gateway_calls(size: int, seed: int = 13) -> tuple[list[Call], list[list[Call]]]:
    """The matcher workload as people send it through the API: setup calls, then
    phases of calls (``size`` calls in all, about)."""
    w = matcher_workload(size, seed)
    setup: list[Call] = []
    for i in w.setup:
        setup.extend(_calls(i.event))
    phases = [[c for i in phase for c in _calls(i.event)] for phase in w.phases]
    return setup, phases


_PERSONAL = {"full_name": "Anahit Petrosyan", "region": "Shirak"}


def _worker_body(e: wk.WorkerRegistered | wk.WorkerProfileUpdated) -> dict[str, Any]:
    body = e.model_dump(mode="json")
    n = int(e.worker_id[1:])
    return {**body, **_PERSONAL, "full_name": f"Anahit Petrosyan {n}",
            "passport_number": f"AR{n:07d}", "phone": f"+374 91 {n:06d}",
            "email": f"w{n}@example.am"}


def _calls(e: Event) -> Iterator[Call]:
    if isinstance(e, ag.AgreementRecorded):
        yield Call("POST", "/agreements", e.model_dump(mode="json"), e.agreement_id)
    elif isinstance(e, em.EmployerRegistered):
        yield Call("POST", "/employers", {"employer_id": e.employer_id, "name": "Hof GmbH",
                                          "country": e.country,
                                          "registration_number": e.employer_id}, e.employer_id)
    elif isinstance(e, em.EmployerVerified):
        yield Call("POST", f"/employers/{e.employer_id}/verify", None, e.employer_id)
    elif isinstance(e, em.EmployerSuspended):
        yield Call("POST", f"/employers/{e.employer_id}/suspend", None, e.employer_id)
    elif isinstance(e, va.VacancyPosted):
        yield Call("POST", "/vacancies", e.model_dump(mode="json"), e.vacancy_id)
    elif isinstance(e, va.VacancyClosed):
        yield Call("POST", f"/vacancies/{e.vacancy_id}/close", None, e.vacancy_id)
    elif isinstance(e, wk.WorkerRegistered):
        yield Call("POST", "/workers", _worker_body(e), e.worker_id)
    elif isinstance(e, wk.WorkerProfileUpdated):
        yield Call("PATCH", f"/workers/{e.worker_id}",
                   {"consent_matching": e.consent_matching}, e.worker_id)
    elif isinstance(e, wk.WorkerErased):
        yield Call("DELETE", f"/workers/{e.worker_id}", None, e.worker_id)
