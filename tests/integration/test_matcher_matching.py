"""Matching on the real broker, through the matcher process's public topics: only
eligible workers are proposed, best first with their reasons; rejections and
declines refill, a better newcomer displaces the lowest unreviewed proposal, a
used-up quota refuses approvals (and a redelivered approval is not counted twice),
and a returnee waits out the cooldown to the day.

One matcher process serves the whole module; every test works in a labour market
of its own (an occupation of its own under the one agreement), so the tests do not
see each other's matches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from eventbus.admin import ensure_topics
from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import vacancies as va
from schemas.events import workers as wk
from schemas.events.base import Event
from schemas.events.matches import match_id
from schemas.topics import (
    AGREEMENTS,
    EMPLOYERS,
    MATCH_RESPONSES,
    MATCH_REVIEWS,
    MATCHES,
    PLACEMENTS,
    QUOTA,
    VACANCIES,
    VACANCY_STATUS,
    WORKERS,
    catalogue,
)
from tests.support.brokers import Broker
from tests.support.kafka import Publisher, Record, read_all, read_until
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.kafka

START = date(2027, 4, 1)
QUOTAS = {"6111": 50, "6112": 50, "6113": 50, "6114": 50, "6121": 1, "6122": 50}
AGREEMENT = ag.AgreementRecorded(
    agreement_id="am-de", origin_country="AM", destination_country="DE", title="AM-DE",
    valid_from=date(2027, 1, 1), valid_until=date(2028, 12, 31), max_contract_months=9,
    min_age=18, max_age=55, language_requirement={"language": "de", "min_level": "A2"},
    reentry_cooldown_months=3, return_grace_days=14,
    occupations=[{"isco_code": isco, "annual_quota": quota,
                  "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}
                 for isco, quota in QUOTAS.items()])


@dataclass
class World:
    bootstrap: str
    prefix: str
    pub: Publisher
    matcher: ServiceProcess

    def topic(self, t: Any) -> str:
        return str(t.prefixed(self.prefix).name)

    def send(self, event: Event, *, event_id: str | None = None) -> str:
        topic = {wk.WorkerRegistered: WORKERS, wk.WorkerProfileUpdated: WORKERS,
                 wk.WorkerErased: WORKERS, va.VacancyPosted: VACANCIES,
                 mv.MatchReviewed: MATCH_REVIEWS, mv.MatchResponded: MATCH_RESPONSES,
                 pl.PlacementReturned: PLACEMENTS, em.EmployerRegistered: EMPLOYERS,
                 em.EmployerVerified: EMPLOYERS, ag.AgreementRecorded: AGREEMENTS}[type(event)]
        return self.pub.event(self.topic(topic), event, event_id=event_id)

    def read_until(self, topics: list[Any], done: Callable[[list[Record]], bool],
                   what: str, timeout: float = 120) -> list[Record]:
        try:
            return read_until(self.bootstrap, [self.topic(t) for t in topics], done, timeout)
        except TimeoutError as exc:
            tail = "\n".join(self.matcher.log().splitlines()[-40:])
            raise AssertionError(f"waiting for {what}: {exc}\n--- matcher log ---\n{tail}") \
                from None

    def matches(self, done: Callable[[Matches], bool], what: str) -> Matches:
        return Matches(self.read_until([MATCHES], lambda r: done(Matches(r)), what))

    def settled(self) -> Matches:
        """Everything on the matches topic once nothing new came for a while."""
        return Matches(read_all(self.bootstrap, [self.topic(MATCHES)], settle=4))


class Matches:
    """The matches topic, folded as the gateway folds it (one entry per event id)."""

    def __init__(self, records: list[Record]) -> None:
        self.events: list[mv.MatchState] = []
        seen: set[str] = set()
        for r in records:
            if r.headers["ce_id"] not in seen:
                seen.add(r.headers["ce_id"])
                event = r.decoded().event
                assert isinstance(event, mv.MatchState)
                self.events.append(event)
        self.latest: dict[str, mv.MatchState] = {}
        self.proposal: dict[str, mv.MatchProposed] = {}
        for e in self.events:
            if not isinstance(e, mv.MatchApprovalRefused | mv.MatchAcceptanceRefused):
                self.latest[e.match_id] = e
            if isinstance(e, mv.MatchProposed):
                self.proposal[e.match_id] = e

    def of(self, vacancy_id: str) -> list[mv.MatchState]:
        return [e for e in self.events if e.vacancy_id == vacancy_id]

    def status(self, worker: str, vacancy: str) -> str | None:
        e = self.latest.get(match_id(worker, vacancy))
        if e is None:
            return None
        name = type(e).__name__.removeprefix("Match").lower()
        reason = getattr(e, "reason", None)
        return f"{name}:{reason.value}" if isinstance(e, mv.MatchWithdrawn) and reason \
            else name

    def live(self, vacancy: str) -> list[str]:
        """Workers proposed for the vacancy now, best first."""
        rows = [self.proposal[mid] for mid, e in self.latest.items()
                if isinstance(e, mv.MatchProposed) and e.vacancy_id == vacancy]
        return [e.worker_id for e in sorted(rows, key=lambda e: (-e.score, e.worker_id))]

    def ever_proposed(self, vacancy: str) -> set[str]:
        return {e.worker_id for e in self.of(vacancy) if isinstance(e, mv.MatchProposed)}


@pytest.fixture(scope="module")
def world(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    report = ensure_topics(broker.bootstrap, catalogue(prefix))
    assert not report.problems, report.problems
    var = tmp_path_factory.mktemp("matcher")
    env = {"CIRCULAR_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
           "CIRCULAR_TOPIC_PREFIX": prefix, "CIRCULAR_VAR_DIR": str(var)}
    matcher = ServiceProcess("matcher", ["services.matcher"], env, var / "matcher.log").start()
    w = World(broker.bootstrap, prefix, Publisher(broker.bootstrap), matcher)
    w.send(AGREEMENT)
    for e in ("e1", "e2"):
        w.send(em.EmployerRegistered(employer_id=e, country="DE"))
        w.send(em.EmployerVerified(employer_id=e))
    try:
        yield w
    finally:
        w.pub.close()
        matcher.stop()


def worker(worker_id: str, isco: str, years: int = 3, **changes: Any) -> wk.WorkerRegistered:
    return wk.WorkerRegistered(**{
        "worker_id": worker_id, "date_of_birth": date(1990, 1, 1), "citizenship": "AM",
        "occupations": [{"isco_code": isco, "experience_years": years}],
        "skills": ["tractor"], "languages": [{"language": "de", "level": "B1"}],
        "preferred_destinations": ["DE"], "available_from": date(2027, 1, 1),
        "consent_matching": True, **changes})


def vacancy(vacancy_id: str, isco: str, employer: str = "e1", positions: int = 1,
            **changes: Any) -> va.VacancyPosted:
    return va.VacancyPosted(**{
        "vacancy_id": vacancy_id, "employer_id": employer, "destination_country": "DE",
        "isco_code": isco, "title": "Harvest", "positions": positions,
        "monthly_wage": {"amount": "1900", "currency": "EUR"}, "contract_months": 6,
        "start_date": START, "required_skills": ["tractor", "pruning"],
        "min_experience_years": 1, **changes})


def review(vacancy_id: str, worker_id: str, isco: str, decision: str,
           reason: str | None = None) -> mv.MatchReviewed:
    return mv.MatchReviewed(match_id=match_id(worker_id, vacancy_id), vacancy_id=vacancy_id,
                            worker_id=worker_id, market=f"DE-{isco}", decision=decision,
                            reason=reason, reviewed_by="u-rec")


def respond(vacancy_id: str, worker_id: str, isco: str, decision: str) -> mv.MatchResponded:
    return mv.MatchResponded(match_id=match_id(worker_id, vacancy_id), vacancy_id=vacancy_id,
                             worker_id=worker_id, market=f"DE-{isco}", decision=decision)


def returned(worker_id: str, employer: str, on: date, reentry_from: date
             ) -> pl.PlacementReturned:
    return pl.PlacementReturned(
        placement_id=f"p-{worker_id}", match_id=f"m-old-{worker_id}", worker_id=worker_id,
        employer_id=employer, agreement_id="am-de", return_id=f"r-{worker_id}",
        return_date=on, expected_return_date=on, on_time=True, early=False,
        reentry_from=reentry_from)


def test_only_eligible_workers_are_proposed(world: World) -> None:
    isco = "6111"
    job = vacancy("elig", isco, positions=3, min_experience_years=2,
                  language_requirement={"language": "de", "min_level": "B1"})
    eligible = [
        worker("el-ok", isco),
        worker("el-18-on-the-day", isco, date_of_birth=date(2009, 4, 1)),
        worker("el-55-turns-56-next-day", isco, date_of_birth=date(1971, 4, 2)),
        worker("el-available-on-the-day", isco, available_from=START),
        worker("el-experience-exactly", isco, years=2),
        worker("el-anywhere", isco, preferred_destinations=[]),
    ]
    ineligible = [
        worker("in-no-consent", isco, consent_matching=False),
        worker("in-17", isco, date_of_birth=date(2009, 4, 2)),
        worker("in-56", isco, date_of_birth=date(1971, 4, 1)),
        worker("in-georgian", isco, citizenship="GE"),
        worker("in-korea-only", isco, preferred_destinations=["KR"]),
        worker("in-available-next-day", isco, available_from=date(2027, 4, 2)),
        worker("in-too-little-experience", isco, years=1),
        worker("in-german-a2", isco, languages=[{"language": "de", "level": "A2"}]),
        worker("in-no-german", isco, languages=[{"language": "en", "level": "C2"}]),
        worker("in-other-occupation", "7112"),
    ]
    for w in eligible + ineligible:
        world.send(w)
    world.send(worker("in-erased", isco))
    world.send(wk.WorkerErased(worker_id="in-erased"))
    world.send(job)
    expected = {w.worker_id for w in eligible}
    world.matches(lambda m: expected <= set(m.live("elig")), "the eligible proposed")
    m = world.settled()
    assert m.ever_proposed("elig") - {"in-erased"} == expected
    assert set(m.live("elig")) == expected
    assert m.status("in-erased", "elig") in (None, "withdrawn:worker_erased")


def test_proposals_are_ranked_and_explained(world: World) -> None:
    isco = "6112"
    world.send(worker("rk-rehire", isco, years=1, skills=[]))  # returned on time from e1
    world.send(returned("rk-rehire", "e1", date(2026, 10, 1), date(2027, 1, 1)))
    world.send(worker("rk-base", isco, years=2))
    world.send(worker("rk-more-experience", isco, years=7))
    world.send(worker("rk-more-skills", isco, years=2, skills=["tractor", "pruning"]))
    world.send(worker("rk-returnee", isco, years=2))  # returned on time from e2
    world.send(returned("rk-returnee", "e2", date(2026, 10, 1), date(2027, 1, 1)))
    world.send(vacancy("rank", isco))

    def explained(m: Matches) -> bool:
        codes = {e.worker_id: {r.code for r in e.reasons} for e in m.proposal.values()
                 if e.vacancy_id == "rank"}
        return len(m.live("rank")) == 5 and "rehire" in codes.get("rk-rehire", ()) \
            and "returned_on_time" in codes.get("rk-returnee", ())

    m = world.matches(explained, "five proposals with the returns known")
    score = {e.worker_id: e.score for e in m.proposal.values() if e.vacancy_id == "rank"}
    reasons = {e.worker_id: {r.code: r.text for r in e.reasons}
               for e in m.proposal.values() if e.vacancy_id == "rank"}
    assert m.live("rank")[0] == "rk-rehire"  # the named re-hire first, fewer skills or not
    assert score["rk-more-experience"] > score["rk-base"]
    assert score["rk-more-skills"] > score["rk-base"]
    assert score["rk-returnee"] > score["rk-base"]
    assert all(0 <= s <= 1 for s in score.values())
    assert reasons["rk-rehire"]["rehire"] == "returned on time from this employer before"
    assert reasons["rk-more-skills"]["skills"] == "has 2 of 2 required skills"
    assert reasons["rk-base"]["skills"] == "has 1 of 2 required skills"
    assert reasons["rk-more-experience"]["experience"] == \
        "6 year(s) of experience beyond the minimum"
    assert "returned_on_time" not in reasons["rk-base"]


def test_rejection_and_decline_refill(world: World) -> None:
    isco = "6113"
    for n in range(7):
        world.send(worker(f"rf{n}", isco, years=1 + n))
    world.send(vacancy("refill", isco))
    first = ["rf6", "rf5", "rf4", "rf3", "rf2"]
    world.matches(lambda m: m.live("refill") == first, "the five best proposed")
    world.send(review("refill", "rf6", isco, "reject", "no licence"))
    m = world.matches(lambda m: m.live("refill") == ["rf5", "rf4", "rf3", "rf2", "rf1"],
                      "a refill after the rejection")
    assert m.status("rf6", "refill") == "rejected"
    world.send(review("refill", "rf5", isco, "approve"))
    world.matches(lambda m: m.status("rf5", "refill") == "approved"
                  and m.live("refill") == [], "the approval filling the vacancy")
    world.send(respond("refill", "rf5", isco, "decline"))
    m = world.matches(lambda m: m.live("refill") == ["rf4", "rf3", "rf2", "rf1", "rf0"],
                      "a refill after the decline")
    assert m.status("rf5", "refill") == "declined"
    assert m.status("rf6", "refill") == "rejected"


def test_a_better_newcomer_displaces_the_lowest_unreviewed(world: World) -> None:
    isco = "6114"
    for n in range(7):
        world.send(worker(f"dp{n}", isco, years=1 + n))
    world.send(vacancy("displace", isco, positions=2))  # room for max(5, 3 x 2) = 6
    world.matches(lambda m: m.live("displace") == ["dp6", "dp5", "dp4", "dp3", "dp2", "dp1"],
                  "six proposals")
    world.send(review("displace", "dp1", isco, "approve"))  # approved: never displaced
    world.matches(lambda m: m.status("dp1", "displace") == "approved"
                  and len(m.live("displace")) == 5, "the approval")
    world.send(worker("dp-star", isco, years=9, skills=["tractor", "pruning"]))
    m = world.matches(lambda m: "dp-star" in m.live("displace"), "the newcomer proposed")
    assert m.live("displace") == ["dp-star", "dp6", "dp5", "dp4", "dp3"]
    assert m.status("dp2", "displace") == "withdrawn:displaced"
    assert m.status("dp1", "displace") == "approved"
    # (dp0 may have been proposed, and displaced, before the others arrived)
    assert m.status("dp0", "displace") in (None, "withdrawn:displaced")


def test_a_used_up_quota_refuses_and_a_redelivered_approval_counts_once(world: World) -> None:
    isco = "6121"  # a quota of one
    for n in range(3):
        world.send(worker(f"qt{n}", isco, years=1 + n))
    world.send(vacancy("quota-1", isco, positions=2))
    world.send(vacancy("quota-2", isco, employer="e2", positions=2))
    world.matches(lambda m: len(m.live("quota-1")) == 3 and len(m.live("quota-2")) == 3,
                  "proposals on both vacancies")
    first = world.send(review("quota-1", "qt2", isco, "approve"))
    world.send(review("quota-2", "qt1", isco, "approve"))
    m = world.matches(lambda m: m.status("qt2", "quota-1") == "approved" and any(
        isinstance(e, mv.MatchApprovalRefused) for e in m.of("quota-2")),
        "the approval and the refusal")
    refusals = [e for e in m.of("quota-2") if isinstance(e, mv.MatchApprovalRefused)]
    assert [(e.worker_id, e.reason.value) for e in refusals] == [("qt1", "quota_exhausted")]
    # nobody is left to review under the used-up quota
    assert m.live("quota-1") == [] and m.live("quota-2") == []
    # the approval again: redelivered (same id), and clicked twice (a new id)
    world.send(review("quota-1", "qt2", isco, "approve"), event_id=first)
    world.send(review("quota-1", "qt2", isco, "approve"))
    marker = world.send(review("quota-2", "qt0", isco, "reject", "marker"))
    world.read_until([MATCHES], lambda r: any(
        x.headers.get("ce_causationid", b"").decode() == marker for x in r),
        "the marker review after the repeats")
    m = world.settled()
    approvals = [e for e in m.of("quota-1") if isinstance(e, mv.MatchApproved)]
    assert [e.worker_id for e in approvals] == ["qt2"]
    usage = [r.decoded().event for r in read_all(world.bootstrap, [world.topic(QUOTA)])]
    mine = [e.used for e in usage if e.isco_code == isco]
    assert mine[-1] == 1 and max(mine) == 1
    filled = [r.decoded().event for r in read_all(world.bootstrap,
                                                  [world.topic(VACANCY_STATUS)])]
    positions = [e.positions_filled for e in filled
                 if isinstance(e, va.VacancyPositionsChanged) and e.vacancy_id == "quota-1"]
    assert positions == [1]


def test_a_returnee_waits_out_the_cooldown_to_the_day(world: World) -> None:
    isco = "6122"
    back_from = date(2027, 5, 10)
    reentry = date(2027, 8, 10)  # the return plus the agreement's three months
    world.send(worker("cd-back", isco))
    world.send(returned("cd-back", "e2", back_from, reentry))
    world.send(worker("cd-other", isco))
    # first make sure the matcher knows the return: a probe of the returnee's
    # former employer shows it as a re-hire
    world.send(vacancy("cd-probe", isco, employer="e2", start_date=date(2027, 9, 1)))
    world.matches(lambda m: any(r.code == "rehire" for e in m.proposal.values()
                                if e.vacancy_id == "cd-probe" and e.worker_id == "cd-back"
                                for r in e.reasons), "the return known")
    world.send(vacancy("cd-day-before", isco, start_date=date(2027, 8, 9)))
    world.send(vacancy("cd-on-the-day", isco, start_date=reentry))
    world.matches(lambda m: "cd-back" in m.live("cd-on-the-day")
                  and "cd-other" in m.live("cd-day-before"), "both vacancies matched")
    m = world.settled()
    assert "cd-back" not in m.ever_proposed("cd-day-before")
    assert set(m.live("cd-on-the-day")) == {"cd-back", "cd-other"}
