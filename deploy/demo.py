"""``make demo``: fill a running system (``make up``) with a small, realistic world,
through its public API only, and print the sign-in names it made.

Three labour agreements with quotas, verified and pending employers, the sample
roster (deploy/sample/roster.csv, a few hundred workers) imported by a recruiter,
vacancies (one of them illegal), proposals reviewed, one offer accepted, a departure
and a return. Running it again changes nothing that exists (every id is fixed).

The gateway is ``CIRCULAR_DEMO_URL`` (default http://127.0.0.1:8000); the admin is
``CIRCULAR_ADMIN_USER`` / ``CIRCULAR_ADMIN_PASSWORD``. The people it creates share
one password: ``CIRCULAR_DEMO_PASSWORD``, or one generated once into
``var/demo-password`` and printed."""

from __future__ import annotations

import os
import secrets
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ROSTER = Path(__file__).parent / "sample" / "roster.csv"


def wage(amount: str, currency: str = "EUR") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def agreements(today: date) -> list[dict[str, Any]]:
    frame = {"origin_country": "AM", "valid_from": f"{today.year - 1}-01-01",
             "valid_until": f"{today.year + 2}-12-31", "min_age": 18, "max_age": 60,
             "reentry_cooldown_months": 3, "return_grace_days": 14}
    return [
        {**frame, "agreement_id": "am-de-seasonal", "destination_country": "DE",
         "title": "Armenia-Germany seasonal agricultural work", "max_contract_months": 9,
         "occupations": [{"isco_code": "6111", "annual_quota": 40,
                          "min_monthly_wage": wage("1800")},
                         {"isco_code": "9211", "annual_quota": 60,
                          "min_monthly_wage": wage("1700")}]},
        {**frame, "agreement_id": "am-cz-care", "destination_country": "CZ",
         "title": "Armenia-Czechia care and construction", "max_contract_months": 24,
         "language_requirement": {"language": "en", "min_level": "A2"},
         "occupations": [{"isco_code": "5322", "annual_quota": 25,
                          "min_monthly_wage": wage("38000", "CZK")},
                         {"isco_code": "7411", "annual_quota": 20,
                          "min_monthly_wage": wage("42000", "CZK")}]},
        {**frame, "agreement_id": "am-lt-transport", "destination_country": "LT",
         "title": "Armenia-Lithuania transport", "max_contract_months": 12,
         "occupations": [{"isco_code": "8332", "annual_quota": 30,
                          "min_monthly_wage": wage("1400")}]},
    ]


#: walk-ins registered by the recruiter, available at once (the roster's workers are
#: available from next year)
WALK_INS = ["Gor Avetisyan", "Narine Mkrtchyan", "Hayk Sahakyan", "Lilit Grigoryan",
            "Arsen Manukyan"]
EMPLOYERS = [("obsthof", "Obsthof Lindner GmbH", "DE", True),
             ("weingut", "Weingut Sonnenhang KG", "DE", True),
             ("pece", "Péče Domov s.r.o.", "CZ", True),
             ("elektro", "Elektro Brno a.s.", "CZ", True),
             ("trans", "Baltic Trans UAB", "LT", False)]


def vacancies(today: date) -> list[dict[str, Any]]:
    started = (today - timedelta(days=75)).isoformat()  # already under way: a departure
    spring = f"{today.year + 1}-04-01"
    return [
        {"vacancy_id": "obsthof-apples", "employer_id": "obsthof", "destination_country": "DE",
         "isco_code": "6111", "title": "Apple harvest", "positions": 4,
         "monthly_wage": wage("1950"), "contract_months": 2, "start_date": started,
         "required_skills": ["harvesting", "pruning"], "housing_provided": True},
        {"vacancy_id": "weingut-vines", "employer_id": "weingut", "destination_country": "DE",
         "isco_code": "9211", "title": "Vineyard hand", "positions": 6,
         "monthly_wage": wage("1800"), "contract_months": 6, "start_date": spring,
         "required_skills": ["pruning"], "housing_provided": True},
        {"vacancy_id": "pece-carers", "employer_id": "pece", "destination_country": "CZ",
         "isco_code": "5322", "title": "Home care worker", "positions": 3,
         "monthly_wage": wage("41000", "CZK"), "contract_months": 12, "start_date": spring,
         "required_skills": ["elderly care", "first aid"]},
        {"vacancy_id": "elektro-wiring", "employer_id": "elektro", "destination_country": "CZ",
         "isco_code": "7411", "title": "Building electrician", "positions": 2,
         "monthly_wage": wage("39000", "CZK"), "contract_months": 30, "start_date": spring,
         "required_skills": ["wiring"]},  # illegal: below the floor, too long
    ]


class Demo:
    def __init__(self, url: str, admin: tuple[str, str], password: str) -> None:
        self.http = httpx.Client(base_url=f"{url}/api/v1", timeout=60)
        self.password = password
        self.tokens = {"admin": self.sign_in(*admin)}

    def sign_in(self, username: str, password: str) -> str:
        r = self.http.post("/auth/token", data={"username": username, "password": password})
        if r.status_code != 200:
            sys.exit(f"cannot sign in as {username}: {r.status_code} {r.text}")
        return str(r.json()["access_token"])

    def call(self, who: str, method: str, path: str, ok: tuple[int, ...] = (200, 201, 202),
             **kwargs: Any) -> httpx.Response:
        if who not in self.tokens:
            self.tokens[who] = self.sign_in(who, self.password)
        r = self.http.request(method, path, headers={
            "Authorization": f"Bearer {self.tokens[who]}"}, **kwargs)
        if r.status_code not in ok:
            sys.exit(f"{method} {path}: {r.status_code} {r.text[:400]}")
        return r

    def user(self, username: str, role: str, **link: str) -> None:
        self.call("admin", "POST", "/users", ok=(201, 409), json={
            "username": username, "password": self.password, "role": role, **link})

    def wait(self, what: str, check: Any, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := check():
                return found
            time.sleep(0.5)
        sys.exit(f"gave up waiting for {what} (are the matcher and tracker running?)")

    def run(self, today: date) -> list[tuple[str, str]]:
        self.today = today
        for agreement in agreements(today):
            self.call("admin", "POST", "/agreements", ok=(202, 409), json=agreement)
        for employer_id, name, country, verified in EMPLOYERS:
            self.call("admin", "POST", "/employers", ok=(202, 409), json={
                "employer_id": employer_id, "name": name, "country": country,
                "registration_number": f"REG-{employer_id.upper()}"})
            if verified:
                self.call("admin", "POST", f"/employers/{employer_id}/verify")
            self.user(f"{employer_id}-hr", "employer", employer_id=employer_id)
        self.user("recruiter", "recruiter")
        with ROSTER.open("rb") as roster:
            report = self.call("recruiter", "POST", "/workers/import",
                               files={"file": ("roster.csv", roster, "text/csv")}).json()
        print(f"roster: {report['imported']} imported, {report['unchanged']} unchanged, "
              f"{len(report['errors'])} errors")
        for n, name in enumerate(WALK_INS, start=1):  # ready now: the harvest has begun
            self.call("recruiter", "POST", "/workers", ok=(202, 409), json={
                "worker_id": f"am-walkin-{n}", "full_name": name,
                "date_of_birth": f"{1978 + 3 * n}-0{n}-1{n}", "passport_number": f"AW{n:07d}",
                "citizenship": "AM", "region": "Armavir",
                "occupations": [{"isco_code": "6111", "experience_years": 2 + n}],
                "skills": ["harvesting", "pruning"][: 1 + n % 2], "languages": [],
                "preferred_destinations": ["DE"],
                "available_from": f"{today.year - 1}-06-01", "consent_matching": True})
        for vacancy in vacancies(today):
            self.call(f"{vacancy['employer_id']}-hr", "POST", "/vacancies", ok=(202, 409),
                      json=vacancy)
        if not self.call("recruiter", "GET", "/placements").json()["items"]:
            self.story()
        return [("admin", "(CIRCULAR_ADMIN_USER)"), ("recruiter", "recruiter"),
                ("employer", "obsthof-hr, weingut-hr, pece-hr, elektro-hr, trans-hr"),
                ("worker who went and came back", "returnee")]

    def story(self) -> None:
        """A proposal approved and accepted, the departure and the return (once: a run
        that finds a placement leaves them as they are)."""
        today = self.today
        proposals = self.wait("proposals for the apple harvest", lambda: [
            m for m in self.call("recruiter", "GET", "/vacancies/obsthof-apples/matches",
                                 params={"status": "proposed"}).json()["items"]])
        chosen = proposals[0]
        worker = chosen["worker_id"]
        self.user("returnee", "worker", worker_id=worker)
        self.call("recruiter", "POST", f"/matches/{chosen['match_id']}/approve", ok=(202, 409))
        for other in proposals[1:3]:
            self.call("recruiter", "POST", f"/matches/{other['match_id']}/approve", ok=(202, 409))
        if len(proposals) > 3:
            self.call("recruiter", "POST", f"/matches/{proposals[3]['match_id']}/reject",
                      ok=(202, 409), json={"reason": "Prefers a later start"})
        self.wait("the approval", lambda: self.status(chosen["match_id"]) != "proposed")
        self.call("returnee", "POST", f"/matches/{chosen['match_id']}/accept", ok=(202, 409))
        self.wait("the acceptance", lambda: self.status(chosen["match_id"]) == "accepted")
        departed = today - timedelta(days=70)
        self.call("recruiter", "POST", "/departures", ok=(202, 409), json={
            "match_id": chosen["match_id"], "departure_date": departed.isoformat(),
            "border_crossing_point": "Zvartnots airport"})
        self.wait("the placement", lambda: self.call(
            "recruiter", "GET", "/placements", params={"worker_id": worker}).json()["items"])
        self.call("returnee", "POST", "/returns", ok=(202, 409), json={
            "worker_id": worker, "return_date": (today - timedelta(days=5)).isoformat(),
            "intentions": ["start_business"], "needs": ["credit", "training"],
            "skills_acquired": ["orchard management"]})

    def status(self, match_id: str) -> str:
        return str(self.call("recruiter", "GET", f"/matches/{match_id}").json()["status"])


def demo_password() -> str:
    """One generated password for the demo's people, kept in ``var/demo-password`` so
    that running the demo again signs in as the people it made before."""
    path = Path(os.environ.get("CIRCULAR_VAR_DIR", ROOT / "var")) / "demo-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(12))
    return path.read_text().strip()


def main() -> None:
    admin = (os.environ.get("CIRCULAR_ADMIN_USER"), os.environ.get("CIRCULAR_ADMIN_PASSWORD"))
    if not admin[0] or not admin[1]:
        sys.exit("set CIRCULAR_ADMIN_USER and CIRCULAR_ADMIN_PASSWORD as for make up")
    password = os.environ.get("CIRCULAR_DEMO_PASSWORD") or demo_password()
    url = os.environ.get("CIRCULAR_DEMO_URL", "http://127.0.0.1:8000")
    people = Demo(url, (admin[0], admin[1]), password).run(date.today())
    print(f"\nThe console: {url}/console/  (password of every demo user: {password})")
    for role, names in people:
        print(f"  {role:32} {names}")


if __name__ == "__main__":
    main()
