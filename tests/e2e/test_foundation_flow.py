"""The foundation, as a user sees it: the gateway, its relay and projector and the
matcher run as separate processes on the real broker; an admin records an
agreement and an employer, posts vacancies over HTTP, and reads the matcher's
verdicts back through the API."""

import signal

import pytest

from tests.support.processes import wait_for

pytestmark = pytest.mark.kafka

AGREEMENT = {
    "agreement_id": "am-de", "origin_country": "AM", "destination_country": "DE",
    "title": "Armenia-Germany seasonal work", "valid_from": "2027-01-01",
    "valid_until": "2027-12-31", "max_contract_months": 9, "min_age": 18, "max_age": 55,
    "reentry_cooldown_months": 3, "return_grace_days": 14,
    "occupations": [{"isco_code": "6111", "annual_quota": 10,
                     "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}],
}


def vacancy(vacancy_id, **changes):
    return {"vacancy_id": vacancy_id, "employer_id": "e1", "destination_country": "DE",
            "isco_code": "6111", "title": "Harvest hand", "positions": 2,
            "monthly_wage": {"amount": "1900", "currency": "EUR"}, "contract_months": 6,
            "start_date": "2027-04-01", **changes}


def test_a_vacancy_travels_through_kafka_and_back(system):
    system.start()
    wait_for(lambda: __import__("httpx").get(f"{system.url}/readyz").status_code == 200,
             what="readiness")
    api = system.client(system.token())
    assert api.post("/agreements", json=AGREEMENT).status_code == 202
    assert api.post("/employers", json={"employer_id": "e1", "name": "Obsthof Müller GmbH",
                                         "country": "DE", "registration_number": "HRB 1"}
                    ).status_code == 202
    assert api.post("/employers/e1/verify").status_code == 202
    legal = api.post("/vacancies", json=vacancy("v-legal"))
    assert legal.status_code == 202 and legal.json() == {"id": "v-legal", "status": "pending"}
    api.post("/vacancies", json=vacancy("v-illegal", contract_months=12,
                                        worker_fee={"amount": "300", "currency": "EUR"}))

    def status_of(vacancy_id):
        body = api.get(f"/vacancies/{vacancy_id}").json()
        return body["status"], sorted(body["violations"])

    wait_for(lambda: status_of("v-legal") == ("open", []), timeout=60, what="v-legal open")
    wait_for(lambda: status_of("v-illegal") == ("rejected",
                                                ["contract_too_long", "worker_fee_charged"]),
             timeout=60, what="v-illegal rejected")
    # the gateway keeps the admin's changes flowing: suspending the agreement
    assert api.post("/agreements/am-de/suspend").status_code == 202
    wait_for(lambda: status_of("v-legal") == ("rejected", ["agreement_suspended"]),
             timeout=60, what="v-legal rejected after suspension")


SHUTDOWN_LINES = {"api": "Finished server process", "relay": "outbox relay stopped",
                  "projector": "projector stopped", "matcher": "Stopping..."}


def test_services_stop_cleanly_on_sigterm(system):
    """Each process finishes its work and exits by itself within seconds: exit 0, or
    the re-raised SIGTERM uvicorn uses after its graceful shutdown; never SIGKILL."""
    system.start()
    wait_for(lambda: "outbox relay started" in system.processes["relay"].log(), what="relay")
    wait_for(lambda: "projector started" in system.processes["projector"].log(),
             what="projector")
    for proc in system.processes.values():
        proc.proc.send_signal(signal.SIGTERM)
    for name, proc in system.processes.items():
        code = proc.proc.wait(timeout=30)
        log = proc.log()
        assert code in (0, -signal.SIGTERM), (name, code, log[-2000:])
        assert "Traceback" not in log, (name, log[-3000:])
        assert SHUTDOWN_LINES[name] in log, (name, log[-2000:])
