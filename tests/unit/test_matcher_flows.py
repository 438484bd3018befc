"""Matching behaviour over time (SPEC 3.4, 3.5), through the matcher's real handlers
wired as on Kafka: proposals, refills, displacement, withdrawals, quota and
positions, acceptance, cooldown and re-hire."""

from datetime import date

import orjson
import pytest

from eventbus.handlers import Indexes
from schemas.events import agreements as ag
from schemas.events import employers as em
from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import triggers as tr
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
    # approving a proposal the filled vacancy withdrew: refused, and why
    again = review(m, "w1", "v1")
    assert [(type(d.event).__name__, d.event.reason) for d in again] == [
        ("MatchApprovalRefused", "positions_filled")]
    assert m.matches()[match_id("w1", "v1")]["status"] == "withdrawn"


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


def reviewed(worker, vacancy, decision, reason=None):
    return mv.MatchReviewed(match_id=match_id(worker, vacancy), vacancy_id=vacancy,
                            worker_id=worker, market="DE-6111", decision=decision,
                            reason=reason, reviewed_by="u-rec")


def responded(worker, vacancy, decision):
    return mv.MatchResponded(match_id=match_id(worker, vacancy), vacancy_id=vacancy,
                             worker_id=worker, market="DE-6111", decision=decision)


def test_every_handler_converges_when_an_event_comes_twice(m):
    """Redelivery without the stage's deduplication: the second delivery of each
    event changes nothing and publishes nothing new (the handlers compute the state
    to reach, they do not count; a decision already taken is not taken again)."""
    events = [wk.WorkerRegistered(**profile(f"w{i}", years=i + 1)) for i in range(5)]
    events += [posting("v1", positions=2), posting("v2", employer="e2")]
    events += [
        reviewed("w2", "v1", "reject", "no licence"),
        reviewed("w4", "v1", "approve"), reviewed("w3", "v1", "approve"),
        responded("w4", "v1", "accept"), responded("w3", "v1", "decline"),
        pl.PlacementReturned(
            placement_id="p1", match_id=match_id("w4", "v1"), worker_id="w4",
            employer_id="e1", agreement_id="am-de", return_id="r1",
            return_date=date(2027, 10, 1), expected_return_date=date(2027, 10, 1),
            on_time=True, early=False, reentry_from=date(2028, 1, 1)),
        tr.TriggerFired(trigger_id="t1", worker_id="w4", placement_id="p1",
                        kind=tr.TriggerKind.REENTRY_ELIGIBLE, cause="r1",
                        reason="cooldown over", due_date=date(2028, 1, 31)),
    ]
    for n, event in enumerate(events):
        m.send(event, event_id=f"ev-{n}")
    state, quota, filled = dict(m.matches()), m.quota(), m.positions_filled()
    assert state[match_id("w4", "v1")]["status"] == "accepted"
    assert state[match_id("w3", "v1")]["status"] == "declined"
    assert state[match_id("w2", "v1")]["status"] == "rejected"
    assert quota[("am-de", "6111", 2027)] == (1, 10) and filled["v1"] == 1
    approvals = len(m.events(mv.MatchApproved))
    for n, event in enumerate(events):
        assert m.send(event, event_id=f"ev-{n}") == [], event.type
    # and the decisions once more under new ids (a double click, a resent form)
    for event in events[7:12]:
        assert m.send(event) == [], event.type
    assert m.matches() == state
    assert (m.quota(), m.positions_filled()) == (quota, filled)
    assert len(m.events(mv.MatchApproved)) == approvals


# --- refills (SPEC 3.4: "refills as matches are rejected, declined or withdrawn") -------

def test_a_decline_refills_from_the_next_best(m):
    add_workers(m, 7)
    m.send(posting("v1", positions=1))
    assert m.live("v1") == ["w6", "w5", "w4", "w3", "w2"]
    review(m, "w6", "v1")
    assert m.live("v1") == []  # filled: the others were withdrawn
    out = respond(m, "w6", "v1", "decline")
    assert m.matches()[match_id("w6", "v1")]["status"] == "declined"
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "w1"]  # the decliner is not asked again
    filled = [d.event.positions_filled for d in out
              if isinstance(d.event, va.VacancyPositionsChanged)]
    assert filled == [0]


def kr_market(m):
    m.send(ag.AgreementRecorded(**{**AGREEMENT, "agreement_id": "am-kr",
                                   "destination_country": "KR",
                                   "occupations": [{"isco_code": "6111", "annual_quota": 5,
                                                    "min_monthly_wage": {
                                                        "amount": "2000000",
                                                        "currency": "KRW"}}]}))
    m.send(em.EmployerRegistered(employer_id="k1", country="KR"))
    m.send(em.EmployerVerified(employer_id="k1"))


def kr_posting(vacancy_id):
    return va.VacancyPosted(**{**posting(vacancy_id).model_dump(), "employer_id": "k1",
                               "destination_country": "KR",
                               "monthly_wage": {"amount": "2500000", "currency": "KRW"}})


def accept_in_korea(m, worker):
    kr_market(m)
    m.send(kr_posting("kr1"))
    m.send(mv.MatchReviewed(match_id=match_id(worker, "kr1"), vacancy_id="kr1",
                            worker_id=worker, market="KR-6111", decision="approve",
                            reviewed_by="u-rec"))
    m.send(mv.MatchResponded(match_id=match_id(worker, "kr1"), vacancy_id="kr1",
                             worker_id=worker, market="KR-6111", decision="accept"))


@pytest.mark.parametrize(("cause", "reason"), [
    (lambda m: m.send(wk.WorkerProfileUpdated(**profile("w5", years=6,
                                                        preferred_destinations=["KR"]))),
     "worker_no_longer_eligible"),
    (lambda m: m.send(wk.WorkerProfileUpdated(**profile("w5", years=6,
                                                        consent_matching=False))),
     "consent_withdrawn"),
    (lambda m: m.send(wk.WorkerErased(worker_id="w5")), "worker_erased"),
    (lambda m: accept_in_korea(m, "w5"), "worker_accepted_other"),
])
def test_a_withdrawal_refills_from_the_next_best(m, cause, reason):
    add_workers(m, 6, preferred_destinations=["DE", "KR"])
    m.send(posting("v1"))
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "w1"]
    cause(m)
    row = m.matches()[match_id("w5", "v1")]
    assert (row["status"], row["reason"]) == ("withdrawn", reason)
    assert m.live("v1") == ["w4", "w3", "w2", "w1", "w0"]


# --- quota shared by the vacancies of one agreement, occupation and year ------------------

def one_unit_of_quota(m):
    m.send(ag.AgreementRecorded(**{**AGREEMENT, "occupations": [
        {"isco_code": "6111", "annual_quota": 1,
         "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}]}))


def quota_used(m, year=2027):
    return m.quota()[("am-de", "6111", year)][0]


def test_unreviewed_proposals_go_when_the_quota_is_used_up(m):
    one_unit_of_quota(m)
    add_workers(m, 4)
    m.send(posting("v1", positions=2))
    m.send(posting("v2", employer="e2", positions=2))
    m.send(posting("next-year", employer="e2", start=date(2028, 4, 1)))
    assert m.live("v2") == ["w3", "w2", "w1", "w0"]
    review(m, "w3", "v1")
    assert quota_used(m) == 1
    rows = m.matches()
    # no one else can be approved under the 2027 quota: recruiters are not asked to
    for w in ("w2", "w1", "w0"):
        for v in ("v1", "v2"):
            assert (rows[match_id(w, v)]["status"], rows[match_id(w, v)]["reason"]) == (
                "withdrawn", "quota_exhausted")
    assert rows[match_id("w3", "v2")]["status"] == "withdrawn"
    assert m.live("next-year") == ["w3", "w2", "w1", "w0"]  # another year, another quota
    # a late approval of one of them is refused with the reason
    out = review(m, "w2", "v2")
    assert [(type(d.event).__name__, d.event.reason) for d in out] == [
        ("MatchApprovalRefused", "quota_exhausted")]


@pytest.mark.parametrize(("release", "status", "refilled"), [
    (lambda m: respond(m, "w3", "v1", "decline"), "declined", ["w3", "w2", "w1", "w0"]),
    (lambda m: m.send(wk.WorkerErased(worker_id="w3")), "withdrawn", ["w2", "w1", "w0"]),
    (lambda m: m.send(va.VacancyClosed(vacancy_id="v1", employer_id="e1")), "withdrawn",
     ["w3", "w2", "w1", "w0"]),
    (lambda m: m.send(em.EmployerSuspended(employer_id="e1")), "withdrawn",
     ["w3", "w2", "w1", "w0"]),
])
def test_a_released_unit_of_quota_refills_every_vacancy_of_that_quota(m, release, status,
                                                                      refilled):
    one_unit_of_quota(m)
    add_workers(m, 4)
    m.send(posting("v1", positions=2))
    m.send(posting("v2", employer="e2", positions=2))
    review(m, "w3", "v1")
    assert m.live("v2") == [] and quota_used(m) == 1
    out = release(m)
    assert m.matches()[match_id("w3", "v1")]["status"] == status
    assert quota_used(m) == 0
    assert m.live("v2") == refilled
    assert {d.event.worker_id for d in out if isinstance(d.event, mv.MatchProposed)
            and d.event.vacancy_id == "v2"} == set(refilled)  # in the same step


def test_a_vacancy_posted_while_the_quota_is_used_up_fills_once_a_unit_is_free(m):
    one_unit_of_quota(m)
    add_workers(m, 3)
    m.send(posting("v1"))
    review(m, "w2", "v1")
    m.send(posting("v2", employer="e2"))
    assert m.live("v2") == []
    respond(m, "w2", "v1", "decline")
    assert m.live("v2") == ["w2", "w1", "w0"]


# --- decisions that come twice --------------------------------------------------------

def test_a_repeated_approval_changes_nothing(m):
    add_workers(m, 3)
    m.send(posting("v1", positions=2))
    first = review(m, "w2", "v1")
    assert [type(d.event).__name__ for d in first][:3] == [
        "MatchApproved", "VacancyPositionsChanged", "QuotaUsageChanged"]
    state, quota = dict(m.matches()), m.quota()
    # a double click: the same decision under a new event id
    assert review(m, "w2", "v1") == []
    respond(m, "w2", "v1")
    assert review(m, "w2", "v1") == []  # still nothing once the worker accepted
    assert m.quota() == quota and quota_used(m) == 1
    assert m.positions_filled() == {"v1": 1}
    assert len(m.events(mv.MatchApproved)) == 1
    assert m.matches()[match_id("w2", "v1")]["status"] == "accepted"
    assert {k: v for k, v in m.matches().items() if k != match_id("w2", "v1")} == {
        k: v for k, v in state.items() if k != match_id("w2", "v1")}
    # a different decision on a decided match is still refused
    out = review(m, "w2", "v1", "reject", "changed my mind")
    assert [(type(d.event).__name__, d.event.reason) for d in out] == [
        ("MatchApprovalRefused", "not_pending")]


def test_a_repeated_rejection_or_answer_changes_nothing(m):
    add_workers(m, 3)
    m.send(posting("v1"))
    review(m, "w2", "v1", "reject", "no licence")
    assert review(m, "w2", "v1", "reject", "no licence") == []
    review(m, "w1", "v1")
    respond(m, "w1", "v1", "decline")
    assert respond(m, "w1", "v1", "decline") == []
    review(m, "w0", "v1")
    respond(m, "w0", "v1")
    assert respond(m, "w0", "v1") == []
    assert [d.event.match_id for d in m.published if isinstance(
        d.event, mv.MatchAcceptanceRefused | mv.MatchApprovalRefused)] == []
    # the worker router reserved nothing for the repeat: after the return, the worker
    # may accept a new offer
    m.send(pl.PlacementReturned(
        placement_id="p1", match_id=match_id("w0", "v1"), worker_id="w0", employer_id="e1",
        agreement_id="am-de", return_id="r1", return_date=date(2027, 10, 1),
        expected_return_date=date(2027, 10, 1), on_time=True, early=False,
        reentry_from=date(2028, 1, 1)))
    m.send(posting("v2", start=date(2028, 2, 1)))
    review(m, "w0", "v2")
    out = respond(m, "w0", "v2")
    assert [type(d.event).__name__ for d in out] == ["MatchAccepted"]


def test_an_acceptance_delivered_again_after_the_return_leaves_the_worker_free(m):
    add_workers(m, 1)
    m.send(posting("v1"))
    review(m, "w0", "v1")
    accepted = next(d for d in respond(m, "w0", "v1") if isinstance(d.event, mv.MatchAccepted))
    m.send(pl.PlacementReturned(
        placement_id="p1", match_id=match_id("w0", "v1"), worker_id="w0", employer_id="e1",
        agreement_id="am-de", return_id="r1", return_date=date(2027, 10, 1),
        expected_return_date=date(2027, 10, 1), on_time=True, early=False,
        reentry_from=date(2028, 1, 1)))
    assert m.read_again(accepted) == []  # e.g. read again after a crash
    m.send(posting("v2", start=date(2028, 2, 1)))
    assert m.live("v2") == ["w0"]


# --- returns: cooldown and re-entry --------------------------------------------------------

def test_a_returnee_is_offered_open_vacancies_only_from_the_end_of_its_cooldown(m):
    add_workers(m, 1, skills=("tractor", "pruning"))
    m.send(posting("v0", start=date(2027, 1, 10)))
    review(m, "w0", "v0")
    respond(m, "w0", "v0")
    # open while the worker is abroad: not offered to a busy worker
    m.send(posting("early", employer="e2", start=date(2027, 9, 30)))
    m.send(posting("on-the-day", employer="e2", start=date(2027, 10, 1)))
    assert m.live("early") == [] and m.live("on-the-day") == []
    out = m.send(pl.PlacementReturned(
        placement_id="p1", match_id=match_id("w0", "v0"), worker_id="w0", employer_id="e1",
        agreement_id="am-de", return_id="r1", return_date=date(2027, 7, 1),
        expected_return_date=date(2027, 7, 10), on_time=True, early=False,
        reentry_from=date(2027, 10, 1)))  # R + 3 months
    assert [(d.event.vacancy_id, d.event.worker_id) for d in out] == [("on-the-day", "w0")]
    # the tracker's trigger when the cooldown ends: the worker is looked at again, and
    # nothing changes (the rule is about start dates, known since the return)
    trigger = tr.TriggerFired(
        trigger_id="t1", worker_id="w0", placement_id="p1",
        kind=tr.TriggerKind.REENTRY_ELIGIBLE, cause="r1", reason="cooldown over",
        due_date=date(2027, 10, 31))
    assert m.send(trigger) == []
    assert m.live("early") == [] and m.live("on-the-day") == ["w0"]
    # a vacancy opened later, starting after the cooldown, is offered at once
    m.send(posting("later", employer="e2", start=date(2027, 11, 1)))
    assert m.live("later") == ["w0"]


def test_the_reentry_trigger_sends_the_worker_to_its_markets_again(m):
    """The trigger makes the worker router re-send the worker to every market it
    belongs to, even when nothing about it changed."""
    add_workers(m, 1)
    m.send(pl.PlacementReturned(
        placement_id="p1", match_id="m-old", worker_id="w0", employer_id="e1",
        agreement_id="am-de", return_id="r1", return_date=date(2027, 1, 1),
        expected_return_date=date(2027, 1, 1), on_time=True, early=False,
        reentry_from=date(2027, 4, 1)))
    router = m.stages["workers"]
    fired = dict(trigger_id="t1", worker_id="w0", placement_id="p1", cause="r1",
                 reason="x", due_date=date(2027, 5, 1))
    sent = router.feed(tr.TriggerFired(kind=tr.TriggerKind.REENTRY_ELIGIBLE, **fired))
    assert [(o.event.worker_id, o.event.markets) for o in sent] == [("w0", ["DE-6111"])]
    assert router.feed(tr.TriggerFired(kind=tr.TriggerKind.WELFARE_CHECK, **fired)) == []


def test_an_acceptance_in_another_market_withdraws_the_proposal_here(m):
    add_workers(m, 1, preferred_destinations=["DE", "KR"])
    m.send(posting("v1"))
    assert m.live("v1") == ["w0"]
    accept_in_korea(m, "w0")
    rows = m.matches()
    assert rows[match_id("w0", "kr1")]["status"] == "accepted"
    assert (rows[match_id("w0", "v1")]["status"], rows[match_id("w0", "v1")]["reason"]) == (
        "withdrawn", "worker_accepted_other")


def test_a_live_proposal_follows_its_workers_profile(m):
    add_workers(m, 6)
    m.send(posting("v1"))
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "w1"]
    before = m.matches()[match_id("w1", "v1")]["score"]
    out = m.send(wk.WorkerProfileUpdated(**profile("w1", years=2, skills=("tractor", "pruning"))))
    rescored = [d.event for d in out if isinstance(d.event, mv.MatchProposed)]
    assert [(e.worker_id, e.reasons[0].text) for e in rescored] == [
        ("w1", "has 2 of 2 required skills")]
    assert rescored[0].score > before
    assert m.live("v1")[0] == "w1"
    # and one who loses skills and experience gives way to the best worker waiting
    m.send(wk.WorkerProfileUpdated(**profile("w5", years=1, skills=())))
    assert m.live("v1") == ["w1", "w4", "w3", "w2", "w0"]
    assert m.matches()[match_id("w5", "v1")]["reason"] == "displaced"


def test_a_worker_is_offered_only_open_vacancies_with_a_position_left(m):
    """What a new or changed worker is matched against: the market's open vacancies
    that still have a position, not every vacancy ever posted there."""
    shard = m.market
    add_workers(m, 2)
    m.send(posting("v1"))
    m.send(posting("v2", employer="e2"))
    m.send(posting("v3", monthly_wage={"amount": "100", "currency": "EUR"}))  # rejected
    assert shard.vacancies.keys("DE-6111") == {"vac:v1", "vac:v2"}
    review(m, "w1", "v1")  # v1 filled
    m.send(va.VacancyClosed(vacancy_id="v2", employer_id="e2"))
    assert shard.vacancies.keys("DE-6111") == set()
    assert m.send(wk.WorkerRegistered(**profile("late", years=9))) == []
    respond(m, "w1", "v1", "decline")  # a position again
    assert shard.vacancies.keys("DE-6111") == {"vac:v1"}
    assert "late" in m.live("v1")


BOTH = ("tractor", "pruning")  # every skill the postings require: scores differ by years


def test_a_later_worker_between_the_lowest_and_the_best_displaces_the_lowest(m):
    add_workers(m, 6, skills=BOTH)  # w0..w5, 1..6 years: w1..w5 hold the five proposals
    m.send(posting("v1"))
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "w1"]
    m.send(wk.WorkerRegistered(**profile("mid", years=4, skills=BOTH)))  # ties w3
    assert m.live("v1") == ["w5", "w4", "mid", "w3", "w2"]
    assert m.matches()[match_id("w1", "v1")]["reason"] == "displaced"


def test_a_later_worker_tied_with_the_lowest_enters_on_its_id(m):
    add_workers(m, 6, skills=BOTH)
    m.send(posting("v1"))
    m.send(wk.WorkerRegistered(**profile("a-tie", years=2, skills=BOTH)))  # w1's score
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "a-tie"]
    m.send(wk.WorkerRegistered(**profile("z-tie", years=2, skills=BOTH)))  # a later id
    assert "z-tie" not in m.live("v1")


def test_a_rehire_arriving_at_a_full_vacancy_ranks_first(m):
    for i in range(6):  # seasoned: only a re-hire could outrank them with one year
        m.send(wk.WorkerRegistered(**profile(f"w{i}", years=10 + i, skills=BOTH)))
    m.send(posting("v1", start=date(2027, 6, 20)))
    assert len(m.live("v1")) == 5
    m.send(wk.WorkerRegistered(**profile("back", years=1)))
    assert "back" not in m.live("v1")
    m.send(pl.PlacementReturned(
        placement_id="p1", match_id="m-old", worker_id="back", employer_id="e1",
        agreement_id="am-de", return_id="r1", return_date=date(2027, 3, 20),
        expected_return_date=date(2027, 3, 25), on_time=True, early=False,
        reentry_from=date(2027, 6, 20)))
    assert m.live("v1")[0] == "back"


def test_the_market_keeps_no_scratch_state_between_records(m):
    """What handling one record works with (quotas moved, vacancies reconciled) lives
    in that handling; the shard keeps only its topics, its handlers and its indexes
    (the parsed terms of open vacancies among them)."""
    shard = m.market
    add_workers(m, 3)
    m.send(posting("v1"))
    review(m, "w2", "v1")
    assert set(vars(shard)) == {"matches_topic", "status_topic", "quota_topic", "handle",
                                *(name for name, value in vars(shard).items()
                                  if value in shard.indexes)}


def test_terms_parsed_in_a_record_that_was_rolled_back_are_not_used_after(m):
    """A record's writes may be rolled back (a handler error, a batch a rebalance
    overtook) after the market parsed the vacancy terms it stored; the same vacancy
    arriving again with other terms is matched on those."""
    from eventbus.handlers import Context, StateTx
    from schemas.codec import decode, encode
    from schemas.events.market import MarketVacancy

    add_workers(m, 20, skills=("tractor", "pruning"))
    one = next(o.event for o in m.stages["legality"].feed(posting("v1"))
               if isinstance(o.event, MarketVacancy))
    five = one.model_copy(update={"vacancy": one.vacancy.model_copy(update={"positions": 5})})
    market = m.stages["market"]
    tx = StateTx(market.table, indexes=market.indexes)
    enc = encode(one, source="/tests")
    assert len(list(market.handler(tx, decode(enc.value, enc.headers),
                                   Context("t", 0, 0, 6)))) > 0
    tx.rollback()  # nothing of it reaches the table
    proposed = [o for o in market.feed(five) if isinstance(o.event, mv.MatchProposed)]
    assert len(proposed) == 15  # max(5, 3 x 5 positions), not the 5 of one position
    # a better worker later takes the place of the lowest of the 15, and only that
    out = m.send(wk.WorkerRegistered(**profile("best", years=40, skills=("tractor", "pruning"))))
    assert [(type(d.event), d.event.worker_id) for d in out] == [
        (mv.MatchWithdrawn, "w5"), (mv.MatchProposed, "best")]


def test_withdrawn_matches_leave_the_in_memory_indexes(m):
    """Churn (a vacancy closed, proposals displaced or filled) does not grow what the
    market keeps in memory: a withdrawn match and a closed vacancy stay in the table,
    not in the indexes or the cache of parsed terms, and a worker withdrawn once is
    still proposed again."""
    shard = m.market
    add_workers(m, 6)
    m.send(posting("v1"))
    assert len(shard.by_vacancy.keys("v1")) == 5
    assert "vac:v1" in shard.views  # its terms parsed while it was open
    m.send(va.VacancyClosed(vacancy_id="v1", employer_id="e1"))
    assert {r["status"] for r in m.matches().values()} == {"withdrawn"}
    assert shard.by_vacancy.keys("v1") == set()
    assert not any(shard.by_worker.keys(f"DE-6111|w{i}") for i in range(6))
    assert "vac:v1" not in shard.views  # nor its parsed terms
    m.send(posting("v2"))
    assert m.live("v2") == ["w5", "w4", "w3", "w2", "w1"]
    assert len(shard.by_worker.keys("DE-6111|w5")) == 1


def test_a_withdrawn_match_is_not_read_by_a_restart_and_still_answers_by_id(m):
    """Withdrawn matches grow with every round of churn, so a restart does not read
    them (it reads only the keys its indexes follow). What needs one still finds it
    by id: a late approval is refused with why, and the same worker proposed again
    to the same vacancy is a new event, not a repeat a consumer would drop."""
    add_workers(m, 6)
    m.send(posting("v1"))
    first = {d.event.worker_id: d.envelope.id for d in m.published
             if isinstance(d.event, mv.MatchProposed)}
    m.send(wk.WorkerRegistered(**profile("star", years=9, skills=("tractor", "pruning"))))
    assert m.matches()[match_id("w1", "v1")]["reason"] == "displaced"
    followed = Indexes(m.market.indexes).prefixes
    read = [k for k in m.stages["market"].table if k.startswith(followed)]
    assert not [k for k in read if match_id("w1", "v1") in k]
    assert [k for k in read if match_id("w2", "v1") in k]  # a live one is read
    m.restart()
    late = review(m, "w1", "v1")
    assert [(type(d.event), d.event.reason) for d in late] == [
        (mv.MatchApprovalRefused, mv.RefusalReason.NOT_PENDING)]
    again = m.send(wk.WorkerErased(worker_id="star"))
    proposed = [d for d in again if isinstance(d.event, mv.MatchProposed)]
    assert [d.event.worker_id for d in proposed] == ["w1"]
    assert proposed[0].envelope.id != first["w1"]
    assert m.live("v1") == ["w5", "w4", "w3", "w2", "w1"]
    assert [k for k in m.stages["market"].table if match_id("w1", "v1") in k] == [
        "m:" + match_id("w1", "v1")]  # no withdrawn copy left behind
    # and it is live again: a restart reads it, and an approval takes it
    m.restart()
    assert type(review(m, "w1", "v1")[0].event) is mv.MatchApproved


def test_a_worker_is_one_record_per_partition_listing_its_markets_there(m):
    """The market keeps a worker once per partition, whatever the number of its
    markets there: one ``wrk:`` record naming them. A market the worker leaves goes
    from the record (the others keep it); an erasure takes the record away."""
    m.send(ag.AgreementRecorded(**{**AGREEMENT, "agreement_id": "am-kr",
                                   "destination_country": "KR", "title": "AM-KR"}))
    m.send(wk.WorkerRegistered(**profile("w1", preferred_destinations=["DE", "KR"])))
    shard = m.market

    def records():
        return {k: orjson.loads(v)["markets"] for k, v in m.stages["market"].table.items()
                if k.startswith("wrk:")}

    assert records() == {"wrk:0:w1": ["DE-6111", "KR-6111"]}
    assert shard.workers.of("DE-6111").get("w1") is shard.workers.of("KR-6111").get("w1")
    m.send(wk.WorkerProfileUpdated(**profile("w1", preferred_destinations=["KR"])))
    assert records() == {"wrk:0:w1": ["KR-6111"]}
    assert shard.workers.of("DE-6111").get("w1") is None
    assert shard.workers.of("KR-6111").get("w1") is not None
    m.send(wk.WorkerErased(worker_id="w1"))
    assert records() == {}
    assert shard.workers.of("KR-6111").get("w1") is None


def test_a_workers_partitions_share_one_view_also_when_recovered(m):
    """A worker's markets spread over partitions, a record on each; a recovery reads
    them one partition after the other, and the markets still hold one view of the
    worker, not one copy per partition."""
    m.send(wk.WorkerRegistered(**profile("w1")))
    m.send(wk.WorkerRegistered(**profile("w2")))
    shard = m.market
    records = sorted((k, v) for k, v in m.stages["market"].table.items() if k.startswith("wrk:"))
    moved = [(k, orjson.dumps({**orjson.loads(v), "markets": ["KR-6111"]}).decode())
             for k, v in records]  # the same workers, in a market of another partition
    shard.workers.clear()
    for key, value in [*records, *((k.replace(":0:", ":3:"), v) for k, v in moved)]:
        shard.workers.apply(key, None, value)
    de, kr = shard.workers.of("DE-6111"), shard.workers.of("KR-6111")
    assert de.get("w1") is kr.get("w1") and de.get("w2") is kr.get("w2")
    assert de.get("w1") is not None and de.get("w1") is not de.get("w2")


def verdicts(events):
    return [(e.event.vacancy_id, e.event.status.value, [v.value for v in e.event.violations])
            for e in events if isinstance(e.event, va.VacancyEvaluated)]


def test_the_terms_of_an_agreement_recorded_again_are_the_ones_later_verdicts_apply(m):
    """The legality stage keeps each agreement's terms parsed; a new recording of the
    agreement (a higher wage floor, then a suspension and a resumption) is what every
    verdict after it applies, to the vacancies it re-evaluates and to new ones."""
    assert verdicts(m.send(posting("v1"))) == [("v1", "open", [])]  # 1,900 over 1,800
    raised = {**AGREEMENT, "occupations": [{
        "isco_code": "6111", "annual_quota": 10,
        "min_monthly_wage": {"amount": "2000", "currency": "EUR"}}]}
    assert verdicts(m.send(ag.AgreementRecorded(**raised))) == [
        ("v1", "rejected", ["wage_below_floor"])]
    assert verdicts(m.send(posting("v2", monthly_wage={"amount": "1950", "currency": "EUR"}))
                    ) == [("v2", "rejected", ["wage_below_floor"])]
    assert verdicts(m.send(posting("v3", monthly_wage={"amount": "2100", "currency": "EUR"}))
                    ) == [("v3", "open", [])]
    assert verdicts(m.send(ag.AgreementSuspended(agreement_id="am-de"))) == [
        ("v1", "rejected", ["agreement_suspended", "wage_below_floor"]),
        ("v2", "rejected", ["agreement_suspended", "wage_below_floor"]),
        ("v3", "rejected", ["agreement_suspended"])]
    m.restart()  # the parsed terms rebuilt from the stored records
    assert verdicts(m.send(ag.AgreementResumed(agreement_id="am-de"))) == [
        ("v1", "rejected", ["wage_below_floor"]), ("v2", "rejected", ["wage_below_floor"]),
        ("v3", "open", [])]
