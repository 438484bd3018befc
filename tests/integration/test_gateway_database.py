"""What the database can refuse: every value the API accepts fits its column on both
databases; a write the database refuses is 409 (a duplicate) or 422 (a value that
does not fit), never a 500; and whatever fails, no log line carries the request's
personal data (statement values are hidden, exception texts are not logged)."""

import contextlib
import json
import logging
import threading

import pytest
from sqlalchemy import text

from services.gateway.auth import service as auth_service
from services.gateway.workers import service as worker_service
from tests.support.gateway import PASSWORD, worker_body

NAME, PASSPORT, BIRTH = "Anahit Petrosyan w7", "AM7000007", "1990-05-17"


def log_dump(caplog):
    """Everything a handler could print of the captured records: message, every
    extra attribute, and the formatted exception if one was attached."""
    out = []
    for record in caplog.records:
        out.append(json.dumps(record.__dict__, default=str))
        if record.exc_info:
            out.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(out)


def assert_no_personal_data(text_):
    for value in (NAME, PASSPORT, BIRTH, "+374 91 123456", "w7@example.am", "Shirak"):
        assert value not in text_, value


def is_postgres(api):
    return api.sessions.kw["bind"].dialect.name == "postgresql"


@pytest.mark.parametrize("length", [101, 150, 200])
def test_a_long_region_is_stored_on_both_databases(api, length):
    region = "R" * length
    r = api.post("admin", "/workers", json=worker_body("w7", PASSPORT, region=region))
    assert r.status_code == 202, r.text
    assert api.get("admin", "/workers/w7").json()["region"] == region
    assert api.call("admin", "PATCH", "/workers/w7",
                    json={"region": "S" * length}).status_code == 202
    assert api.get("admin", "/workers/w7").json()["region"] == "S" * length


def test_every_text_at_its_longest_fits(api, world):
    """The longest value each body allows, on every table it lands in."""
    worker = worker_body("w" + "7" * 63, "A" * 20, full_name="N" * 200, region="R" * 200,
                         phone="+" + "1" * 24, email=("e" * 64) + "@" + ("d" * 63 + ".") * 2
                         + "d" * 58 + ".am", username="u" * 64, password=PASSWORD)
    assert len(worker["email"]) == 254
    r = api.post(None, "/workers", json=worker)
    assert r.status_code == 202, r.text
    shown = api.get("admin", f"/workers/{worker['worker_id']}").json()
    assert (shown["full_name"], shown["region"], shown["email"]) == (
        worker["full_name"], worker["region"], worker["email"])
    assert api.post("admin", "/employers", json={
        "employer_id": "e" * 64, "name": "N" * 200, "country": "DE",
        "registration_number": "H" * 64}).status_code == 202
    assert api.get("admin", f"/employers/{'e' * 64}").json()["name"] == "N" * 200
    r = api.post("rec", f"/matches/{world['m11']}/reject", json={"reason": "x" * 200})
    assert r.status_code == 202


def test_a_forced_database_error_is_a_500_that_logs_no_personal_data(api, caplog):
    caplog.set_level(logging.DEBUG)
    with api.sessions() as s:  # the insert will name a column that is not there
        s.execute(text("ALTER TABLE workers RENAME COLUMN region TO region_gone"))
        s.commit()
    r = api.post("admin", "/workers", json=worker_body("w7", PASSPORT))
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": "Something went wrong on our side",
                        "errors": []}
    logged = log_dump(caplog)
    expected = "ProgrammingError" if is_postgres(api) else "OperationalError"
    assert expected in logged and "/api/v1/workers" in logged  # the log line is useful
    assert_no_personal_data(logged)
    assert_no_personal_data(r.text)


def test_a_value_the_database_refuses_is_422_and_not_logged(api, caplog):
    if not is_postgres(api):
        pytest.skip("SQLite does not enforce column lengths")
    caplog.set_level(logging.DEBUG)
    with api.sessions() as s:  # a column narrower than the API's limit, as region was
        s.execute(text("ALTER TABLE workers ALTER COLUMN region TYPE varchar(10)"))
        s.commit()
    r = api.post("admin", "/workers", json=worker_body("w7", PASSPORT, region="R" * 50))
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error" and r.json()["errors"] == []
    logged = log_dump(caplog)
    assert "DataError" in logged
    assert_no_personal_data(logged)


def race(monkeypatch, module, name, calls):
    """Run ``calls`` at once, each held at a barrier right after ``module.name`` (a
    check that the id, passport or username is free) until all passed it."""
    barrier = threading.Barrier(len(calls), timeout=10)
    original = getattr(module, name)

    def held(*args, **kwargs):
        result = original(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return result

    monkeypatch.setattr(module, name, held)
    results = [None] * len(calls)

    def run(i):
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_creates_of_the_same_worker_id_are_409(api, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    api.as_("admin")  # the token first: the race is about the create only
    bodies = [worker_body("w7", PASSPORT), worker_body("w7", "AM7000008")]
    results = race(monkeypatch, worker_service, "is_repeat",
                   [lambda b=b: api.post("admin", "/workers", json=b) for b in bodies])
    assert sorted(r.status_code for r in results) == [202, 409]
    refused = next(r for r in results if r.status_code == 409)
    assert refused.json()["code"] == "conflict"
    assert "the database refused a write" in caplog.text  # the database decided
    assert_no_personal_data(log_dump(caplog))
    assert api.get("admin", "/workers/w7").status_code == 200


def test_concurrent_creates_with_the_same_passport_are_409(api, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    api.as_("admin")
    bodies = [worker_body("w7", PASSPORT), worker_body("w8", PASSPORT)]
    results = race(monkeypatch, worker_service, "is_repeat",
                   [lambda b=b: api.post("admin", "/workers", json=b) for b in bodies])
    assert sorted(r.status_code for r in results) == [202, 409]
    assert_no_personal_data(log_dump(caplog))
    with api.sessions() as s:
        assert s.execute(text("SELECT count(*) FROM workers")).scalar() == 1


def test_concurrent_users_with_the_same_username_are_409(api, world, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    api.as_("admin")
    bodies = [{"username": "twin", "password": PASSWORD, "role": "recruiter"},
              {"username": "twin", "password": PASSWORD, "role": "employer",
               "employer_id": "e1"}]
    results = race(monkeypatch, auth_service, "get_by_username",
                   [lambda b=b: api.post("admin", "/users", json=b) for b in bodies])
    assert sorted(r.status_code for r in results) == [201, 409]


def test_concurrent_logins_for_one_worker_are_409(api, world, monkeypatch):
    api.as_("admin")
    assert api.post("admin", "/workers", json=worker_body("w7", PASSPORT)).status_code == 202
    bodies = [{"username": f"twin{n}", "password": PASSWORD, "role": "worker",
               "worker_id": "w7"} for n in (1, 2)]
    results = race(monkeypatch, auth_service, "get_by_username",
                   [lambda b=b: api.post("admin", "/users", json=b) for b in bodies])
    assert sorted(r.status_code for r in results) == [201, 409]
