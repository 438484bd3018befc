"""Match reviews and responses through the gateway: what is published, what is
refused with 409, and what each party sees."""

from sqlalchemy import select

from schemas.codec import decode
from schemas.events import matches as mev
from services.gateway.outbox.models import OutboxRecord
from tests.support.gateway import advance_match, match_event, vacancy_body


def published(api, event_type):
    with api.sessions() as s:
        rows = s.scalars(select(OutboxRecord).where(OutboxRecord.event_type == event_type)
                         .order_by(OutboxRecord.id)).all()
    return [(r.key, decode(r.value.encode(), [(k, v.encode()) for k, v in r.headers]).event)
            for r in rows]


def propose(api, worker, vacancy, employer, score=0.5):
    api.fold(match_event(mev.MatchProposed, worker, vacancy, employer, score=score))
    return mev.match_id(worker, vacancy)


def test_approval_is_published_to_the_market_and_waits_for_the_matcher(api, world):
    r = api.post("rec", f"/matches/{world['m11']}/approve")
    assert r.status_code == 202 and r.json() == {"id": world["m11"], "status": "pending"}
    [(key, event)] = published(api, "circular.match.reviewed")
    assert key == "DE-6111" and event.decision == "approve" and event.match_id == world["m11"]
    match = api.get("rec", f"/matches/{world['m11']}").json()
    assert (match["status"], match["pending"]) == ("proposed", "approve")
    # asking again while the matcher has not answered is a conflict
    assert api.post("rec", f"/matches/{world['m11']}/approve").status_code == 409
    advance_match(api, "w1", "v1", "e1", "approved")
    match = api.get("rec", f"/matches/{world['m11']}").json()
    assert (match["status"], match["pending"]) == ("approved", None)


def test_rejection_needs_a_reason_and_is_published(api, world):
    assert api.post("rec", f"/matches/{world['m11']}/reject", json={}).status_code == 422
    r = api.post("rec", f"/matches/{world['m11']}/reject", json={"reason": "no licence"})
    assert r.status_code == 202
    [(_, event)] = published(api, "circular.match.reviewed")
    assert (event.decision, event.reason) == ("reject", "no licence")


def test_approving_beyond_the_positions_is_409_and_changes_nothing(api, world):
    # v1 has 2 positions: one approved, one approval in flight, the third refused
    advance_match(api, "w1", "v1", "e1", "approved")
    second = propose(api, "w2", "v1", "e1")
    assert api.post("rec", f"/matches/{second}/approve").status_code == 202
    third = propose(api, "w3", "v1", "e1")
    r = api.post("rec", f"/matches/{third}/approve")
    assert r.status_code == 409 and "positions" in r.json()["message"]
    assert len(published(api, "circular.match.reviewed")) == 1
    assert api.get("rec", f"/matches/{third}").json()["pending"] is None


def test_approving_beyond_the_quota_is_409(api, world):
    # the agreement allows 2 placements of 6111 in 2027, across all vacancies
    assert api.post("admin", "/vacancies", json=vacancy_body("v3", "e1")).status_code == 202
    api.fold(mev.QuotaUsageChanged(agreement_id="am-de", isco_code="6111", year=2027,
                                   annual_quota=2, used=0))
    from schemas.events.vacancies import VacancyEvaluated, Verdict
    api.fold(VacancyEvaluated(vacancy_id="v3", employer_id="e1", agreement_id="am-de",
                              status=Verdict.OPEN))
    advance_match(api, "w1", "v1", "e1", "approved")
    api.fold(mev.QuotaUsageChanged(agreement_id="am-de", isco_code="6111", year=2027,
                                   annual_quota=2, used=1))
    in_flight = propose(api, "w2", "v3", "e1")
    assert api.post("rec", f"/matches/{in_flight}/approve").status_code == 202
    over = propose(api, "w4", "v3", "e1")
    r = api.post("rec", f"/matches/{over}/approve")
    assert r.status_code == 409 and "quota" in r.json()["message"]
    quota = api.get("rec", "/agreements/am-de/quota", params={"year": 2027}).json()
    assert quota == [{"isco_code": "6111", "annual_quota": 2, "used": 1, "remaining": 1}]
    r = api.get("rec", "/agreements/am-xx/quota", params={"year": 2027})
    assert r.status_code == 404 and "am-xx" in r.json()["message"]


def test_approving_for_a_closed_vacancy_is_409(api, world):
    assert api.post("emp1", "/vacancies/v1/close").status_code == 202
    assert api.post("rec", f"/matches/{world['m11']}/approve").status_code == 409


def test_worker_accepts_once_and_the_employer_then_sees_the_name(api, world):
    other = propose(api, "w1", "v2", "e2")
    advance_match(api, "w1", "v1", "e1", "approved")
    advance_match(api, "w1", "v2", "e2", "approved")
    assert api.post("wk1", f"/matches/{world['m11']}/accept").status_code == 202
    [(key, event)] = published(api, "circular.match.responded")
    assert key == "w1" and event.decision == "accept" and event.market == "DE-6111"
    assert api.post("wk1", f"/matches/{other}/accept").status_code == 409
    listed = api.get("emp1", "/vacancies/v1/matches").json()["items"]
    assert [m["candidate_name"] for m in listed] == [None]
    advance_match(api, "w1", "v1", "e1", "accepted")
    listed = api.get("emp1", "/vacancies/v1/matches").json()["items"]
    assert [m["candidate_name"] for m in listed] == ["Anahit Petrosyan w1"]
    assert "passport_number" not in listed[0]
    trail = api.get("wk1", "/workers/w1/audit").json()["items"]
    assert [(t["actor_role"], t["fields"]) for t in trail] == [("employer", ["full_name"])]
    # other employers never see the name
    assert api.get("emp2", "/matches").json()["items"][0]["candidate_name"] is None


def test_decline_and_answering_an_unapproved_offer(api, world):
    assert api.post("wk1", f"/matches/{world['m11']}/accept").status_code == 409
    advance_match(api, "w1", "v1", "e1", "approved")
    assert api.post("wk1", f"/matches/{world['m11']}/decline").status_code == 202
    [(_, event)] = published(api, "circular.match.responded")
    assert event.decision == "decline"


def test_matches_come_best_score_first(api, world):
    for worker, score in (("w5", 0.3), ("w6", 0.9), ("w7", 0.6)):
        propose(api, worker, "v1", "e1", score)
    scores = [m["score"] for m in api.get("rec", "/vacancies/v1/matches").json()["items"]]
    assert scores == sorted(scores, reverse=True) and len(scores) == 4


def test_a_repeated_matcher_event_changes_nothing(api, world):
    event = match_event(mev.MatchWithdrawn, "w1", "v1", "e1", reason="displaced")
    api.fold(event, "same-id")
    propose(api, "w1", "v1", "e1", 0.7)
    api.fold(event, "same-id")  # redelivered: already applied, must not withdraw again
    assert api.get("rec", f"/matches/{world['m11']}").json()["status"] == "proposed"
    timeline = api.get("rec", "/workers/w1/timeline").json()["items"]
    assert [e["type"] for e in timeline].count("circular.match.withdrawn") == 1
