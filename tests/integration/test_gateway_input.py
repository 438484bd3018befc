"""Bad input gets a clear 422 with field errors (or 401/413), never a 500, and
loses nothing; creates with client ids are idempotent; forged tokens get 401."""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from services.gateway.outbox.models import OutboxRecord
from tests.support.gateway import AGREEMENT, vacancy_body, worker_body


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
])
def test_vacancy_validation_names_the_field(api, world, change, field):
    assert field in fields_of(api.post("admin", "/vacancies",
                                       json={**vacancy_body("v7", "e1"), **change}))


@pytest.mark.parametrize(("change", "field"), [
    ({"passport_number": "!!"}, "body.passport_number"),
    ({"email": "not-an-email"}, "body.email"),
    ({"phone": "call me"}, "body.phone"),
    ({"languages": [{"language": "de", "level": "B1"}, {"language": "de", "level": "A1"}]},
     "body"),
    ({"date_of_birth": "1990-13-01"}, "body.date_of_birth"),
    ({"consent_matching": "maybe"}, "body.consent_matching"),
])
def test_worker_validation_never_echoes_the_value(api, change, field):
    r = api.post("admin", "/workers", json=worker_body("w5", "AM5000005", **change))
    assert field in fields_of(r)
    for value in change.values():
        if isinstance(value, str):
            assert value not in r.text


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
