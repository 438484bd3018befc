"""Object- and function-level authorization on every route (OWASP API1/API5): each
role, with its own ids and another party's. Forbidden calls answer 403 (401
without a token) and change nothing; allowed ones go through."""

import pytest

from tests.support.gateway import AGREEMENT, PASSWORD, advance_match, vacancy_body, worker_body

ROLES = ("admin", "rec", "emp1", "emp2", "wk1", "wk2")

# (name, method, path, body maker, roles allowed); paths use the world of
# tests/support/gateway.py: e1/v1/w1/m11 belong to emp1/wk1, e2/v2/w2/m22 to emp2/wk2
ROUTES = [
    ("create user", "POST", "/users",
     lambda: {"username": "newrec", "password": PASSWORD, "role": "recruiter"}, {"admin"}),
    ("create agreement", "POST", "/agreements",
     lambda: {**AGREEMENT, "agreement_id": "am-kr", "destination_country": "KR",
              "occupations": [{"isco_code": "6111", "annual_quota": 5, "min_monthly_wage":
                               {"amount": "2000000", "currency": "KRW"}}]}, {"admin"}),
    ("list agreements", "GET", "/agreements", None, set(ROLES)),
    ("read agreement", "GET", "/agreements/am-de", None, set(ROLES)),
    ("agreement quota", "GET", "/agreements/am-de/quota?year=2027", None, {"admin", "rec"}),
    ("suspend agreement", "POST", "/agreements/am-de/suspend", None, {"admin"}),
    ("resume agreement", "POST", "/agreements/am-de/resume", None, {"admin"}),
    ("create employer", "POST", "/employers",
     lambda: {"employer_id": "e3", "name": "Neu GmbH", "country": "DE",
              "registration_number": "HRB 3"}, {"admin"}),
    ("list employers", "GET", "/employers", None, {"admin"}),
    ("read employer", "GET", "/employers/e1", None, {"admin", "emp1"}),
    ("verify employer", "POST", "/employers/e1/verify", None, {"admin"}),
    ("suspend employer", "POST", "/employers/e1/suspend", None, {"admin"}),
    ("post vacancy", "POST", "/vacancies", lambda: vacancy_body("v9", "e1"), {"admin", "emp1"}),
    ("read vacancy", "GET", "/vacancies/v1", None, {"admin", "rec", "emp1"}),
    ("vacancy matches", "GET", "/vacancies/v1/matches", None, {"admin", "rec", "emp1"}),
    ("close vacancy", "POST", "/vacancies/v1/close", None, {"admin", "emp1"}),
    ("register worker", "POST", "/workers", lambda: worker_body("w9", "AM9000009"),
     {"admin", "rec"}),
    ("read worker", "GET", "/workers/w1", None, {"admin", "rec", "wk1"}),
    ("update worker", "PATCH", "/workers/w1", lambda: {"region": "Lori"},
     {"admin", "rec", "wk1"}),
    ("worker timeline", "GET", "/workers/w1/timeline", None, {"admin", "rec", "wk1"}),
    ("worker audit", "GET", "/workers/w1/audit", None, {"admin", "wk1"}),
    ("erase worker", "DELETE", "/workers/w1", None, {"admin", "rec", "wk1"}),
    ("approve match", "POST", "/matches/{m11}/approve", None, {"rec"}),
    ("reject match", "POST", "/matches/{m11}/reject", lambda: {"reason": "no licence"},
     {"rec"}),
    ("record departure", "POST", "/departures",
     lambda: {"match_id": "{m11}", "departure_date": "2027-04-01"}, {"admin", "rec"}),
    ("register return", "POST", "/returns",
     lambda: {"worker_id": "w1", "return_date": "2027-04-20"}, {"rec", "wk1"}),
    ("list placements", "GET", "/placements", None, {"admin", "rec", "wk1", "wk2"}),
    ("list returns", "GET", "/returns", None, {"admin", "rec", "wk1", "wk2"}),
    ("list triggers", "GET", "/reintegration/triggers", None, {"admin", "rec", "wk1", "wk2"}),
    ("flow statistics", "GET", "/stats/flows?year=2027", None, {"admin"}),
    ("clock tick", "POST", "/admin/clock/tick", lambda: {"date": "2099-01-01"}, {"admin"}),
]


def fill(text, ids):
    return text.format(**ids) if isinstance(text, str) else text


def body_for(maker, ids):
    if maker is None:
        return None
    return {k: fill(v, ids) for k, v in maker().items()}


@pytest.mark.parametrize(("name", "method", "path", "maker", "allowed"), ROUTES,
                         ids=[r[0] for r in ROUTES])
def test_only_the_right_roles_get_through(api, world, name, method, path, maker, allowed):
    path = fill(path, world)
    body = body_for(maker, world)
    kwargs = {"json": body} if body is not None else {}
    assert api.call(None, method, path, **kwargs).status_code == 401
    for role in ROLES:
        if role in allowed:
            continue
        r = api.call(role, method, path, **kwargs)
        assert r.status_code == 403, (role, r.status_code, r.text)
        assert r.json()["code"] == "forbidden"
    # the resource's own party first: staff calls after it may find it changed
    for role in sorted(allowed, key=lambda r: (r in ("admin", "rec"), r)):
        r = api.call(role, method, path, **kwargs)
        if role.startswith("wk") and name == "erase worker":
            assert r.status_code == 202
            break  # the worker's login is gone with its data; staff see it erased
        assert r.status_code not in (401, 403), (role, r.status_code, r.text)


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
    # filters cannot widen what a party sees
    assert api.get("emp1", "/matches", params={"vacancy_id": "v2"}).json()["items"] == []
    assert api.get("wk1", "/matches", params={"worker_id": "w2"}).json()["items"] == []
    assert api.get("wk1", f"/matches/{world['m22']}").status_code == 404
    assert api.get("wk2", "/placements", params={"worker_id": "w1"}).status_code == 403
    assert api.get("wk2", "/reintegration/triggers",
                   params={"worker_id": "w1"}).status_code == 403


def test_employers_see_their_own_vacancies_only(api, world):
    mine = {v["vacancy_id"] for v in api.get("emp1", "/vacancies").json()["items"]}
    assert mine == {"v1"}
    assert api.get("emp1", "/vacancies", params={"employer_id": "e2"}).json()["items"] == []
    assert api.get("wk1", "/vacancies").status_code == 403
