"""Console: a worker's registration (its own, or a walk-in by a recruiter) with the
errors at their fields, the staff's list of workers, a worker's profile, consents and
timeline (its own only), answering offers, and registering a return."""

from datetime import timedelta

from sqlalchemy import select

from schemas.events import matches as mev
from services.gateway.clock.service import real_today
from services.gateway.placements.models import ReturnRegistration
from services.gateway.workers.models import Worker
from tests.support.console import browser
from tests.support.gateway import PASSWORD, advance_match, match_event, worker_body

FORM = {"full_name": "Gayane Hakobyan", "date_of_birth": "1988-03-09",
        "passport_number": "AM2000001", "phone": "+374 93 555555",
        "email": "gayane@example.am", "region": "Lori", "citizenship": "AM",
        "occupations.0.isco_code": "6111", "occupations.0.experience_years": "3",
        "occupations.1.isco_code": "", "occupations.1.experience_years": "",
        "languages.0.language": "de", "languages.0.level": "A2",
        "languages.1.language": "", "languages.1.level": "",
        "skills": "tractor, Pruning ,", "preferred_destinations": "DE, PL",
        "available_from": "2027-02-01", "consent_matching": "true"}


def _worker_id_of(api, passport):
    with api.sessions() as session:
        return session.scalar(select(Worker.id).where(Worker.passport_number == passport))


def test_self_registration_creates_a_worker_who_can_sign_in(api, world):
    b = browser(api)
    r = b.get("/console/register")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert 'for="f-passport_number"' in r.text and 'name="consent_matching"' in r.text
    assert "never your name, passport or contacts" in r.text  # consent in plain words
    r = b.post("/console/register", {**FORM, "username": "gayane", "password": PASSWORD})
    assert r.status_code == 200, r.text[:2000]
    assert "You are registered" in r.text and 'href="/console/sign-in"' in r.text

    worker_id = _worker_id_of(api, "AM2000001")
    assert worker_id is not None
    body = api.get("admin", f"/workers/{worker_id}").json()
    assert body["full_name"] == "Gayane Hakobyan" and body["consent_matching"] is True
    assert body["occupations"] == [{"isco_code": "6111", "experience_years": 3}]
    assert body["languages"] == [{"language": "de", "level": "A2"}]
    assert body["skills"][0] == "tractor" and body["skills"][1].lower() == "pruning"
    assert body["preferred_destinations"] == ["DE", "PL"]

    me = browser(api, "gayane")
    r = me.get("/console/me")
    assert r.status_code == 200 and "Gayane Hakobyan" in r.text and worker_id in r.text


def test_registration_errors_are_shown_at_their_fields(api, world):
    b = browser(api)
    # no answer about consent, a passport number with spaces, a birth date to come
    bad = {**FORM, "passport_number": "AM 12", "date_of_birth": "2199-01-01",
           "username": "gayane", "password": PASSWORD}
    del bad["consent_matching"]
    r = b.post("/console/register", bad)
    assert r.status_code == 422
    assert 'id="consent_matching-error"' in r.text and "This field is required." in r.text
    assert 'id="passport_number-error"' in r.text
    assert "This is not in the expected format." in r.text
    assert 'id="date_of_birth-error"' in r.text
    assert 'value="Gayane Hakobyan"' in r.text  # what was typed is kept
    assert PASSWORD not in r.text  # but never the password
    assert _worker_id_of(api, "AM12") is None
    assert api.post(None, "/auth/token", data={"username": "gayane",
                                               "password": PASSWORD}).status_code == 401

    # a date that is no date, and an occupation's years that are no number
    r = b.post("/console/register", {**FORM, "available_from": "soon",
                                     "occupations.0.experience_years": "many",
                                     "username": "gayane", "password": PASSWORD})
    assert r.status_code == 422
    assert 'id="available_from-error"' in r.text and "Enter a date." in r.text
    assert 'id="occupations.0.experience_years-error"' in r.text
    assert "Enter a whole number." in r.text

    # a passport registered already: the conflict at the field
    r = b.post("/console/register", {**FORM, "passport_number": "AM1000001",
                                     "username": "gayane", "password": PASSWORD})
    assert r.status_code == 409
    assert "A worker with this passport number is registered already." in r.text


def test_walk_in_registration_by_a_recruiter(api, world):
    b = browser(api, "rec")
    r = b.get("/console/workers/new")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert 'name="username"' not in r.text and 'name="consent_matching"' in r.text
    r = b.post("/console/workers/new", {**FORM, "consent_matching": "false"})
    assert r.status_code == 200, r.text[:2000]
    assert "The worker is registered" in r.text and "Gayane Hakobyan" in r.text
    worker_id = _worker_id_of(api, "AM2000001")
    body = api.get("rec", f"/workers/{worker_id}").json()
    assert body["consent_matching"] is False and body["region"] == "Lori"

    # consent must be asked: no answer is an error at the question
    no_answer = {**FORM, "passport_number": "AM2000002"}
    del no_answer["consent_matching"]
    r = b.post("/console/workers/new", no_answer)
    assert r.status_code == 422 and 'id="consent_matching-error"' in r.text
    assert _worker_id_of(api, "AM2000002") is None

    # other roles may not
    for who in ("emp1", "wk1"):
        r = browser(api, who).get("/console/workers/new")
        assert r.status_code == 403 and "You may not see this page" in r.text


def test_staff_list_and_profile_escape_what_people_typed(api, world):
    r = api.post("rec", "/workers", json=worker_body(
        "w3", "AM1000003", full_name="<script>alert(1)</script>"))
    assert r.status_code == 202
    for who in ("rec", "admin"):
        b = browser(api, who)
        r = b.get("/console/workers")
        assert r.status_code == 200 and r.text.count("<h1>") == 1
        assert 'href="/console/workers/w1"' in r.text and "Anahit Petrosyan w1" in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert "<script>alert(1)" not in r.text
        assert "Active" in r.text
        r = b.get("/console/workers/w3")
        assert r.status_code == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert "<script>alert(1)" not in r.text
        assert 'href="/console/workers/w3/timeline"' in r.text
    # the names shown were reads of personal data: in the worker's audit trail
    audit = api.get("admin", "/workers/w3/audit").json()["items"]
    assert any(a["path"] == "/console/workers" and a["fields"] == ["full_name"]
               for a in audit)
    # not for employers or workers
    for who in ("emp1", "wk1"):
        r = browser(api, who).get("/console/workers")
        assert r.status_code == 403 and "Anahit" not in r.text


def test_a_worker_sees_only_its_own_profile_and_timeline(api, world):
    b = browser(api, "wk1")
    r = b.get("/console/me")
    assert r.status_code == 200 and "Anahit Petrosyan w1" in r.text and "AM1000001" in r.text
    for path in ("/console/workers/w2", "/console/workers/w2/timeline"):
        r = b.get(path)
        assert r.status_code == 403, path
        assert "Anahit Petrosyan w2" not in r.text and "AM1000002" not in r.text
    r = browser(api, "emp1").get("/console/workers/w1")
    assert r.status_code == 403 and "Anahit" not in r.text
    assert browser(api, "rec").get("/console/workers/nobody").status_code == 404
    # a page for workers only
    r = browser(api, "rec").get("/console/me")
    assert r.status_code == 403


def test_timeline_shows_events_in_words_and_the_workers_own_triggers(api, world):
    advance_match(api, "w1", "v1", "e1", "approved")
    api.fold(match_event(mev.MatchProposed, "w2", "v1", "e1", score=0.5, reasons=[]))
    b = browser(api, "wk1")
    r = b.get("/console/me/timeline")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert "Proposed for a vacancy" in r.text and "Offer approved by a recruiter" in r.text
    assert r.text.index("Proposed for a vacancy") < r.text.index("Offer approved")
    assert "circular.match" not in r.text  # codes are shown as words
    assert "No follow-up yet." in r.text
    # staff see the same timeline
    r = browser(api, "rec").get("/console/workers/w1/timeline")
    assert r.status_code == 200 and "Offer approved by a recruiter" in r.text


def test_worker_edits_its_profile_and_withdraws_consent(api, world):
    b = browser(api, "wk1")
    r = b.get("/console/me")
    assert 'value="tractor"' in r.text  # the form is filled in with the profile
    r = b.post("/console/me", {"full_name": "Anahit Petrosyan", "region": "Lori",
                               "skills": "tractor, welding", "available_from": "2027-01-15",
                               "occupations.0.isco_code": "6111",
                               "occupations.0.experience_years": "5",
                               "consent_matching": "false"})
    assert r.status_code == 200 and "Your profile is saved." in r.text
    body = api.get("wk1", "/workers/w1").json()
    assert body["consent_matching"] is False and body["region"] == "Lori"
    assert body["skills"] == ["tractor", "welding"]
    assert body["occupations"] == [{"isco_code": "6111", "experience_years": 5}]

    r = b.post("/console/me", {"full_name": "A", "phone": "call me",
                               "consent_matching": "true"})
    assert r.status_code == 422
    assert 'id="full_name-error"' in r.text and 'id="phone-error"' in r.text
    assert api.get("wk1", "/workers/w1").json()["consent_matching"] is False


def test_worker_accepts_an_approved_offer(api, world):
    mid = advance_match(api, "w1", "v1", "e1", "approved")
    b = browser(api, "wk1")
    r = b.get("/console/offers")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert "Accept the offer for vacancy v1" in r.text and "Approved" in r.text
    assert f'action="/console/offers/{mid}/accept"' in r.text
    # another worker's match: no row of it (its id and vacancy, not a bare "v2" that a
    # random CSRF token on the page may contain)
    assert world["m22"] not in r.text and "vacancy v2" not in r.text
    # what the worker decides on: the vacancy's terms and its employer
    assert "Harvest hand" in r.text and "Hof e1 GmbH" in r.text
    assert "€1,900" in r.text and "Apr 1, 2027" in r.text
    assert "Hof e2 GmbH" not in r.text
    r = b.post(f"/console/offers/{mid}/accept", {})
    assert r.status_code == 200 and "You accepted the offer" in r.text
    match = api.get("wk1", f"/matches/{mid}").json()
    assert match["status"] == "approved" and match["pending"] == "accept"
    # asked again while it waits: refused, with a message
    r = b.post(f"/console/offers/{mid}/accept", {})
    assert r.status_code == 409 and "This offer cannot be answered now" in r.text

    # once the matcher confirmed it, the page shows it accepted, with nothing to answer
    advance_match(api, "w1", "v1", "e1", "accepted")
    r = b.get("/console/offers")
    assert "Accepted" in r.text and f"/console/offers/{mid}/accept" not in r.text


def test_worker_declines_and_cannot_answer_anothers_offer(api, world):
    mid = advance_match(api, "w1", "v1", "e1", "approved")
    other = advance_match(api, "w2", "v2", "e2", "approved")
    b = browser(api, "wk1")
    r = b.post(f"/console/offers/{other}/accept", {})
    assert r.status_code == 403
    assert "vacancy v2" not in r.text and "Hof e2 GmbH" not in r.text
    assert api.get("wk2", f"/matches/{other}").json()["pending"] is None
    r = b.post(f"/console/offers/{mid}/decline", {})
    assert r.status_code == 200 and "You declined the offer." in r.text
    assert api.get("wk1", f"/matches/{mid}").json()["pending"] == "decline"
    assert browser(api, "rec").get("/console/offers").status_code == 403


def test_worker_registers_its_return(api, world):
    today = real_today()
    b = browser(api, "wk1")
    r = b.get("/console/return")
    assert r.status_code == 200 and r.text.count("<h1>") == 1
    assert "Start a business" in r.text and "Abuse by the employer" in r.text
    # a date to come is refused at its field
    r = b.post("/console/return", {"return_date": (today + timedelta(days=1)).isoformat(),
                                   "intentions": "start_business"})
    assert r.status_code == 422
    assert 'id="return_date-error"' in r.text and "This date is after today." in r.text
    assert api.get("rec", "/returns", params={"worker_id": "w1"}).json()["total"] == 0

    r = b.post("/console/return", [("return_date", today.isoformat()),
                                   ("intentions", "start_business"), ("intentions", "study"),
                                   ("needs", "credit"), ("skills_acquired", "pruning, forklift"),
                                   ("early_return_reason", "")])
    assert r.status_code == 200 and "Your return is registered." in r.text
    [ret] = api.get("wk1", "/returns").json()["items"]
    assert ret["worker_id"] == "w1" and ret["return_date"] == today.isoformat()
    with api.sessions() as session:
        row = session.get(ReturnRegistration, ret["return_id"])
        assert row is not None
        assert row.body["intentions"] == ["start_business", "study"]
        assert row.body["needs"] == ["credit"]
        assert row.body["skills_acquired"] == ["pruning", "forklift"]
    assert browser(api, "rec").get("/console/return").status_code == 403


def test_recruiter_registers_a_workers_return(api, world):
    b = browser(api, "rec")
    r = b.get("/console/workers/w2/return")
    assert r.status_code == 200 and "Register the return of worker w2" in r.text
    r = b.post("/console/workers/w2/return", {"return_date": real_today().isoformat(),
                                              "early_return_reason": "health"})
    assert r.status_code == 200 and "The return of worker w2 is registered." in r.text
    [ret] = api.get("rec", "/returns", params={"worker_id": "w2"}).json()["items"]
    assert ret["return_date"] == real_today().isoformat()
    r = b.post("/console/workers/w2/return", {"return_date": "someday"})
    assert r.status_code == 422 and 'id="return_date-error"' in r.text
    # not a worker for another worker, nor an employer
    assert browser(api, "wk1").get("/console/workers/w2/return").status_code == 403
    assert browser(api, "emp1").post("/console/workers/w2/return", {
        "return_date": real_today().isoformat()}).status_code == 403
    assert api.get("rec", "/returns", params={"worker_id": "w2"}).json()["total"] == 1
