"""Workers: registration by themselves or a recruiter, personal data kept in the
gateway only, every read of it audited, erasure that leaves only pseudonymous facts."""

import logging

from sqlalchemy import select

from schemas.codec import decode
from services.gateway.outbox.models import OutboxRecord
from tests.support.gateway import PASSWORD, worker_body

# never on Kafka nor in a log line; the date of birth is carried on Kafka on purpose
# (eligibility needs the exact age on a start date) but never logged
PII = ("Anahit Petrosyan", "AM1000001", "+374 91 123456", "w1@example.am", "Shirak")
BIRTH_DATE = "1990-05-17"


def outbox(api, event_type=None):
    with api.sessions() as s:
        rows = s.scalars(select(OutboxRecord).order_by(OutboxRecord.id)).all()
    found = [decode(r.value.encode(), [(k, v.encode()) for k, v in r.headers]) for r in rows]
    return [d for d in found if event_type is None or d.envelope.type == event_type]


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
    for value in (*PII, "+374 99 000000", "AM1000002", "w2@example.am"):
        assert value not in published
        assert value not in caplog.text
    assert BIRTH_DATE not in caplog.text


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


def test_erasure_keeps_only_pseudonymous_facts(api, world):
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
    # the timeline keeps the pseudonymous events
    types = [e["type"] for e in api.get("rec", "/workers/w1/timeline").json()["items"]]
    assert types[0] == "circular.worker.registered" and types[-1] == "circular.worker.erased"
