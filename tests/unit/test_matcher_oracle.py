"""No proposal is ever made for an ineligible pair, whatever happens (SPEC 3.3-3.5).

Random sequences of what the matcher hears (workers registering, updating their
profile and being erased; vacancies posted, closed, their employer suspended and
verified again; recruiters approving and rejecting; workers accepting and
declining; returns and re-entry triggers) go through the matcher's real handlers
(tests/support/matcher_harness.py). After every step, the matches the matcher
published are checked against an independent reading of the spec
(tests/unit/matcher_oracle.py) and against what the test itself knows of every
worker and vacancy:

- every live proposal is for an open vacancy and an eligible pair (all of 3.3,
  quota and open positions included); every approved match still fits 3.3 but for
  the place it holds itself;
- a vacancy holds at most max(5, 3 x open positions) proposals, none once no
  position is open, and approved plus accepted matches never exceed its positions
  nor the quota of its agreement, occupation and year;
- a worker holds at most one accepted match whose placement has not returned;
- a vacancy short of proposals has no eligible worker left waiting (refills happen
  after rejections, declines, withdrawals and released quota alike).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import triggers as tr
from schemas.events import vacancies as va
from schemas.events import workers as wk
from schemas.events.matches import match_id
from tests.support.matcher_harness import MatcherHarness
from tests.unit.matcher_oracle import (
    add_months,
    pair_problems,
    proposal_limit,
    vacancy_problems,
)

AGREEMENTS = {
    "DE": dict(agreement_id="am-de", origin_country="AM", destination_country="DE",
               title="AM-DE", valid_from=date(2027, 1, 1), valid_until=date(2028, 12, 31),
               max_contract_months=9, min_age=18, max_age=55,
               language_requirement={"language": "de", "min_level": "A2"},
               reentry_cooldown_months=3, return_grace_days=14,
               occupations=[{"isco_code": "6111", "annual_quota": 2,
                             "min_monthly_wage": {"amount": "1800", "currency": "EUR"}},
                            {"isco_code": "7112", "annual_quota": 1,
                             "min_monthly_wage": {"amount": "2000", "currency": "EUR"}}]),
    "KR": dict(agreement_id="am-kr", origin_country="AM", destination_country="KR",
               title="AM-KR", valid_from=date(2027, 1, 1), valid_until=date(2028, 12, 31),
               max_contract_months=12, min_age=20, max_age=45, reentry_cooldown_months=3,
               return_grace_days=14,
               occupations=[{"isco_code": "6111", "annual_quota": 1,
                             "min_monthly_wage": {"amount": "2000000", "currency": "KRW"}}]),
}
EMPLOYERS = {"e1": "DE", "e2": "DE", "k1": "KR"}
WORKER_IDS = [f"w{i}" for i in range(8)]
VACANCY_IDS = [f"v{i}" for i in range(6)]
SKILLS = ["tractor", "pruning", "masonry"]
LEVELS = ["A1", "A2", "B1", "B2", "C1", "C2"]

def mostly(usual: Any, *others: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``usual``, now and then one of ``others``: enough eligible pairs to
    match, and every rule broken now and then."""
    other = st.one_of(*others)
    return st.integers(0, 9).flatmap(lambda i: st.just(usual) if i < 8 else other)


occupation_lists = mostly(
    None, st.just([]), st.lists(st.fixed_dictionaries({
        "isco_code": st.sampled_from(["6111", "7112"]),
        "experience_years": st.integers(0, 8)}), max_size=2,
        unique_by=lambda o: o["isco_code"]))
profiles = st.fixed_dictionaries({
    "date_of_birth": st.one_of(st.dates(date(1975, 1, 1), date(2000, 12, 31)),
                               st.dates(date(1968, 1, 1), date(2010, 12, 31))),
    "citizenship": mostly("AM", st.just("GE")),
    "occupations": occupation_lists,
    "experience": st.integers(0, 8),
    "skills": st.lists(st.sampled_from(SKILLS), unique=True),
    "languages": mostly([{"language": "de", "level": "B1"}], st.lists(st.fixed_dictionaries({
        "language": st.sampled_from(["de", "en"]), "level": st.sampled_from(LEVELS)}),
        max_size=2, unique_by=lambda x: x["language"])),
    "preferred_destinations": st.sampled_from([[], [], ["DE"], ["DE"], ["KR"], ["DE", "KR"],
                                               ["PL"]]),
    "available_from": mostly(date(2027, 1, 1), st.dates(date(2027, 1, 1), date(2028, 3, 1))),
    "consent_matching": mostly(True, st.just(False)),
}).map(lambda p: {**{k: v for k, v in p.items() if k != "experience"},
                  "occupations": p["occupations"] if p["occupations"] is not None
                  else [{"isco_code": "6111", "experience_years": p["experience"]}]})
postings = st.fixed_dictionaries({
    "employer_id": st.sampled_from(["e1", "e1", "e2", "k1"]),
    "isco_code": mostly("6111", st.just("7112")),
    "positions": st.integers(1, 3),
    "start_date": st.dates(date(2027, 1, 1), date(2028, 6, 30)),
    "required_skills": st.lists(st.sampled_from(SKILLS), unique=True),
    "min_experience_years": st.integers(0, 4),
    "language_requirement": mostly(None, st.just({"language": "de", "min_level": "B1"}),
                                   st.just({"language": "en", "min_level": "A2"})),
    "below_floor": mostly(False, st.just(True)),
    "contract_months": mostly(6, st.just(10)),
})


def posting_event(vacancy_id: str, p: dict[str, Any]) -> va.VacancyPosted:
    destination = EMPLOYERS[p["employer_id"]]
    floor = next((o["min_monthly_wage"] for o in AGREEMENTS[destination]["occupations"]
                  if o["isco_code"] == p["isco_code"]),
                 {"amount": "2000000" if destination == "KR" else "1800",
                  "currency": "KRW" if destination == "KR" else "EUR"})
    amount = int(floor["amount"]) - (1 if p["below_floor"] else 0)
    return va.VacancyPosted(
        vacancy_id=vacancy_id, employer_id=p["employer_id"], destination_country=destination,
        isco_code=p["isco_code"], title="Job", positions=p["positions"],
        monthly_wage={"amount": str(amount), "currency": floor["currency"]},
        contract_months=p["contract_months"], start_date=p["start_date"],
        required_skills=p["required_skills"], min_experience_years=p["min_experience_years"],
        language_requirement=p["language_requirement"])


class Matching(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.m = MatcherHarness()
        for terms in AGREEMENTS.values():
            self.m.send(ag.AgreementRecorded(**terms))
        for employer, country in EMPLOYERS.items():
            self.m.send(em.EmployerRegistered(employer_id=employer, country=country))
            self.m.send(em.EmployerVerified(employer_id=employer))
        self.workers: dict[str, dict[str, Any]] = {}  # profiles, as sent
        self.erased: set[str] = set()
        self.vacancies: dict[str, dict[str, Any]] = {}  # posting + closed, as sent
        self.verified = dict.fromkeys(EMPLOYERS, True)
        self.returned: dict[str, date] = {}  # match id -> return date
        self.last_return: dict[str, tuple[date, int]] = {}  # worker -> (R, cooldown)
        self.step_output: list[Any] = []

    # --- what the matcher hears -------------------------------------------------------

    @initialize(roster=st.lists(profiles, min_size=3, max_size=8),
                posted=st.lists(postings, min_size=1, max_size=3))
    def start(self, roster: list[dict[str, Any]], posted: list[dict[str, Any]]) -> None:
        for worker, profile in zip(WORKER_IDS, roster, strict=False):
            self.register_or_update(worker, profile)
        for vacancy, posting in zip(VACANCY_IDS, posted, strict=False):
            self.post(vacancy, posting)

    def send(self, event: Any) -> None:
        self.step_output = self.m.send(event)

    @rule(data=st.data(), kind=st.sampled_from(["profile"] * 4 + ["erase"]))
    def a_worker(self, data: st.DataObject, kind: str) -> None:
        worker = data.draw(st.sampled_from(WORKER_IDS), label="worker")
        if kind == "erase":
            self.erase(worker)
        else:
            self.register_or_update(worker, data.draw(profiles, label="profile"))

    @rule(data=st.data(), kind=st.sampled_from(["post"] * 3 + ["close", "e2"]))
    def an_employer(self, data: st.DataObject, kind: str) -> None:
        if kind == "e2":
            self.employer_e2(data.draw(st.booleans(), label="verify"))
            return
        vacancy = data.draw(st.sampled_from(VACANCY_IDS), label="vacancy")
        if kind == "close":
            self.close(vacancy)
        else:
            self.post(vacancy, data.draw(postings, label="posting"))

    @rule(data=st.data(), kind=st.sampled_from(["return"] * 3 + ["trigger"]))
    def a_return(self, data: st.DataObject, kind: str) -> None:
        if kind == "trigger":
            self.reentry_trigger(data.draw(st.sampled_from(WORKER_IDS), label="worker"))
        else:
            self.come_back(data, data.draw(st.dates(date(2027, 2, 1), date(2028, 6, 1)),
                                           label="on"),
                           data.draw(st.booleans(), label="on_time"))

    def register_or_update(self, worker: str, profile: dict[str, Any]) -> None:
        known = worker in self.workers
        cls = wk.WorkerProfileUpdated if known else wk.WorkerRegistered
        self.send(cls(worker_id=worker, **profile))
        self.workers[worker] = profile

    def erase(self, worker: str) -> None:
        self.send(wk.WorkerErased(worker_id=worker))
        self.erased.add(worker)  # for good, whatever comes later

    def post(self, vacancy: str, posting: dict[str, Any]) -> None:
        event = posting_event(vacancy, posting)
        self.send(event)
        if vacancy not in self.vacancies:  # the first posting of an id is the one
            self.vacancies[vacancy] = {**event.model_dump(mode="python"), "closed": False}

    def close(self, vacancy: str) -> None:
        if vacancy in self.vacancies:
            v = self.vacancies[vacancy]
            self.send(va.VacancyClosed(vacancy_id=vacancy, employer_id=v["employer_id"]))
            v["closed"] = True

    def employer_e2(self, verify: bool) -> None:
        self.send(em.EmployerVerified(employer_id="e2") if verify
                  else em.EmployerSuspended(employer_id="e2"))
        self.verified["e2"] = verify

    @rule(data=st.data(), approve=st.sampled_from([True, True, False]))
    def review(self, data: st.DataObject, approve: bool) -> None:
        rows = self.m.matches()
        proposed = sorted(k for k, r in rows.items() if r["status"] == "proposed")
        # now and then a review of a match that is no longer pending
        pool = proposed if proposed and data.draw(st.integers(0, 4)) else sorted(rows)
        if not pool:
            return
        mid = data.draw(st.sampled_from(pool))
        row = rows[mid]
        self.send(mv.MatchReviewed(
            match_id=mid, vacancy_id=row["vacancy_id"], worker_id=row["worker_id"],
            market=self.market(row["vacancy_id"]), decision="approve" if approve else "reject",
            reason=None if approve else "not suitable", reviewed_by="u-rec"))

    @rule(data=st.data(), accept=st.sampled_from([True, True, False]))
    def respond(self, data: st.DataObject, accept: bool) -> None:
        rows = self.m.matches()
        approved = sorted(k for k, r in rows.items() if r["status"] == "approved")
        if not approved:
            return
        mid = data.draw(st.sampled_from(approved))
        row = rows[mid]
        self.send(mv.MatchResponded(
            match_id=mid, vacancy_id=row["vacancy_id"], worker_id=row["worker_id"],
            market=self.market(row["vacancy_id"]), decision="accept" if accept else "decline"))

    def come_back(self, data: st.DataObject, on: date, on_time: bool) -> None:
        rows = self.m.matches()
        abroad = sorted(k for k, r in rows.items()
                        if r["status"] == "accepted" and k not in self.returned)
        if not abroad:
            return
        mid = data.draw(st.sampled_from(abroad))
        row = rows[mid]
        worker = row["worker_id"]
        previous = self.last_return.get(worker)
        if previous is not None and on <= previous[0]:  # returns follow one another
            on = previous[0] + timedelta(days=30)
        vacancy = self.vacancies[row["vacancy_id"]]
        agreement = AGREEMENTS[vacancy["destination_country"]]
        cooldown = agreement["reentry_cooldown_months"]
        self.send(pl.PlacementReturned(
            placement_id=f"p{mid[2:]}", match_id=mid, worker_id=worker,
            employer_id=vacancy["employer_id"], agreement_id=agreement["agreement_id"],
            return_id=f"r{mid[2:]}", return_date=on, expected_return_date=on,
            on_time=on_time, early=False, reentry_from=add_months(on, cooldown)))
        self.returned[mid] = on
        self.last_return[worker] = (on, cooldown)

    def reentry_trigger(self, worker: str) -> None:
        if worker not in self.last_return:
            return
        self.send(tr.TriggerFired(
            trigger_id=f"t-{worker}-{len(self.m.published)}", worker_id=worker,
            placement_id="p-any", kind=tr.TriggerKind.REENTRY_ELIGIBLE, cause="cooldown",
            reason="cooldown over", due_date=date(2028, 1, 1)))
        # the cooldown is a rule on start dates, known since the return: nothing to do
        assert self.step_output == []

    # --- what the test knows -------------------------------------------------------

    def market(self, vacancy_id: str) -> str:
        v = self.vacancies[vacancy_id]
        return mv.market_key(v["destination_country"], v["isco_code"])

    def agreement(self, vacancy: dict[str, Any]) -> dict[str, Any]:
        return AGREEMENTS[vacancy["destination_country"]]

    def is_open(self, vacancy: dict[str, Any]) -> bool:
        return not vacancy_problems(vacancy, self.agreement(vacancy),
                                    self.verified[vacancy["employer_id"]], vacancy["closed"])

    def person(self, worker_id: str, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
        busy = any(r["worker_id"] == worker_id and r["status"] == "accepted"
                   and mid not in self.returned for mid, r in rows.items())
        back = self.last_return.get(worker_id)
        return {**self.workers[worker_id], "erased": worker_id in self.erased, "busy": busy,
                "reentry_from": add_months(*back) if back else None}

    def quota_key(self, vacancy: dict[str, Any]) -> tuple[str, str, int]:
        return (self.agreement(vacancy)["agreement_id"], vacancy["isco_code"],
                vacancy["start_date"].year)

    def annual_quota(self, vacancy: dict[str, Any]) -> int:
        return next((o["annual_quota"] for o in self.agreement(vacancy)["occupations"]
                     if o["isco_code"] == vacancy["isco_code"]), 0)

    # --- what must hold after every step -------------------------------------------

    @invariant()
    def matches_follow_the_spec(self) -> None:
        rows = self.m.matches()
        held_by_vacancy: Counter[str] = Counter()
        held_by_quota: Counter[tuple[str, str, int]] = Counter()
        proposed: Counter[str] = Counter()
        for r in rows.values():
            vacancy = self.vacancies[r["vacancy_id"]]
            if r["status"] in ("approved", "accepted"):
                held_by_vacancy[r["vacancy_id"]] += 1
                held_by_quota[self.quota_key(vacancy)] += 1
            if r["status"] == "proposed":
                proposed[r["vacancy_id"]] += 1
        people = {w: self.person(w, rows) for w in self.workers}

        def problems(worker_id: str, vacancy_id: str, held_self: int = 0) -> list[str]:
            vacancy = self.vacancies[vacancy_id]
            return pair_problems(
                people[worker_id], vacancy, self.agreement(vacancy),
                quota_used=held_by_quota[self.quota_key(vacancy)] - held_self,
                positions_taken=held_by_vacancy[vacancy_id] - held_self)

        just_proposed = {e.match_id for e in (d.event for d in self.step_output)
                         if isinstance(e, mv.MatchProposed)}
        for mid, r in rows.items():
            vacancy = self.vacancies[r["vacancy_id"]]
            if r["status"] == "proposed" or mid in just_proposed:
                assert self.is_open(vacancy), (mid, r)
                assert problems(r["worker_id"], r["vacancy_id"]) == [], (mid, r)
            elif r["status"] == "approved":
                assert self.is_open(vacancy), (mid, r)
                assert problems(r["worker_id"], r["vacancy_id"], held_self=1) == [], (mid, r)
        for vacancy_id, vacancy in self.vacancies.items():
            taken = held_by_vacancy[vacancy_id]
            assert taken <= vacancy["positions"], vacancy_id
            assert proposed[vacancy_id] <= proposal_limit(vacancy["positions"], taken), \
                vacancy_id
        for vacancy in self.vacancies.values():
            key = self.quota_key(vacancy)
            assert held_by_quota[key] <= self.annual_quota(vacancy), key
        abroad = Counter(r["worker_id"] for mid, r in rows.items()
                         if r["status"] == "accepted" and mid not in self.returned)
        assert all(n == 1 for n in abroad.values()), abroad
        # refills: a vacancy short of proposals has nobody eligible left waiting
        for vacancy_id, vacancy in self.vacancies.items():
            if not self.is_open(vacancy):
                continue
            limit = proposal_limit(vacancy["positions"], held_by_vacancy[vacancy_id])
            if proposed[vacancy_id] >= limit:
                continue
            for worker_id in people:
                row = rows.get(match_id(worker_id, vacancy_id))
                if row is not None and row["status"] != "withdrawn":
                    continue  # proposed, or decided on already
                assert problems(worker_id, vacancy_id), (
                    f"{worker_id} waits while {vacancy_id} holds {proposed[vacancy_id]} of "
                    f"{limit} proposals")


Matching.TestCase.settings = settings(
    max_examples=int(os.environ.get("MATCHER_ORACLE_EXAMPLES", "100")),
    stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_no_proposal_is_ever_made_for_an_ineligible_pair = Matching.TestCase
