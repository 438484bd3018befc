"""The gateway in-process (FastAPI's TestClient) on a real database, with a user of
every role and a small world: an agreement, two employers with a vacancy each, two
workers, and matches as the matcher would publish them (folded in through the
projector's own code path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from schemas.codec import decode, encode
from schemas.envelope import derived_event_id
from schemas.events import matches as mev
from schemas.events.base import Event
from schemas.events.matches import match_id
from schemas.events.vacancies import VacancyEvaluated, Verdict
from services.gateway.projections.consumer import apply_event
from services.gateway.projections.registry import projections

ADMIN = ("admin", "admin-password-long-enough")
PASSWORD = "a-long-enough-password"

AGREEMENT: dict[str, Any] = {
    "agreement_id": "am-de", "origin_country": "AM", "destination_country": "DE",
    "title": "Armenia-Germany seasonal work", "valid_from": "2027-01-01",
    "valid_until": "2027-12-31", "max_contract_months": 9, "min_age": 18, "max_age": 55,
    "reentry_cooldown_months": 3, "return_grace_days": 14,
    "occupations": [{"isco_code": "6111", "annual_quota": 2,
                     "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}],
}


def vacancy_body(vacancy_id: str, employer_id: str, **changes: Any) -> dict[str, Any]:
    return {"vacancy_id": vacancy_id, "employer_id": employer_id, "destination_country": "DE",
            "isco_code": "6111", "title": "Harvest hand", "positions": 2,
            "monthly_wage": {"amount": "1900", "currency": "EUR"}, "contract_months": 6,
            "start_date": "2027-04-01", "required_skills": ["tractor"], **changes}


def worker_body(worker_id: str, passport: str, **changes: Any) -> dict[str, Any]:
    return {"worker_id": worker_id, "full_name": f"Anahit Petrosyan {worker_id}",
            "date_of_birth": "1990-05-17", "passport_number": passport,
            "phone": "+374 91 123456", "email": f"{worker_id}@example.am", "region": "Shirak",
            "citizenship": "AM", "occupations": [{"isco_code": "6111", "experience_years": 4}],
            "skills": ["tractor"], "languages": [{"language": "de", "level": "A2"}],
            "preferred_destinations": ["DE"], "available_from": "2027-01-15",
            "consent_matching": True, **changes}


@dataclass
class Api:
    client: TestClient
    sessions: sessionmaker[Session]
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str, password: str = PASSWORD) -> str:
        if username not in self.tokens:
            r = self.client.post("/api/v1/auth/token",
                                 data={"username": username, "password": password})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return self.tokens[username]

    def as_(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        password = ADMIN[1] if who == ADMIN[0] else PASSWORD
        return {"Authorization": f"Bearer {self.token(who, password)}"}

    def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=self.as_(who), **kwargs)

    def get(self, who: str | None, path: str, **kwargs: Any) -> Any:
        return self.call(who, "GET", path, **kwargs)

    def post(self, who: str | None, path: str, **kwargs: Any) -> Any:
        return self.call(who, "POST", path, **kwargs)

    def fold(self, event: Event, event_id: str | None = None) -> str:
        """Apply an event as the projector would after reading it from Kafka."""
        enc = encode(event, source="/circular/matcher", event_id=event_id)
        decoded = decode(enc.value, enc.headers)
        with self.sessions() as session:
            apply_event(session, decoded, projections(), "test", 0, 0)
            session.commit()
        return enc.envelope.id

    def user(self, username: str, role: str, **ids: str) -> None:
        r = self.post("admin", "/users", json={"username": username, "password": PASSWORD,
                                               "role": role, **ids})
        assert r.status_code == 201, r.text


def match_event(cls: type[mev.MatchState], worker_id: str, vacancy_id: str,
                employer_id: str, **extra: Any) -> mev.MatchState:
    return cls(match_id=match_id(worker_id, vacancy_id), vacancy_id=vacancy_id,
               worker_id=worker_id, employer_id=employer_id, agreement_id="am-de",
               destination_country="DE", isco_code="6111", **extra)


def build_world(api: Api) -> dict[str, str]:
    """Users: admin, rec (recruiter), emp1/emp2 (employers e1/e2), wk1/wk2 (workers
    w1/w2). Vacancies v1 (e1) and v2 (e2), open. Matches proposed: w1-v1, w2-v2."""
    assert api.post("admin", "/agreements", json=AGREEMENT).status_code == 202
    for employer in ("e1", "e2"):
        assert api.post("admin", "/employers", json={
            "employer_id": employer, "name": f"Hof {employer} GmbH", "country": "DE",
            "registration_number": f"HRB {employer}"}).status_code == 202
        assert api.post("admin", f"/employers/{employer}/verify").status_code == 202
    api.user("rec", "recruiter")
    api.user("emp1", "employer", employer_id="e1")
    api.user("emp2", "employer", employer_id="e2")
    for n, passport in (("1", "AM1000001"), ("2", "AM1000002")):
        r = api.post(None, "/workers", json={**worker_body(f"w{n}", passport),
                                             "username": f"wk{n}", "password": PASSWORD})
        assert r.status_code == 202, r.text
    for vacancy_id, employer in (("v1", "e1"), ("v2", "e2")):
        assert api.post("admin", "/vacancies",
                        json=vacancy_body(vacancy_id, employer)).status_code == 202
        api.fold(VacancyEvaluated(vacancy_id=vacancy_id, employer_id=employer,
                                  agreement_id="am-de", status=Verdict.OPEN))
    for worker, vacancy, employer in (("w1", "v1", "e1"), ("w2", "v2", "e2")):
        api.fold(match_event(mev.MatchProposed, worker, vacancy, employer, score=0.8,
                             reasons=[{"code": "skills", "text": "covers 1 of 1 required skills",
                                       "weight": 0.4}]))
    return {"m11": match_id("w1", "v1"), "m22": match_id("w2", "v2")}


def advance_match(api: Api, worker: str, vacancy: str, employer: str, *steps: str) -> str:
    """Move a match through the matcher's answers: approved, accepted, ..."""
    kinds = {"approved": (mev.MatchApproved, {"reviewed_by": "u-rec"}),
             "accepted": (mev.MatchAccepted, {"contract_months": 6, "return_grace_days": 14,
                                              "reentry_cooldown_months": 3}),
             "declined": (mev.MatchDeclined, {}),
             "withdrawn": (mev.MatchWithdrawn, {"reason": "vacancy_closed"})}
    mid = match_id(worker, vacancy)
    for step in steps:
        cls, extra = kinds[step]
        api.fold(match_event(cls, worker, vacancy, employer, **extra),
                 derived_event_id(mid, step))
    return mid


TODAY = date(2027, 5, 1)
