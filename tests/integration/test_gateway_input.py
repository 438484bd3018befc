"""Bad input gets a clear 422 with field errors (or 401/413), never a 500, and
loses nothing; creates with client ids are idempotent; forged tokens get 401."""

import base64
import json
from datetime import UTC, date, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from services.gateway.outbox.models import OutboxRecord
from tests.support.gateway import AGREEMENT, PASSWORD, advance_match, vacancy_body, worker_body


def fields_of(r):
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_error"
    return {e["field"] for e in body["errors"]}


def outbox_count(api):
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(OutboxRecord))


@pytest.mark.parametrize(("change", "field"), [
    ({"origin_country": "XX"}, "body.origin_country"),
    ({"destination_country": "de"}, "body.destination_country"),
    ({"valid_from": "2027-02-30"}, "body.valid_from"),
    ({"max_contract_months": 0}, "body.max_contract_months"),
    ({"title": "x" * 201}, "body.title"),
    ({"occupations": [{"isco_code": "9999", "annual_quota": 1,
                       "min_monthly_wage": {"amount": "1", "currency": "EUR"}}]},
     "body.occupations.0.isco_code"),
    ({"occupations": [{"isco_code": "6111", "annual_quota": -1,
                       "min_monthly_wage": {"amount": "1", "currency": "EUR"}}]},
     "body.occupations.0.annual_quota"),
    ({"occupations": [{"isco_code": "6111", "annual_quota": 1,
                       "min_monthly_wage": {"amount": "-5", "currency": "EUR"}}]},
     "body.occupations.0.min_monthly_wage.amount"),
    ({"occupations": [{"isco_code": "6111", "annual_quota": 1,
                       "min_monthly_wage": {"amount": "5", "currency": "EUX"}}]},
     "body.occupations.0.min_monthly_wage.currency"),
    ({"language_requirement": {"language": "xx", "min_level": "B1"}},
     "body.language_requirement.language"),
    ({"language_requirement": {"language": "de", "min_level": "D9"}},
     "body.language_requirement.min_level"),
    ({"unexpected": 1}, "body.unexpected"),
    ({"valid_until": "2026-01-01"}, "body"),
    ({"occupations": [{"isco_code": "6111", "annual_quota": 1,
                       "min_monthly_wage": {"amount": "0", "currency": "EUR"}}]},
     "body.occupations.0.min_monthly_wage.amount"),
    ({"valid_from": "1999-12-31"}, "body.valid_from"),
    ({"valid_until": "2200-01-01"}, "body.valid_until"),
    ({"max_contract_months": True}, "body.max_contract_months"),  # not 1
    ({"occupations": [{"isco_code": "6111", "annual_quota": True,
                       "min_monthly_wage": {"amount": "1", "currency": "EUR"}}]},
     "body.occupations.0.annual_quota"),
])
def test_agreement_validation_names_the_field(api, change, field):
    r = api.post("admin", "/agreements", json={**AGREEMENT, **change})
    assert field in fields_of(r)
    assert outbox_count(api) == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"positions": 0}, "body.positions"),
    ({"start_date": "not-a-date"}, "body.start_date"),
    ({"required_skills": ["x"] * 51}, "body.required_skills"),
    ({"monthly_wage": {"amount": "abc", "currency": "EUR"}}, "body.monthly_wage.amount"),
    ({"employer_id": "nobody"}, "body.employer_id"),
    ({"monthly_wage": {"amount": "0", "currency": "EUR"}}, "body.monthly_wage.amount"),
    ({"monthly_wage": {"amount": "-1", "currency": "EUR"}}, "body.monthly_wage.amount"),
    ({"monthly_wage": {"amount": "1900", "currency": "EUX"}}, "body.monthly_wage.currency"),
    ({"monthly_wage": {"amount": "1900", "currency": "eur"}}, "body.monthly_wage.currency"),
    ({"language_requirement": {"language": "xx", "min_level": "B1"}},
     "body.language_requirement.language"),
    ({"language_requirement": {"language": "de", "min_level": "D9"}},
     "body.language_requirement.min_level"),
    ({"isco_code": "9999"}, "body.isco_code"),
    ({"isco_code": "61"}, "body.isco_code"),
    ({"destination_country": "XX"}, "body.destination_country"),
    ({"worker_fee": {"amount": "-1", "currency": "EUR"}}, "body.worker_fee.amount"),
    ({"worker_fee": {"amount": "10", "currency": "EUX"}}, "body.worker_fee.currency"),
    ({"start_date": "1999-12-31"}, "body.start_date"),
    ({"start_date": "2200-01-01"}, "body.start_date"),
    ({"positions": True}, "body.positions"),  # not 1
    ({"min_experience_years": False}, "body.min_experience_years"),  # not 0
])
def test_vacancy_validation_names_the_field(api, world, change, field):
    assert field in fields_of(api.post("admin", "/vacancies",
                                       json={**vacancy_body("v7", "e1"), **change}))
    assert api.get("admin", "/vacancies/v7").status_code == 404


def test_a_vacancy_may_state_a_zero_worker_fee(api, world):
    body = vacancy_body("v7", "e1", worker_fee={"amount": "0", "currency": "EUR"})
    assert api.post("emp1", "/vacancies", json=body).status_code == 202
    assert api.get("emp1", "/vacancies/v7").json()["worker_fee"]["amount"] == "0"


@pytest.mark.parametrize(("change", "field"), [
    ({"employer_id": "bad id!"}, "body.employer_id"),
    ({"name": ""}, "body.name"),
    ({"name": "x" * 201}, "body.name"),
    ({"country": "XX"}, "body.country"),
    ({"country": None}, "body.country"),
    ({"registration_number": "x" * 65}, "body.registration_number"),
    ({"vat": "DE1"}, "body.vat"),
])
def test_employer_validation_names_the_field(api, change, field):
    body = {"employer_id": "e7", "name": "Hof", "country": "DE",
            "registration_number": "HRB 7", **change}
    assert field in fields_of(api.post("admin", "/employers", json=body))
    assert outbox_count(api) == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"username": "a"}, "body.username"),
    ({"username": "has space"}, "body.username"),
    ({"password": "short"}, "body.password"),
    ({"role": "boss"}, "body.role"),
    ({"role": "employer"}, "body.employer_id"),
    ({"role": "worker"}, "body.worker_id"),
    ({"employer_id": "e1"}, "body.employer_id"),
    ({"worker_id": "w1"}, "body.worker_id"),
    ({"role": "employer", "employer_id": "nobody"}, "body.employer_id"),
    ({"role": "employer", "employer_id": "bad id!"}, "body.employer_id"),
    ({"role": "employer", "employer_id": "e1", "worker_id": "w2"}, "body.worker_id"),
    ({"role": "worker", "worker_id": "nobody"}, "body.worker_id"),
])
def test_user_validation_names_the_field(api, world, change, field):
    body = {"username": "newbie", "password": PASSWORD, "role": "recruiter", **change}
    assert field in fields_of(api.post("admin", "/users", json=body))
    assert api.client.post("/api/v1/auth/token", data={
        "username": "newbie", "password": PASSWORD}).status_code == 401


def test_a_worker_has_one_login(api, world):
    body = {"username": "second", "password": PASSWORD, "role": "worker", "worker_id": "w1"}
    r = api.post("admin", "/users", json=body)  # w1 registered itself as wk1
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert api.post("rec", "/workers", json=worker_body("w7", "AM7000007")).status_code == 202
    assert api.post("admin", "/users", json={**body, "worker_id": "w7"}).status_code == 201
    assert api.get("second", "/workers/w7").status_code == 200
    r = api.post("admin", "/users", json={**body, "username": "third", "worker_id": "w7"})
    assert r.status_code == 409
    assert api.call("admin", "DELETE", "/workers/w2").status_code == 202
    r = api.post("admin", "/users", json={**body, "username": "fourth", "worker_id": "w2"})
    assert r.status_code == 409 and "erased" in r.json()["message"]
    # employers may have several logins
    for name in ("boss1", "boss2"):
        assert api.post("admin", "/users", json={
            "username": name, "password": PASSWORD, "role": "employer",
            "employer_id": "e1"}).status_code == 201


@pytest.mark.parametrize(("change", "field"), [
    ({"passport_number": "!!"}, "body.passport_number"),
    ({"email": "not-an-email"}, "body.email"),
    ({"phone": "call me"}, "body.phone"),
    ({"languages": [{"language": "de", "level": "B1"}, {"language": "de", "level": "A1"}]},
     "body"),
    ({"date_of_birth": "1990-13-01"}, "body.date_of_birth"),
    ({"consent_matching": "maybe"}, "body.consent_matching"),
    ({"date_of_birth": (date.today() + timedelta(days=1)).isoformat()}, "body.date_of_birth"),
    ({"date_of_birth": datetime.now(UTC).date().isoformat()}, "body.date_of_birth"),
    ({"date_of_birth": "1899-12-31"}, "body.date_of_birth"),
    ({"available_from": "1999-12-31"}, "body.available_from"),
    ({"full_name": None}, "body.full_name"),
    ({"occupations": [{"isco_code": "6111", "experience_years": -1}]},
     "body.occupations.0.experience_years"),
    ({"occupations": [{"isco_code": "6111", "experience_years": False}]},  # not 0
     "body.occupations.0.experience_years"),
])
def test_worker_validation_never_echoes_the_value(api, change, field):
    r = api.post("admin", "/workers", json=worker_body("w5", "AM5000005", **change))
    assert field in fields_of(r)
    for value in change.values():
        if isinstance(value, str):
            assert value not in r.text


@pytest.mark.parametrize(("change", "field"), [
    ({"full_name": None}, "body.full_name"),
    ({"full_name": "x"}, "body.full_name"),
    ({"consent_matching": None}, "body.consent_matching"),
    ({"occupations": None}, "body.occupations"),
    ({"skills": None}, "body.skills"),
    ({"languages": None}, "body.languages"),
    ({"preferred_destinations": None}, "body.preferred_destinations"),
    ({"preferred_destinations": ["XX"]}, "body.preferred_destinations.0"),
    ({"available_from": None}, "body.available_from"),
    ({"available_from": "1999-12-31"}, "body.available_from"),
    ({"email": "not-an-email"}, "body.email"),
    ({"occupations": [{"isco_code": "0000", "experience_years": 1}]},
     "body.occupations.0.isco_code"),
    ({"languages": [{"language": "xx", "level": "B1"}]}, "body.languages.0.language"),
    ({"passport_number": "AM9999999"}, "body.passport_number"),
    ({"date_of_birth": "1980-01-01"}, "body.date_of_birth"),
])
def test_patch_validation_never_wipes_a_field(api, world, change, field):
    before = api.get("rec", "/workers/w1").json()
    count = outbox_count(api)
    assert field in fields_of(api.call("wk1", "PATCH", "/workers/w1", json=change))
    assert api.get("rec", "/workers/w1").json() == before
    assert outbox_count(api) == count


def test_patch_may_clear_an_optional_contact(api, world):
    r = api.call("wk1", "PATCH", "/workers/w1", json={"phone": None, "region": None})
    assert r.status_code == 202
    shown = api.get("wk1", "/workers/w1").json()
    assert shown["phone"] is None and shown["region"] is None
    assert shown["full_name"] == "Anahit Petrosyan w1"


@pytest.mark.parametrize(("body", "field"), [
    ({"match_id": "bad id!", "departure_date": "2027-04-01"}, "body.match_id"),
    ({"match_id": "{m11}", "departure_date": "2027-13-01"}, "body.departure_date"),
    ({"match_id": "{m11}", "departure_date": "1999-12-31"}, "body.departure_date"),
    ({"match_id": "{m11}"}, "body.departure_date"),
    ({"departure_date": "2027-04-01"}, "body.match_id"),
    ({"match_id": "{m11}", "departure_date": "2027-04-01",
      "border_crossing_point": "x" * 201}, "body.border_crossing_point"),
    ({"match_id": "{m11}", "departure_date": "2027-04-01", "by": "car"}, "body.by"),
])
def test_departure_validation_names_the_field(api, world, body, field):
    advance_match(api, "w1", "v1", "e1", "approved", "accepted")
    body = {k: v.format(**world) if isinstance(v, str) else v for k, v in body.items()}
    assert field in fields_of(api.post("rec", "/departures", json=body))
    assert api.get("rec", "/placements").json()["total"] == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"return_date": "1999-12-31"}, "body.return_date"),
    ({"return_date": "2027-02-30"}, "body.return_date"),
    ({"worker_id": None}, "body.worker_id"),
    ({"match_id": "bad id!"}, "body.match_id"),
    ({"intentions": ["bogus"]}, "body.intentions.0"),
    ({"needs": ["money"]}, "body.needs.0"),
    ({"skills_acquired": ["x"] * 51}, "body.skills_acquired"),
    ({"early_return_reason": "bored"}, "body.early_return_reason"),
    ({"match_id": "m-nobody"}, "body.match_id"),
])
def test_return_validation_names_the_field(api, world, change, field):
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    body = {"worker_id": "w1", "return_date": yesterday, **change}
    assert field in fields_of(api.post("rec", "/returns", json=body))
    assert api.get("rec", "/returns").json()["total"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"date": "2027-02-30"}, "body.date"),
    ({"date": "1999-12-31"}, "body.date"),
    ({"date": "2200-01-01"}, "body.date"),
    ({"date": None}, "body.date"),
    ({}, "body.date"),
    ({"date": "2099-01-01", "hour": 3}, "body.hour"),
])
def test_clock_tick_validation_names_the_field(api, body, field):
    assert field in fields_of(api.post("admin", "/admin/clock/tick", json=body))
    assert outbox_count(api) == 0


def test_malformed_deep_and_huge_bodies(api):
    headers = {**api.as_("admin"), "content-type": "application/json"}
    r = api.client.post("/api/v1/agreements", content=b"{not json", headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    deep = b"[" * 5000 + b"]" * 5000
    r = api.client.post("/api/v1/agreements", content=deep, headers=headers)
    assert r.status_code == 422
    huge = json.dumps({**AGREEMENT, "title": "x" * 2_000_000}).encode()
    r = api.client.post("/api/v1/agreements", content=huge, headers=headers)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = api.client.post("/api/v1/agreements", content=b"", headers=headers)
    assert r.status_code == 422
    r = api.client.post("/api/v1/users", content=b'{"username": "\xff\xfe"}', headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "validation_error"  # not UTF-8
    assert outbox_count(api) == 0


def token_with(api, claims=None, key="j" * 40, algorithm="HS256"):
    now = datetime.now(UTC)
    base = {"sub": "u-x", "name": "admin", "role": "admin", "iss": "circular-gateway",
            "aud": "circular-api", "iat": now, "exp": now + timedelta(minutes=5)}
    return jwt.encode({**base, **(claims or {})}, key, algorithm=algorithm)


def test_forged_expired_and_unsigned_tokens_get_401(api):
    real = api.token("admin", "admin-password-long-enough")
    user_id = jwt.decode(real, options={"verify_signature": False})["sub"]
    good = token_with(api, {"sub": user_id})
    assert api.client.get("/api/v1/agreements",
                          headers={"Authorization": f"Bearer {good}"}).status_code == 200
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = real.split(".")[1]
    bad = {
        "wrong signature": token_with(api, {"sub": user_id}, key="k" * 40),
        "expired": token_with(api, {"sub": user_id,
                                    "exp": datetime.now(UTC) - timedelta(seconds=1)}),
        "alg none": f"{header}.{payload}.",
        "wrong audience": token_with(api, {"sub": user_id, "aud": "someone-else"}),
        "wrong issuer": token_with(api, {"sub": user_id, "iss": "evil"}),
        "tampered role": real.split(".")[0] + "." + base64.urlsafe_b64encode(json.dumps(
            {**jwt.decode(real, options={"verify_signature": False}), "role": "admin"}
        ).encode()).rstrip(b"=").decode() + ".AAAA",
        "garbage": "not.a.token",
        "unknown user": token_with(api, {"sub": "u-nobody"}),
    }
    for name, token in bad.items():
        r = api.client.get("/api/v1/agreements", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, name
        assert r.headers["www-authenticate"] == "Bearer"


def test_wrong_password_and_unknown_user_look_the_same(api):
    for username, password in (("admin", "wrong-password-here"), ("ghost", "whatever-x")):
        r = api.client.post("/api/v1/auth/token",
                            data={"username": username, "password": password})
        assert r.status_code == 401
        assert r.json()["message"] == "Wrong username or password"


@pytest.mark.parametrize(("path", "body", "changed"), [
    ("/agreements", AGREEMENT, {"title": "Another title"}),
    ("/employers", {"employer_id": "e7", "name": "Hof", "country": "DE",
                    "registration_number": "HRB 7"}, {"name": "Other Hof"}),
    ("/workers", worker_body("w7", "AM7000007"), {"region": "Lori"}),
])
def test_repeated_creates_are_no_ops_and_changed_ones_conflict(api, path, body, changed):
    first = api.post("admin", path, json=body)
    assert first.status_code == 202
    before = outbox_count(api)
    again = api.post("admin", path, json=body)
    assert again.status_code == 202 and again.json() == first.json()
    assert outbox_count(api) == before
    conflict = api.post("admin", path, json={**body, **changed})
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    assert outbox_count(api) == before


def test_repeated_vacancy_is_a_no_op(api, world):
    body = vacancy_body("v8", "e1")
    assert api.post("emp1", "/vacancies", json=body).status_code == 202
    before = outbox_count(api)
    assert api.post("emp1", "/vacancies", json=body).status_code == 202
    assert api.post("emp1", "/vacancies", json={**body, "positions": 9}).status_code == 409
    assert outbox_count(api) == before


def test_unknown_ids_are_404_with_the_error_body(api, world):
    for path in ("/agreements/nope", "/vacancies/nope", "/workers/nope", "/employers/nope",
                 "/matches/nope"):
        r = api.get("admin", path)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    r = api.post("rec", "/matches/nope/approve")
    assert r.status_code == 404


def test_pagination_is_bounded(api, world):
    assert api.get("admin", "/agreements", params={"limit": 201}).status_code == 422
    assert api.get("admin", "/agreements", params={"offset": -1}).status_code == 422
    page = api.get("admin", "/vacancies", params={"limit": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1


def test_readiness_reports_an_unreachable_broker_quickly(api):
    import time

    assert api.client.get("/readyz").json() == {"status": "ready",
                                                "checks": {"database": "ok", "kafka": "ok"}}
    api.client.app.state.settings = api.client.app.state.settings.model_copy(
        update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    api.client.app.state.kafka_check = None
    started = time.monotonic()
    r = api.client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["kafka"] == "unreachable"
    assert time.monotonic() - started < 5


def test_nul_characters_are_refused_everywhere(api, world):
    headers = {**api.as_("admin"), "content-type": "application/json"}
    assert api.get("rec", "/returns", params={"worker_id": "\x00"}).status_code == 422
    assert api.get("admin", "/vacancies/v1%00").status_code == 422
    before = outbox_count(api)
    body = json.dumps({**AGREEMENT, "agreement_id": "x", "title": "nul\u0000here"}).encode()
    r = api.client.post("/api/v1/agreements", content=body, headers=headers)
    assert r.status_code == 422 and outbox_count(api) == before
