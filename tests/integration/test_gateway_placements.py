"""Departures, returns, placements and triggers through the gateway, and the clock
that decides what "after today" means."""

from datetime import date, timedelta

from sqlalchemy import select

from schemas.codec import decode
from schemas.events import placements as pev
from schemas.events import triggers as tev
from schemas.events.placements import placement_id
from services.gateway.clock.service import real_today
from services.gateway.outbox.models import OutboxRecord
from tests.support.gateway import advance_match


def published(api, event_type):
    with api.sessions() as s:
        rows = s.scalars(select(OutboxRecord).where(OutboxRecord.event_type == event_type)
                         .order_by(OutboxRecord.id)).all()
    return [decode(r.value.encode(), [(k, v.encode()) for k, v in r.headers]).event
            for r in rows]


def started(match_id, worker="w1", departure=date(2027, 4, 1)):
    return pev.PlacementStarted(
        placement_id=placement_id(match_id), match_id=match_id, worker_id=worker,
        vacancy_id="v1", employer_id="e1", agreement_id="am-de", destination_country="DE",
        isco_code="6111", departure_date=departure, expected_return_date=date(2027, 10, 1))


def test_departure_needs_an_accepted_match_and_a_date_not_after_today(api, world):
    m = world["m11"]
    body = {"match_id": m, "departure_date": real_today().isoformat()}
    assert api.post("rec", "/departures", json=body).status_code == 409  # only proposed
    advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    tomorrow = (real_today() + timedelta(days=1)).isoformat()
    r = api.post("rec", "/departures", json={"match_id": m, "departure_date": tomorrow})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.departure_date"
    r = api.post("rec", "/departures", json=body)
    assert r.status_code == 202 and r.json() == {"id": placement_id(m), "status": "pending"}
    [event] = published(api, "circular.departure.recorded")
    assert (event.match_id, event.worker_id) == (m, "w1")
    # the same departure again is a no-op; another date for it is a conflict
    assert api.post("rec", "/departures", json=body).status_code == 202
    other = {"match_id": m, "departure_date": (real_today() - timedelta(days=3)).isoformat()}
    assert api.post("rec", "/departures", json=other).status_code == 409
    assert len(published(api, "circular.departure.recorded")) == 1


def test_a_tick_moves_today_forward_and_never_back(api, world):
    future = real_today() + timedelta(days=400)
    r = api.post("admin", "/admin/clock/tick", json={"date": future.isoformat()})
    assert r.status_code == 202
    [tick] = published(api, "circular.clock.ticked")
    assert tick.date == future and tick.source == "admin"
    earlier = api.post("admin", "/admin/clock/tick",
                       json={"date": (future - timedelta(days=1)).isoformat()})
    assert earlier.status_code == 409
    assert api.post("admin", "/admin/clock/tick",
                    json={"date": future.isoformat()}).status_code == 409
    advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    r = api.post("rec", "/departures", json={"match_id": world["m11"],
                                              "departure_date": future.isoformat()})
    assert r.status_code == 202


def test_clock_control_is_off_unless_enabled(api):
    api.client.app.state.settings = api.client.app.state.settings.model_copy(
        update={"clock_control": False})
    r = api.post("admin", "/admin/clock/tick", json={"date": "2099-01-01"})
    assert r.status_code == 404


def test_returns_are_registered_and_followed(api, world):
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    yesterday = (real_today() - timedelta(days=1)).isoformat()
    body = {"worker_id": "w1", "return_date": yesterday, "match_id": m,
            "intentions": ["start_business"], "needs": ["credit"],
            "skills_acquired": ["greenhouse"], "early_return_reason": "employer_abuse"}
    r = api.post("wk1", "/returns", json=body)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    return_id = r.json()["id"]
    [event] = published(api, "circular.return.registered")
    assert event.return_id == return_id and event.early_return_reason == "employer_abuse"
    future = {**body, "return_date": (real_today() + timedelta(days=2)).isoformat()}
    assert api.post("wk1", "/returns", json=future).status_code == 422
    assert api.post("wk2", "/returns", json={**body, "worker_id": "w2",
                                             "match_id": m}).status_code == 422
    assert api.post("admin", "/returns", json=body).status_code == 403
    # the tracker's answers
    api.fold(started(m))
    api.fold(pev.PlacementReturned(
        placement_id=placement_id(m), match_id=m, worker_id="w1", employer_id="e1",
        agreement_id="am-de", return_id=return_id, return_date=date.fromisoformat(yesterday),
        expected_return_date=date(2027, 10, 1), on_time=False, early=True,
        reentry_from=date(2028, 1, 1)))
    [placement] = api.get("wk1", "/placements").json()["items"]
    assert placement["status"] == "returned" and placement["return_date"] == yesterday
    [registration] = api.get("rec", "/returns", params={"worker_id": "w1"}).json()["items"]
    assert registration["status"] == "matched"


def test_an_unmatched_return_is_kept_and_shown(api, world):
    r = api.post("rec", "/returns", json={"worker_id": "w2",
                                          "return_date": real_today().isoformat()})
    return_id = r.json()["id"]
    api.fold(pev.ReturnUnmatched(return_id=return_id, worker_id="w2",
                                 return_date=real_today(), reason="no open placement"))
    [registration] = api.get("wk2", "/returns").json()["items"]
    assert (registration["status"], registration["problem"]) == ("unmatched",
                                                                 "no open placement")
    assert api.get("rec", "/returns", params={"status": "unmatched"}).json()["total"] == 1


def test_overdue_placements_and_triggers(api, world):
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    api.fold(started(m))
    api.fold(pev.PlacementOverdue(placement_id=placement_id(m), worker_id="w1",
                                  expected_return_date=date(2027, 10, 1),
                                  overdue_since=date(2027, 10, 16)))
    assert api.get("rec", "/placements", params={"status": "overdue"}).json()["total"] == 1
    fired = tev.TriggerFired(
        trigger_id=tev.trigger_id("w1", placement_id(m), "overdue_return", "overdue"),
        worker_id="w1", placement_id=placement_id(m), kind=tev.TriggerKind.OVERDUE_RETURN,
        cause="overdue", reason="Not back 15 days after the expected return.",
        due_date=date(2027, 10, 18))
    api.fold(fired)
    api.fold(fired, event_id=None)  # the same trigger again, as after a tracker restart
    [trigger] = api.get("wk1", "/reintegration/triggers").json()["items"]
    assert trigger["kind"] == "overdue_return" and trigger["status"] == "open"
    path = f"/reintegration/triggers/{trigger['trigger_id']}/complete"
    assert api.post("rec", path, json={"outcome": "bogus"}).status_code == 422
    r = api.post("rec", path, json={"outcome": "referred", "note": "called the consulate"})
    # the outcome goes through Kafka: 202 with the trigger's id (SPEC 4)
    assert r.status_code == 202
    assert r.json() == {"id": trigger["trigger_id"], "status": "completed"}
    [done] = published(api, "circular.trigger.completed")
    assert done.outcome == "referred" and "consulate" not in done.model_dump_json()
    [listed] = api.get("wk1", "/reintegration/triggers").json()["items"]
    assert (listed["status"], listed["outcome"]) == ("completed", "referred")
    assert api.post("rec", path, json={"outcome": "referred"}).status_code == 202
    assert len(published(api, "circular.trigger.completed")) == 1
    assert api.post("rec", path, json={"outcome": "unreachable"}).status_code == 409
    listed = api.get("rec", "/reintegration/triggers",
                     params={"status": "completed", "kind": "overdue_return"}).json()
    assert listed["total"] == 1


def test_a_trigger_of_no_placement_is_listed_and_completed(api, world):
    r = api.post("rec", "/returns", json={"worker_id": "w2",
                                          "return_date": real_today().isoformat()})
    return_id = r.json()["id"]
    api.fold(pev.ReturnUnmatched(return_id=return_id, worker_id="w2",
                                 return_date=real_today(), reason="no open placement"))
    api.fold(tev.TriggerFired.model_validate({
        "trigger_id": tev.trigger_id("w2", None, "counselling_referral", return_id),
        "worker_id": "w2", "kind": "counselling_referral", "cause": return_id,
        "reason": "Returned: offer a consultation.", "due_date": real_today().isoformat()}))
    [trigger] = api.get("wk2", "/reintegration/triggers").json()["items"]
    assert trigger["placement_id"] is None and trigger["kind"] == "counselling_referral"
    path = f"/reintegration/triggers/{trigger['trigger_id']}/complete"
    assert api.post("rec", path, json={"outcome": "service_delivered"}).status_code == 202
    [done] = api.get("rec", "/reintegration/triggers", params={"worker_id": "w2"}).json()["items"]
    assert (done["placement_id"], done["status"]) == (None, "completed")


def test_flow_statistics(api, world):
    m11 = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    advance_match(api, "w2", "v2", "e2", "approved")
    api.fold(started(m11))
    flows = api.get("admin", "/stats/flows", params={"year": 2027}).json()
    assert flows == [{"destination_country": "DE", "isco_code": "6111", "proposed": 2,
                      "approved": 2, "departed": 1, "returned": 0, "overdue": 0,
                      "return_rate": 0.0}]
    assert api.get("admin", "/stats/flows", params={"year": 2031}).json() == []
