"""Object- and function-level authorization on every route (OWASP API1/API5): each
role, with its own ids and another party's (the other employer, the other worker).

The rule (SPEC 4: "wrong role or someone else's resource: 403; unknown id: 404"):
a role that may never call a route gets 403 before any lookup; so does a caller
whose own id the path or a filter contradicts (a worker asking for another worker
id, an employer for another employer id), whether or not that id exists. Where
ownership needs the record (a vacancy's or match's owner), an unknown id is 404 and
another party's is 403. No route hides existence behind 404. Forbidden calls
change nothing; allowed calls, with the state set up for them, really succeed."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from schemas.events import triggers as tev
from services.gateway.clock.service import real_today
from services.gateway.outbox.models import OutboxRecord
from tests.support.gateway import AGREEMENT, PASSWORD, advance_match, vacancy_body, worker_body

ROLES = ("admin", "rec", "emp1", "emp2", "wk1", "wk2")
STAFF = {"admin": 200, "rec": 200}
EVERYONE = {role: 200 for role in ROLES}
YESTERDAY = (real_today() - timedelta(days=1)).isoformat()


def approved(api, world):
    advance_match(api, "w1", "v1", "e1", "approved")


def accepted(api, world):
    advance_match(api, "w1", "v1", "e1", "approved", "accepted")


def trigger_fired(api, world):
    api.fold(tev.TriggerFired(trigger_id="t-w1", worker_id="w1", placement_id="p-w1",
                              kind=tev.TriggerKind.COUNSELLING_REFERRAL, cause="r1",
                              reason="Returned: offer a consultation.", due_date=real_today()))


# (name, method, path, body maker, {allowed role: expected status}, setup); paths use
# the world of tests/support/gateway.py: e1/v1/w1/m11 belong to emp1/wk1, e2/v2/w2/m22
# to emp2/wk2. Every role not listed must get 403.
#: a roster of one new worker, for POST /workers/import (a file, not a JSON body)
ROSTER = (Path(__file__).parents[2] / "deploy" / "sample" / "roster.csv").read_text(
    encoding="utf-8").splitlines()[0] + "\n" + (
    "w8,Lusine Sargsyan,1992-02-02,AM8000008,AM,,,Shirak,6111:3,tractor,,DE,"
    "2027-01-01,yes\n")
ROUTES = [
    ("create user", "POST", "/users",
     lambda: {"username": "newrec", "password": PASSWORD, "role": "recruiter"},
     {"admin": 201}, None),
    ("create agreement", "POST", "/agreements",
     lambda: {**AGREEMENT, "agreement_id": "am-kr", "destination_country": "KR",
              "occupations": [{"isco_code": "6111", "annual_quota": 5, "min_monthly_wage":
                               {"amount": "2000000", "currency": "KRW"}}]}, {"admin": 202}, None),
    ("list agreements", "GET", "/agreements", None, EVERYONE, None),
    ("read agreement", "GET", "/agreements/am-de", None, EVERYONE, None),
    ("agreement quota", "GET", "/agreements/am-de/quota?year=2027", None, STAFF, None),
    ("suspend agreement", "POST", "/agreements/am-de/suspend", None, {"admin": 202}, None),
    ("resume agreement", "POST", "/agreements/am-de/resume", None, {"admin": 202}, None),
    ("create employer", "POST", "/employers",
     lambda: {"employer_id": "e3", "name": "Neu GmbH", "country": "DE",
              "registration_number": "HRB 3"}, {"admin": 202}, None),
    ("list employers", "GET", "/employers", None, {"admin": 200}, None),
    ("read employer", "GET", "/employers/e1", None, {"admin": 200, "emp1": 200}, None),
    ("verify employer", "POST", "/employers/e1/verify", None, {"admin": 202}, None),
    ("suspend employer", "POST", "/employers/e1/suspend", None, {"admin": 202}, None),
    ("post vacancy", "POST", "/vacancies", lambda: vacancy_body("v9", "e1"),
     {"admin": 202, "emp1": 202}, None),
    ("repost a vacancy", "POST", "/vacancies", lambda: vacancy_body("v1", "e1"),
     {"admin": 202, "emp1": 202}, None),
    ("list vacancies", "GET", "/vacancies", None,
     {"admin": 200, "rec": 200, "emp1": 200, "emp2": 200}, None),
    ("list one employer's vacancies", "GET", "/vacancies?employer_id=e1", None,
     {"admin": 200, "rec": 200, "emp1": 200}, None),
    ("read vacancy", "GET", "/vacancies/v1", None, {**STAFF, "emp1": 200}, None),
    ("vacancy matches", "GET", "/vacancies/v1/matches", None, {**STAFF, "emp1": 200}, None),
    ("close vacancy", "POST", "/vacancies/v1/close", None, {"admin": 202, "emp1": 202}, None),
    ("register worker", "POST", "/workers", lambda: worker_body("w9", "AM9000009"),
     {"admin": 202, "rec": 202}, None),
    ("read worker", "GET", "/workers/w1", None, {**STAFF, "wk1": 200}, None),
    ("update worker", "PATCH", "/workers/w1", lambda: {"region": "Lori"},
     {"admin": 202, "rec": 202, "wk1": 202}, None),
    ("worker timeline", "GET", "/workers/w1/timeline", None, {**STAFF, "wk1": 200}, None),
    ("worker audit", "GET", "/workers/w1/audit", None, {"admin": 200, "wk1": 200}, None),
    ("erase worker", "DELETE", "/workers/w1", None,
     {"admin": 202, "rec": 202, "wk1": 202}, None),
    ("list matches", "GET", "/matches", None, EVERYONE, None),
    ("list one worker's matches", "GET", "/matches?worker_id=w1", None,
     {**STAFF, "emp1": 200, "emp2": 200, "wk1": 200}, None),
    ("list one vacancy's matches", "GET", "/matches?vacancy_id=v1", None,
     {**STAFF, "emp1": 200, "wk1": 200, "wk2": 200}, None),
    ("read match", "GET", "/matches/{m11}", None, {**STAFF, "emp1": 200, "wk1": 200},
     approved),
    ("approve match", "POST", "/matches/{m11}/approve", None, {"rec": 202}, None),
    ("reject match", "POST", "/matches/{m11}/reject", lambda: {"reason": "no licence"},
     {"rec": 202}, None),
    ("accept match", "POST", "/matches/{m11}/accept", None, {"wk1": 202}, approved),
    ("decline match", "POST", "/matches/{m11}/decline", None, {"wk1": 202}, approved),
    ("record departure", "POST", "/departures",
     lambda: {"match_id": "{m11}", "departure_date": YESTERDAY},
     {"admin": 202, "rec": 202}, accepted),
    ("register return", "POST", "/returns",
     lambda: {"worker_id": "w1", "return_date": YESTERDAY}, {"rec": 202, "wk1": 202}, None),
    ("list placements", "GET", "/placements", None, {**STAFF, "wk1": 200, "wk2": 200}, None),
    ("list one worker's placements", "GET", "/placements?worker_id=w1", None,
     {**STAFF, "wk1": 200}, None),
    ("list returns", "GET", "/returns", None, {**STAFF, "wk1": 200, "wk2": 200}, None),
    ("list one worker's returns", "GET", "/returns?worker_id=w1", None,
     {**STAFF, "wk1": 200}, None),
    ("list triggers", "GET", "/reintegration/triggers", None,
     {**STAFF, "wk1": 200, "wk2": 200}, None),
    ("list one worker's triggers", "GET", "/reintegration/triggers?worker_id=w1", None,
     {**STAFF, "wk1": 200}, None),
    ("complete trigger", "POST", "/reintegration/triggers/t-w1/complete",
     lambda: {"outcome": "service_delivered"}, {"rec": 202}, trigger_fired),
    ("import a roster", "POST", "/workers/import", lambda: {"__file__": (
        "roster.csv", ROSTER.encode(), "text/csv")}, {"admin": 200, "rec": 200}, None),
    ("flow statistics", "GET", "/stats/flows?year=2027", None, {"admin": 200}, None),
    ("clock tick", "POST", "/admin/clock/tick", lambda: {"date": "2099-01-01"},
     {"admin": 202}, None),
    # every role may listen; what each hears is tests/integration/test_stream.py's
    ("stream of changes", "GET", "/stream", None, EVERYONE, None),
]


def fill(text, ids):
    return text.format(**ids) if isinstance(text, str) else text


def body_for(maker, ids):
    if maker is None:
        return None
    return {k: fill(v, ids) for k, v in maker().items()}


def outbox_count(api):
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(OutboxRecord))


@pytest.mark.parametrize(("name", "method", "path", "maker", "allowed", "setup"), ROUTES,
                         ids=[r[0] for r in ROUTES])
def test_only_the_right_roles_get_through(api, world, name, method, path, maker, allowed,
                                          setup):
    if setup is not None:
        setup(api, world)
    path = fill(path, world)
    body = body_for(maker, world)
    kwargs = ({} if body is None else {"files": {"file": body["__file__"]}}
              if "__file__" in body else {"json": body})
    before = outbox_count(api)
    r = api.call(None, method, path, **kwargs)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    for role in ROLES:
        if role in allowed:
            continue
        r = api.call(role, method, path, **kwargs)
        assert r.status_code == 403, (role, r.status_code, r.text)
        assert r.json()["code"] == "forbidden"
    assert outbox_count(api) == before  # forbidden calls changed nothing
    # the resource's own party first: staff calls after it may find it changed
    for role in sorted(allowed, key=lambda r: (r in ("admin", "rec"), r)):
        r = api.call(role, method, path, **kwargs)
        assert r.status_code == allowed[role], (role, r.status_code, r.text)


def test_every_route_with_an_id_is_in_the_table(api):
    """No route with a path id or an id filter escapes the table above."""
    listed = {(m, p.split("?")[0].replace("{m11}", "{match_id}")) for _, m, p, *_ in ROUTES}
    document = api.client.get("/openapi.json").json()
    missing = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/v1/") or path == "/api/v1/auth/token":
            continue
        for method in operations:
            short = path.removeprefix("/api/v1")
            concrete = {(method.upper(), p) for m, p in listed if m == method.upper()}
            pattern = short.replace("{agreement_id}", "am-de").replace(
                "{employer_id}", "e1").replace("{vacancy_id}", "v1").replace(
                "{worker_id}", "w1").replace("{trigger_id}", "t-w1")
            if (method.upper(), pattern) not in concrete and short.split("/")[1] not in (
                    "healthz", "readyz", "metrics"):
                missing.append(f"{method.upper()} {short}")
    assert missing == []


def test_a_match_is_hidden_from_its_parties_until_approved(api, world):
    m11 = world["m11"]
    for who in ("admin", "rec"):
        assert api.get(who, f"/matches/{m11}").status_code == 200
    for who in ("emp1", "wk1", "emp2", "wk2"):
        r = api.get(who, f"/matches/{m11}")
        assert r.status_code == 403 and r.json()["code"] == "forbidden", who
    approved(api, world)
    assert api.get("emp1", f"/matches/{m11}").json()["status"] == "approved"
    assert api.get("wk1", f"/matches/{m11}").json()["status"] == "approved"
    assert api.get("emp2", f"/matches/{m11}").status_code == 403
    assert api.get("wk2", f"/matches/{m11}").status_code == 403


def test_unknown_ids_are_404_unless_the_caller_may_never_have_them(api, world):
    cases = [  # (who, method, path, expected)
        ("emp1", "GET", "/vacancies/nope", 404),
        ("emp1", "POST", "/vacancies/nope/close", 404),
        ("emp1", "GET", "/vacancies/nope/matches", 404),
        ("emp1", "GET", "/matches/nope", 404),
        ("wk1", "GET", "/matches/nope", 404),
        ("wk1", "POST", "/matches/nope/accept", 404),
        ("rec", "POST", "/matches/nope/approve", 404),
        ("rec", "POST", "/reintegration/triggers/nope/complete", 404),
        ("admin", "GET", "/employers/nope", 404),
        ("admin", "GET", "/workers/nope", 404),
        # the role or the caller's own id already says no
        ("wk1", "GET", "/vacancies/nope", 403),
        ("rec", "POST", "/vacancies/nope/close", 403),
        ("rec", "POST", "/matches/nope/accept", 403),
        ("admin", "POST", "/reintegration/triggers/nope/complete", 403),
        ("emp1", "GET", "/employers/nope", 403),
        ("wk1", "GET", "/workers/nope", 403),
    ]
    for who, method, path, expected in cases:
        body = {"outcome": "referred"} if path.endswith("/complete") else None
        r = api.call(who, method, path, json=body)
        assert r.status_code == expected, (who, method, path, r.status_code, r.text)


def test_an_employer_cannot_repost_another_employers_vacancy_id(api, world):
    before = outbox_count(api)
    r = api.post("emp1", "/vacancies", json=vacancy_body("v2", "e1"))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    # not even with the other employer's own body (it names e2, not emp1's employer)
    assert api.post("emp1", "/vacancies", json=vacancy_body("v2", "e2")).status_code == 403
    assert outbox_count(api) == before
    assert api.get("emp2", "/vacancies/v2").json()["employer_id"] == "e2"
    assert api.post("emp2", "/vacancies", json=vacancy_body("v2", "e2")).status_code == 202
    assert api.post("admin", "/vacancies",
                    json=vacancy_body("v2", "e1")).status_code == 409  # id taken
    assert outbox_count(api) == before


def test_only_recruiters_complete_triggers(api, world):
    trigger_fired(api, world)
    path = "/reintegration/triggers/t-w1/complete"
    for who in ("admin", "emp1", "emp2", "wk1", "wk2"):
        r = api.post(who, path, json={"outcome": "referred"})
        assert r.status_code == 403, who
    [trigger] = api.get("rec", "/reintegration/triggers").json()["items"]
    assert trigger["status"] == "open"
    r = api.post("rec", path, json={"outcome": "referred"})
    assert r.status_code == 202 and r.json() == {"id": "t-w1", "status": "completed"}


def test_a_worker_cannot_answer_another_workers_offer(api, world):
    advance_match(api, "w1", "v1", "e1", "approved")
    for who in ("wk2", "rec", "admin", "emp1"):
        assert api.post(who, f"/matches/{world['m11']}/accept").status_code == 403
        assert api.post(who, f"/matches/{world['m11']}/decline").status_code == 403
    assert api.post("wk1", f"/matches/{world['m11']}/accept").status_code == 202


def test_listing_shows_each_party_only_its_own(api, world):
    advance_match(api, "w2", "v2", "e2", "approved")
    seen = {who: {m["match_id"] for m in api.get(who, "/matches").json()["items"]}
            for who in ROLES}
    assert seen["admin"] == seen["rec"] == {world["m11"], world["m22"]}
    assert seen["emp1"] == set()  # m11 is only proposed: not the employer's to see yet
    assert seen["emp2"] == {world["m22"]}
    assert seen["wk1"] == set() and seen["wk2"] == {world["m22"]}
    # a filter that names another party is refused, as the id in a path would be
    assert api.get("emp1", "/matches", params={"vacancy_id": "v2"}).status_code == 403
    assert api.get("wk1", "/matches", params={"worker_id": "w2"}).status_code == 403
    assert api.get("wk1", f"/matches/{world['m22']}").status_code == 403
    assert api.get("wk2", "/placements", params={"worker_id": "w1"}).status_code == 403
    assert api.get("wk2", "/returns", params={"worker_id": "w1"}).status_code == 403
    assert api.get("wk2", "/reintegration/triggers",
                   params={"worker_id": "w1"}).status_code == 403
    # filters that narrow one's own view are fine
    assert api.get("emp2", "/matches", params={"worker_id": "w2"}).json()["total"] == 1
    assert api.get("wk2", "/matches", params={"vacancy_id": "v1"}).json()["total"] == 0


def test_employers_see_their_own_vacancies_only(api, world):
    mine = {v["vacancy_id"] for v in api.get("emp1", "/vacancies").json()["items"]}
    assert mine == {"v1"}
    assert api.get("emp1", "/vacancies", params={"employer_id": "e2"}).status_code == 403
    assert api.get("emp1", "/vacancies", params={"employer_id": "e1"}).json()["total"] == 1
    assert api.get("wk1", "/vacancies").status_code == 403
