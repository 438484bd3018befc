"""Workers: registration by themselves or a recruiter, personal data kept in the
gateway only, every read of it audited, erasure that leaves only pseudonymous facts."""

import json
import logging
from datetime import date

from sqlalchemy import event, select, update

from schemas.codec import decode
from schemas.events import placements as pev
from schemas.events import triggers as tev
from schemas.events.matches import MatchRejected, MatchWithdrawn, WithdrawalReason
from schemas.events.placements import placement_id
from services.gateway.clock.service import real_today
from services.gateway.database.core import utcnow
from services.gateway.outbox.models import OutboxRecord
from services.gateway.placements.models import Placement, ReturnRegistration
from services.gateway.privacy import ERASED_REASON, PSEUDONYMOUS_FIELDS
from services.gateway.timeline.models import TimelineEntry
from services.gateway.triggers.models import Trigger
from tests.support.gateway import PASSWORD, advance_match, match_event, worker_body

# never on Kafka nor in a log line; the date of birth is carried on Kafka on purpose
# (eligibility needs the exact age on a start date) but never logged
PII = ("Anahit Petrosyan", "AM1000001", "+374 91 123456", "w1@example.am", "Shirak")
BIRTH_DATE = "1990-05-17"


def outbox(api, event_type=None):
    query = select(OutboxRecord).order_by(OutboxRecord.id)
    if event_type is not None:
        query = query.where(OutboxRecord.event_type == event_type)
    with api.sessions() as s:
        rows = s.scalars(query).all()
    return [decode(r.value.encode(), [(k, v.encode()) for k, v in r.headers]) for r in rows]


def log_dump(caplog):
    """Everything a log handler could print of the captured records: the message,
    every extra attribute, and the formatted exception if one was attached."""
    out = []
    for record in caplog.records:
        out.append(json.dumps(record.__dict__, default=str))
        if record.exc_info:
            out.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(out)


def test_self_registration_creates_the_worker_and_its_login(api):
    body = {**worker_body("w5", "AM5000005"), "username": "anahit", "password": PASSWORD}
    r = api.post(None, "/workers", json=body)
    assert r.status_code == 202 and r.json() == {"id": "w5", "status": "active"}
    me = api.get("anahit", "/workers/w5").json()
    assert me["full_name"] == "Anahit Petrosyan w5" and me["passport_number"] == "AM5000005"
    registered = outbox(api, "circular.worker.registered")[0].event
    assert registered.worker_id == "w5" and registered.skills == ["tractor"]
    # without a login, an anonymous registration is not possible
    assert api.post(None, "/workers", json=worker_body("w6", "AM6000006")).status_code == 401


def test_no_personal_data_reaches_kafka_or_the_logs(api, world, caplog):
    caplog.set_level(logging.DEBUG)
    api.get("rec", "/workers/w1")
    api.call("wk1", "PATCH", "/workers/w1", json={"phone": "+374 99 000000",
                                                  "skills": ["tractor", "pruning"]})
    api.call("rec", "DELETE", "/workers/w2")
    with api.sessions() as s:
        published = " ".join(r.value + str(r.headers) + r.key
                             for r in s.scalars(select(OutboxRecord)))
    logged = log_dump(caplog)
    for value in (*PII, "+374 99 000000", "AM1000002", "w2@example.am"):
        assert value not in published
        assert value not in logged
    assert BIRTH_DATE not in logged


def test_every_read_of_personal_data_is_audited(api, world):
    assert api.get("rec", "/workers/w1").status_code == 200
    assert api.get("wk1", "/workers/w1").status_code == 200
    trail = api.get("wk1", "/workers/w1/audit").json()["items"]
    assert [(t["actor_role"], t["action"]) for t in trail] == [
        ("recruiter", "read_personal_data"), ("worker", "read_personal_data")]
    assert set(trail[0]["fields"]) == {"full_name", "passport_number", "phone", "email",
                                       "region", "date_of_birth"}
    assert trail[0]["path"] == "/api/v1/workers/w1"


def test_profile_changes_are_published_contact_changes_are_not(api, world):
    before = len(outbox(api))
    assert api.call("wk1", "PATCH", "/workers/w1",
                    json={"phone": "+374 99 000001"}).status_code == 202
    assert len(outbox(api)) == before
    assert api.call("wk1", "PATCH", "/workers/w1",
                    json={"consent_matching": False}).status_code == 202
    updated = outbox(api, "circular.worker.profile-updated")
    assert len(updated) == 1 and updated[0].event.consent_matching is False
    assert updated[0].event.date_of_birth.isoformat() == "1990-05-17"
    r = api.call("wk1", "PATCH", "/workers/w1", json={"occupations": [{"isco_code": "0000"}]})
    assert r.status_code == 422
    assert api.get("wk1", "/workers/w1").json()["phone"] == "+374 99 000001"


def test_duplicate_passport_is_refused(api, world):
    r = api.post("rec", "/workers", json=worker_body("w8", "AM1000001"))
    assert r.status_code == 409 and "passport" in r.json()["message"]


def test_timeline_reads_no_personal_data(api, world):
    """The timeline drops the date of birth of registrations and profile updates, so
    reading it reads no personal data (and writes no audit record)."""
    assert api.call("wk1", "PATCH", "/workers/w1",
                    json={"skills": ["tractor", "pruning"]}).status_code == 202
    for who in ("rec", "admin", "wk1"):
        r = api.get(who, "/workers/w1/timeline")
        assert r.status_code == 200
        items = r.json()["items"]
        assert [e["type"] for e in items] == ["circular.worker.registered",
                                              "circular.match.proposed",
                                              "circular.worker.profile-updated"]
        assert "date_of_birth" not in r.text and BIRTH_DATE not in r.text
        for value in PII:
            assert value not in r.text
        assert items[0]["data"]["citizenship"] == "AM"
        assert items[2]["data"]["skills"] == ["tractor", "pruning"]
    assert api.get("wk1", "/workers/w1/audit").json()["items"] == []
    # the event itself still carries it: matching needs the exact age
    [registered] = outbox(api, "circular.worker.registered")[:1]
    assert registered.event.date_of_birth.isoformat() == BIRTH_DATE


# what w1 tells the agency or the agency writes about w1, besides SPEC 3.7's list
TOLD = ("tractor", "pruning", "greenhouse", "employer_abuse", "start_business", "credit",
        "Bagratashen", "called the consulate", "no licence", "Shirak")


def w1_with_a_history(api, world):
    """w1 registered, changed its profile, was matched, departed and came back early
    (with intentions, needs, skills and a reason), got a trigger a recruiter
    completed with a note; the relay published all of it."""
    m = advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    assert api.call("wk1", "PATCH", "/workers/w1",
                    json={"skills": ["tractor", "pruning"]}).status_code == 202
    today = real_today()
    assert api.post("rec", "/departures", json={
        "match_id": m, "departure_date": today.isoformat(),
        "border_crossing_point": "Bagratashen"}).status_code == 202
    r = api.post("wk1", "/returns", json={
        "worker_id": "w1", "return_date": today.isoformat(), "match_id": m,
        "intentions": ["start_business"], "needs": ["credit"],
        "skills_acquired": ["greenhouse"], "early_return_reason": "employer_abuse"})
    assert r.status_code == 202
    api.fold(pev.PlacementStarted(
        placement_id=placement_id(m), match_id=m, worker_id="w1", vacancy_id="v1",
        employer_id="e1", agreement_id="am-de", destination_country="DE", isco_code="6111",
        departure_date=today, expected_return_date=date(2099, 1, 1)))
    fired = tev.TriggerFired(
        trigger_id="t-skills", worker_id="w1", placement_id=placement_id(m),
        kind=tev.TriggerKind.SKILLS_RECOGNITION, cause=r.json()["id"],
        reason="Acquired skills abroad (greenhouse): start skills recognition.",
        due_date=today)
    api.fold(fired)
    assert api.post("rec", "/reintegration/triggers/t-skills/complete", json={
        "outcome": "referred", "note": "called the consulate"}).status_code == 202
    with api.sessions() as s:  # the relay published everything so far
        s.execute(update(OutboxRecord).values(published_at=utcnow()))
        s.commit()
    # a recruiter's rejection reason of another match of w1
    api.fold(match_event(MatchRejected, "w1", "v2", "e2", reason="no licence",
                         reviewed_by="u-rec"))
    return m


def test_erasure_keeps_only_pseudonymous_facts(api, world):
    m = w1_with_a_history(api, world)
    # one change still waiting for the relay when the erasure comes
    assert api.call("wk1", "PATCH", "/workers/w1",
                    json={"consent_matching": False}).status_code == 202
    assert api.call("wk1", "DELETE", "/workers/w1").status_code == 202
    erased = api.get("rec", "/workers/w1").json()
    assert erased["status"] == "erased"
    for field in ("full_name", "passport_number", "phone", "email", "region", "date_of_birth"):
        assert erased[field] is None
    assert erased["occupations"] == [] and erased["consent_matching"] is False
    assert [e.event.worker_id for e in outbox(api, "circular.worker.erased")] == ["w1"]
    # the login went with the data; an erased worker cannot be changed
    assert api.get("wk1", "/workers/w1").status_code == 401
    assert api.call("rec", "PATCH", "/workers/w1", json={"region": "Lori"}).status_code == 409
    assert api.call("rec", "DELETE", "/workers/w1").status_code == 202
    assert len(outbox(api, "circular.worker.erased")) == 1
    # events that arrive afterwards are kept pseudonymous too
    api.fold(match_event(MatchWithdrawn, "w1", "v1", "e1",
                         reason=WithdrawalReason.WORKER_ERASED))
    api.fold(tev.TriggerFired(
        trigger_id="t-late", worker_id="w1", placement_id=placement_id(m),
        kind=tev.TriggerKind.SKILLS_RECOGNITION, cause="late",
        reason="Acquired skills abroad (greenhouse): start skills recognition.",
        due_date=real_today()))

    # the timeline keeps the pseudonymous events, in order, and nothing else
    r = api.get("rec", "/workers/w1/timeline")
    items = r.json()["items"]
    types = [e["type"] for e in items]
    assert types[0] == "circular.worker.registered"
    assert "circular.return.registered" in types and "circular.trigger.fired" in types
    assert types[-2:] == ["circular.match.withdrawn", "circular.trigger.fired"]
    for item in items:
        assert set(item["data"]) <= PSEUDONYMOUS_FIELDS, item
        assert item["data"]["worker_id"] == "w1"
    assert "date_of_birth" not in r.text and BIRTH_DATE not in r.text
    for value in (*PII, *TOLD):
        assert value not in r.text, value
    returned = next(e for e in items if e["type"] == "circular.return.registered")
    assert returned["data"]["return_date"] == real_today().isoformat()

    with api.sessions() as s:
        rows = s.scalars(select(OutboxRecord).order_by(OutboxRecord.id)).all()
        returns = s.scalars(select(ReturnRegistration)).all()
        placement = s.get(Placement, placement_id(m))
        triggers = {t.id: t for t in s.scalars(select(Trigger))}
        stored = [t.data for t in s.scalars(select(TimelineEntry))]
    # every outbox row of w1's: published ones keep the pseudonymous fields, the
    # unpublished profile update is gone (the erasure event right behind it says all)
    mine = [r for r in rows if json.loads(r.value).get("worker_id") == "w1"]
    assert {r.event_type for r in mine} >= {"circular.worker.registered",
                                            "circular.return.registered",
                                            "circular.departure.recorded",
                                            "circular.worker.erased"}
    assert [r.event_type for r in mine].count("circular.worker.profile-updated") == 1
    for row in mine:
        assert set(json.loads(row.value)) <= PSEUDONYMOUS_FIELDS, row.value
        assert "date_of_birth" not in row.value and BIRTH_DATE not in row.value
        for value in (*PII, *TOLD):
            assert value not in row.value, (value, row.event_type)
    # w2's registration is untouched
    [w2] = [r for r in rows if r.key == "w2" and r.event_type == "circular.worker.registered"]
    w2_event = decode(w2.value.encode(), [(k, v.encode()) for k, v in w2.headers]).event
    assert w2_event.date_of_birth.isoformat() == BIRTH_DATE
    # stored return bodies, placements, triggers and their notes
    [ret] = returns
    assert set(ret.body) <= PSEUDONYMOUS_FIELDS and ret.body["return_date"]
    assert placement.border_crossing_point is None
    assert {t.reason for t in triggers.values()} == {ERASED_REASON}
    assert triggers["t-skills"].note is None and triggers["t-skills"].outcome == "referred"
    for data in stored:
        assert "date_of_birth" not in data
    listed = api.get("rec", "/reintegration/triggers", params={"worker_id": "w1"}).json()
    assert {t["trigger_id"] for t in listed["items"]} == {"t-skills", "t-late"}
    for match in api.get("rec", "/matches", params={"worker_id": "w1"}).json()["items"]:
        assert match["reasons"] == [] and match["outcome_reason"] != "no licence"


def test_a_registration_writes_its_rows_together_at_commit(api, world):
    """The worker, its outbox event and its timeline entry reach the database in one
    go when the transaction commits: nothing is read between the first write and the
    commit (on SQLite the first write takes the database's one write lock)."""
    engine = api.sessions.kw["bind"]
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_):
        statements.append(statement.lstrip().split(None, 1)[0].upper())

    def committed(_conn):
        statements.append("COMMIT")

    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    try:
        r = api.post("rec", "/workers", json=worker_body("w9", "AM1000009"))
        assert r.status_code == 202, r.text
        changes = api.call("rec", "PATCH", "/workers/w9", json={"consent_matching": False})
        assert changes.status_code == 202, changes.text
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        event.remove(engine, "commit", committed)
    assert "INSERT" in statements
    for commit in [i for i, s in enumerate(statements) if s == "COMMIT"]:
        before = statements[:commit]
        start = max((i for i, s in enumerate(before) if s == "COMMIT"), default=-1) + 1
        transaction = before[start:]
        writes = [i for i, s in enumerate(transaction) if s in ("INSERT", "UPDATE")]
        if writes:
            assert set(transaction[writes[0]:]) <= {"INSERT", "UPDATE"}, transaction
    with api.sessions() as s:
        entries = s.scalars(select(TimelineEntry.event_type)
                            .where(TimelineEntry.worker_id == "w9")).all()
    assert sorted(entries) == ["circular.worker.profile-updated", "circular.worker.registered"]
