"""Matching behaviour over time (SPEC 3.4, 3.5), through the matcher's real handlers
wired as on Kafka: proposals, refills, displacement, withdrawals, quota and
positions, acceptance, cooldown and re-hire."""

from datetime import date

import pytest

from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import vacancies as va
from schemas.events import workers as wk
from schemas.events.matches import match_id
from tests.support.matcher_harness import MatcherHarness

AGREEMENT = dict(agreement_id="am-de", origin_country="AM", destination_country="DE",
                 title="AM-DE", valid_from=date(2027, 1, 1), valid_until=date(2028, 12, 31),
                 max_contract_months=9, min_age=18, max_age=55, reentry_cooldown_months=3,
                 return_grace_days=14,
                 occupations=[{"isco_code": "6111", "annual_quota": 10,
                               "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}])


def profile(worker_id, years=3, skills=("tractor",), **changes):
    return {"worker_id": worker_id, "date_of_birth": date(1990, 1, 1), "citizenship": "AM",
            "occupations": [{"isco_code": "6111", "experience_years": years}],
            "skills": list(skills), "languages": [], "preferred_destinations": ["DE"],
            "available_from": date(2027, 1, 1), "consent_matching": True, **changes}


def posting(vacancy_id, employer="e1", positions=1, start=date(2027, 4, 1), **changes):
    return va.VacancyPosted(**{
        "vacancy_id": vacancy_id, "employer_id": employer, "destination_country": "DE",
        "isco_code": "6111", "title": "Harvest", "positions": positions,
        "monthly_wage": {"amount": "1900", "currency": "EUR"}, "contract_months": 6,
        "start_date": start, "required_skills": ["tractor", "pruning"],
        "min_experience_years": 1, **changes})


@pytest.fixture
def m():
    h = MatcherHarness()
    h.send(ag.AgreementRecorded(**AGREEMENT))
    for e in ("e1", "e2"):
        h.send(em.EmployerRegistered(employer_id=e, country="DE"))
        h.send(em.EmployerVerified(employer_id=e))
    return h


def add_workers(m, n, **changes):
    for i in range(n):
        m.send(wk.WorkerRegistered(**profile(f"w{i}", years=1 + i, **changes)))


def review(m, worker, vacancy, decision="approve", reason=None):
    return m.send(mv.MatchReviewed(match_id=match_id(worker, vacancy), vacancy_id=vacancy,
                                   worker_id=worker, market="DE-6111", decision=decision,
                                   reason=reason, reviewed_by="u-rec"))


def respond(m, worker, vacancy, decision="accept"):
    return m.send(mv.MatchResponded(match_id=match_id(worker, vacancy), vacancy_id=vacancy,
                                    worker_id=worker, market="DE-6111", decision=decision))


def test_a_vacancy_gets_its_best_eligible_candidates_ranked(m):
    add_workers(m, 8)
    m.send(wk.WorkerRegistered(**profile("young", years=9, date_of_birth=date(2012, 1, 1))))
    m.send(wk.WorkerRegistered(**profile("noconsent", years=9, consent_matching=False)))
    m.send(wk.WorkerRegistered(**profile("elsewhere", years=9, preferred_destinations=["KR"])))
    m.send(posting("v1"))
    assert m.live("v1") == ["w7", "w6", "w5", "w4", "w3"]  # max(5, 3 x 1) best first
    scores = [r["score"] for r in m.matches().values()]
    assert all(0 <= s <= 1 for s in scores)


def test_a_new_worker_is_proposed_to_open_vacancies(m):
    m.send(posting("v1"))
    assert m.live("v1") == []
    m.send(wk.WorkerRegistered(**profile("late")))
    assert m.live("v1") == ["late"]


def test_rejection_refills_and_a_better_candidate_displaces(m):
    add_workers(m, 6)
    m.send(posting("v1"))
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "w1"]
    review(m, "w5", "v1", "reject", "no licence")
    assert m.live("v1") == ["w4", "w3", "w2", "w1", "w0"]
    m.send(wk.WorkerRegistered(**profile("star", years=9, skills=("tractor", "pruning"))))
    assert m.live("v1") == ["star", "w4", "w3", "w2", "w1"]
    assert m.matches()[match_id("w0", "v1")]["reason"] == "displaced"
    assert m.matches()[match_id("w5", "v1")]["status"] == "rejected"


def test_approval_fills_the_vacancy_and_withdraws_the_rest(m):
    add_workers(m, 3)
    m.send(posting("v1", positions=1))
    out = review(m, "w2", "v1")
    kinds = [type(d.event).__name__ for d in out]
    assert kinds[0] == "MatchApproved"
    assert "VacancyPositionsChanged" in kinds and "QuotaUsageChanged" in kinds
    rows = m.matches()
    assert rows[match_id("w2", "v1")]["status"] == "approved"
    assert {rows[match_id(w, "v1")]["reason"] for w in ("w0", "w1")} == {"vacancy_filled"}
    again = review(m, "w1", "v1")
    assert [d.event.reason for d in again] == ["not_pending"]


def test_positions_and_quota_refuse_approvals(m):
    small = {**AGREEMENT, "occupations": [{"isco_code": "6111", "annual_quota": 1,
                                           "min_monthly_wage": {"amount": "1800",
                                                                "currency": "EUR"}}]}
    m.send(ag.AgreementRecorded(**small))
    add_workers(m, 2)
    m.send(posting("v1", positions=2))
    m.send(posting("v2", employer="e2", positions=2))
    review(m, "w1", "v1")
    out = review(m, "w0", "v2")
    assert [(type(d.event).__name__, d.event.reason) for d in out] == [
        ("MatchApprovalRefused", "quota_exhausted")]
    quota = [d.event for d in m.published if isinstance(d.event, mv.QuotaUsageChanged)]
    assert (quota[-1].used, quota[-1].annual_quota) == (1, 1)


def test_acceptance_withdraws_the_workers_other_matches(m):
    add_workers(m, 1)
    m.send(posting("v1"))
    m.send(posting("v2", employer="e2"))
    review(m, "w0", "v1")
    review(m, "w0", "v2")
    out = respond(m, "w0", "v1")
    accepted = [d.event for d in out if isinstance(d.event, mv.MatchAccepted)]
    assert accepted and accepted[0].contract_months == 6 and accepted[0].return_grace_days == 14
    assert m.matches()[match_id("w0", "v2")]["reason"] == "worker_accepted_other"
    assert [d.event.reason for d in respond(m, "w0", "v2")] == ["not_pending"]


def test_two_acceptances_at_once_let_only_one_through(m):
    add_workers(m, 1)
    m.send(posting("v1"))
    m.send(posting("v2", employer="e2"))
    review(m, "w0", "v1")
    review(m, "w0", "v2")
    router = m.stages["workers"]
    first = router.feed(mv.MatchResponded(match_id=match_id("w0", "v1"), vacancy_id="v1",
                                          worker_id="w0", market="DE-6111", decision="accept"))
    second = router.feed(mv.MatchResponded(match_id=match_id("w0", "v2"), vacancy_id="v2",
                                           worker_id="w0", market="DE-6111",
                                           decision="accept"))
    assert [o.event.worker_free for o in first + second] == [True, False]


@pytest.mark.parametrize(("event", "reason"), [
    (wk.WorkerErased(worker_id="w0"), "worker_erased"),
    (wk.WorkerProfileUpdated(**profile("w0", consent_matching=False)), "consent_withdrawn"),
    (wk.WorkerProfileUpdated(**profile("w0", preferred_destinations=["KR"])),
     "worker_no_longer_eligible"),
    (em.EmployerSuspended(employer_id="e1"), "employer_suspended"),
    (va.VacancyClosed(vacancy_id="v1", employer_id="e1"), "vacancy_closed"),
    (ag.AgreementSuspended(agreement_id="am-de"), "vacancy_rejected"),
])
def test_withdrawals_carry_their_reason(m, event, reason):
    add_workers(m, 1)
    m.send(posting("v1"))
    review(m, "w0", "v1")
    m.send(event)
    row = m.matches()[match_id("w0", "v1")]
    assert (row["status"], row["reason"]) == ("withdrawn", reason)


def test_a_returnee_waits_out_the_cooldown_and_a_rehire_ranks_first(m):
    add_workers(m, 5, skills=("tractor", "pruning"))
    m.send(wk.WorkerRegistered(**profile("back", years=1)))
    m.send(pl.PlacementReturned(
        placement_id="p1", match_id="m-old", worker_id="back", employer_id="e1",
        agreement_id="am-de", return_id="r1", return_date=date(2027, 3, 20),
        expected_return_date=date(2027, 3, 25), on_time=True, early=False,
        reentry_from=date(2027, 6, 20)))
    m.send(posting("early", start=date(2027, 6, 19)))
    assert "back" not in m.live("early")
    m.send(posting("later", start=date(2027, 6, 20)))
    assert m.live("later")[0] == "back"  # the named re-hire outranks better-skilled others
    m.send(posting("other-employer", employer="e2", start=date(2027, 6, 20)))
    assert m.live("other-employer")[0] != "back"


def test_a_worker_open_to_anywhere_reaches_destinations_added_later(m):
    m.send(wk.WorkerRegistered(**profile("anywhere", preferred_destinations=[])))
    m.send(ag.AgreementRecorded(**{**AGREEMENT, "agreement_id": "am-kr",
                                   "destination_country": "KR",
                                   "occupations": [{"isco_code": "6111", "annual_quota": 5,
                                                    "min_monthly_wage": {
                                                        "amount": "2000000",
                                                        "currency": "KRW"}}]}))
    m.send(em.EmployerRegistered(employer_id="k1", country="KR"))
    m.send(em.EmployerVerified(employer_id="k1"))
    m.send(va.VacancyPosted(**{**posting("kr1").model_dump(), "employer_id": "k1",
                               "destination_country": "KR",
                               "monthly_wage": {"amount": "2500000", "currency": "KRW"}}))
    proposed = [d.event for d in m.published if isinstance(d.event, mv.MatchProposed)]
    assert [(e.worker_id, e.destination_country) for e in proposed] == [("anywhere", "KR")]


def test_every_handler_converges_when_an_event_comes_twice(m):
    """Redelivery without the stage's deduplication: the second delivery of each
    event changes nothing and publishes nothing new (the handlers compute the state
    to reach, they do not count)."""
    events = [wk.WorkerRegistered(**profile(f"w{i}", years=i + 1)) for i in range(4)]
    events += [posting("v1", positions=2), posting("v2", employer="e2")]
    for n, event in enumerate(events):
        m.send(event, event_id=f"ev-{n}")
    review(m, "w3", "v1")
    respond(m, "w3", "v1")
    state = dict(m.matches())
    for n, event in enumerate(events):
        assert m.send(event, event_id=f"ev-{n}") == [], event.type
    assert m.matches() == state
