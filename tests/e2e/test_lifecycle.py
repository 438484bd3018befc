"""The whole lifecycle of SPEC 3-4, over HTTP only, with the gateway, matcher and
tracker running as separate processes on the real broker: agreements and
employers, legal and illegal vacancies, a roster where only the eligible are
proposed and ranked, approvals up to the quota and the 409 beyond, acceptance
withdrawing other matches, departures, on-time, early and missing returns, ticks
making a placement overdue and referred, cooldown and the named re-hire ranking
first, erasure, every trigger exactly once, and no personal data on any topic."""

from collections import Counter

import pytest

from schemas.topics import catalogue
from tests.support.gateway import PASSWORD
from tests.support.kafka import read_all
from tests.support.processes import wait_for

pytestmark = pytest.mark.kafka
QUOTA = 3
AGREEMENT = {
    "agreement_id": "am-de", "origin_country": "AM", "destination_country": "DE",
    "title": "Armenia-Germany seasonal work", "valid_from": "2027-01-01",
    "valid_until": "2029-12-31", "max_contract_months": 9, "min_age": 18, "max_age": 55,
    "reentry_cooldown_months": 3, "return_grace_days": 14,
    "occupations": [{"isco_code": "6111", "annual_quota": QUOTA,
                     "min_monthly_wage": {"amount": "1800", "currency": "EUR"}}],
}


def vacancy(vacancy_id, employer, positions=1, start="2027-04-01", **changes):
    return {"vacancy_id": vacancy_id, "employer_id": employer, "destination_country": "DE",
            "isco_code": "6111", "title": "Harvest hand", "positions": positions,
            "monthly_wage": {"amount": "1900", "currency": "EUR"}, "contract_months": 6,
            "start_date": start, "required_skills": ["tractor", "pruning"],
            "min_experience_years": 1, **changes}


def worker(n, years, skills=("tractor",), **changes):
    return {"worker_id": f"w{n}", "full_name": f"Aram Hakobyan {n}",
            "date_of_birth": "1990-03-03", "passport_number": f"AP{n:07d}",
            "phone": f"+374 55 {n:06d}", "email": f"aram{n}@mail.am", "region": "Lori",
            "citizenship": "AM", "occupations": [{"isco_code": "6111", "experience_years": years}],
            "skills": list(skills), "languages": [], "preferred_destinations": ["DE"],
            "available_from": "2027-01-01", "consent_matching": True,
            "username": f"worker{n}", "password": PASSWORD, **changes}


class People:
    """One HTTP client per person."""

    def __init__(self, system):
        self.system = system
        self.tokens = {"admin": system.token()}

    def login(self, who):
        if who not in self.tokens:
            self.tokens[who] = self.system.token(who, PASSWORD)
        return self.system.client(self.tokens[who])

    def __getitem__(self, who):
        return self.login(who)


def until(check, what, timeout=90):
    return wait_for(check, timeout=timeout, interval=0.3, what=what)


def matches_of(api, vacancy_id):
    return api.get(f"/vacancies/{vacancy_id}/matches", params={"limit": 200}).json()["items"]


def status(api, match_id):
    r = api.get(f"/matches/{match_id}")
    return r.json()["status"] if r.status_code == 200 else None


def test_the_whole_lifecycle(system):
    system.extra_env.update({"CIRCULAR_CLOCK_CONTROL": "true",
                             "CIRCULAR_TRACKER_DAILY_TICK": "false"})
    system.start("api", "relay", "projector", "matcher", "tracker")
    people = People(system)
    admin = people["admin"]
    # -- the agency sets up the agreement, employers, staff ------------------------
    assert admin.post("/agreements", json=AGREEMENT).status_code == 202
    for e in ("e1", "e2"):
        assert admin.post("/employers", json={"employer_id": e, "name": f"Hof {e} GmbH",
                                              "country": "DE", "registration_number": e}
                          ).status_code == 202
        assert admin.post(f"/employers/{e}/verify").status_code == 202
        assert admin.post("/users", json={"username": f"boss-{e}", "password": PASSWORD,
                                          "role": "employer", "employer_id": e}
                          ).status_code == 201
    assert admin.post("/users", json={"username": "counsellor", "password": PASSWORD,
                                      "role": "recruiter"}).status_code == 201
    rec, boss1, boss2 = people["counsellor"], people["boss-e1"], people["boss-e2"]
    # the clock of this test deployment: the season starts on 2027-04-01
    assert admin.post("/admin/clock/tick", json={"date": "2027-03-15"}).status_code == 202
    # -- workers register themselves; two are not eligible ----------------------------
    for n, years in enumerate((2, 5, 8, 3, 4, 6), start=1):
        assert system.client().post("/workers", json=worker(
            n, years, skills=("tractor", "pruning") if n in (3, 6) else ("tractor",))
        ).status_code == 202
    system.client().post("/workers", json=worker(7, 9, date_of_birth="2010-01-01"))
    system.client().post("/workers", json=worker(8, 9, preferred_destinations=["KR"]))
    # -- legal and illegal vacancies -------------------------------------------------
    assert boss1.post("/vacancies", json=vacancy("v1", "e1")).status_code == 202
    assert boss2.post("/vacancies", json=vacancy("v2", "e2", positions=3)).status_code == 202
    bad = vacancy("v-bad", "e1", contract_months=12,
                  worker_fee={"amount": "250", "currency": "EUR"})
    assert boss1.post("/vacancies", json=bad).status_code == 202
    until(lambda: boss1.get("/vacancies/v-bad").json()["status"] == "rejected", "v-bad")
    assert sorted(boss1.get("/vacancies/v-bad").json()["violations"]) == [
        "contract_too_long", "worker_fee_charged"]
    until(lambda: len(matches_of(rec, "v1")) == 5, "five proposals for v1")
    until(lambda: len(matches_of(rec, "v2")) == 6, "six proposals for v2")
    ranked = [m["worker_id"] for m in matches_of(rec, "v1")]
    assert ranked[:2] == ["w3", "w6"]  # every required skill first, then experience
    assert not {"w7", "w8"} & set(ranked)  # too young; prefers Korea
    assert all(m["reasons"] for m in matches_of(rec, "v1"))
    assert boss1.get("/vacancies/v1/matches").json()["items"] == []  # nothing approved yet
    v1 = {m["worker_id"]: m["match_id"] for m in matches_of(rec, "v1")}
    v2 = {m["worker_id"]: m["match_id"] for m in matches_of(rec, "v2")}
    # -- approvals; acceptance withdraws the worker's other matches --------------------
    for w in ("w3", "w2"):
        assert rec.post(f"/matches/{v2[w]}/approve").status_code == 202
    until(lambda: {status(rec, v2[w]) for w in ("w3", "w2")} == {"approved"},
          "two approvals on v2")
    w3 = people["worker3"]
    assert w3.post(f"/matches/{v2['w3']}/accept").status_code == 202
    until(lambda: status(rec, v2["w3"]) == "accepted", "w3 accepted")
    until(lambda: status(rec, v1["w3"]) == "withdrawn", "w3's v1 proposal withdrawn")
    assert rec.get(f"/matches/{v1['w3']}").json()["outcome_reason"] == "worker_accepted_other"
    # -- up to the quota (3), then 409 -----------------------------------------------
    assert rec.post(f"/matches/{v1['w6']}/approve").status_code == 202
    until(lambda: status(rec, v1["w6"]) == "approved", "w6 approved on v1")
    until(lambda: boss1.get("/vacancies/v1").json()["status"] == "filled", "v1 filled")
    until(lambda: rec.get("/agreements/am-de/quota", params={"year": 2027}).json()[0]["used"]
          == QUOTA, "the quota used up")
    # v2 has a position left, the quota not: its unreviewed proposals are withdrawn,
    # and approving one is refused
    until(lambda: status(rec, v2["w1"]) == "withdrawn", "w1's v2 proposal withdrawn")
    assert rec.get(f"/matches/{v2['w1']}").json()["outcome_reason"] == "quota_exhausted"
    r = rec.post(f"/matches/{v2['w1']}/approve")
    assert r.status_code == 409 and "quota" in r.json()["message"], r.text
    # the owning employer sees its approved match, without a name until accepted
    [seen] = boss1.get("/vacancies/v1/matches").json()["items"]
    assert seen["worker_id"] == "w6" and seen["candidate_name"] is None
    assert people["worker6"].post(f"/matches/{v1['w6']}/accept").status_code == 202
    assert people["worker2"].post(f"/matches/{v2['w2']}/accept").status_code == 202
    until(lambda: status(rec, v1["w6"]) == "accepted" and status(rec, v2["w2"])
          == "accepted", "w6 and w2 accepted")
    [named] = boss1.get("/vacancies/v1/matches").json()["items"]
    assert named["candidate_name"] == "Aram Hakobyan 6"
    # -- departures -------------------------------------------------------------------
    assert admin.post("/admin/clock/tick", json={"date": "2027-04-01"}).status_code == 202
    for m in (v1["w6"], v2["w3"], v2["w2"]):
        assert rec.post("/departures", json={"match_id": m, "departure_date": "2027-04-01"}
                        ).status_code == 202
    until(lambda: rec.get("/placements", params={"status": "abroad"}).json()["total"] == 3,
          "three placements abroad")
    [p6] = people["worker6"].get("/placements").json()["items"]
    assert p6["expected_return_date"] == "2027-10-01"
    # -- returns: w3 early reporting abuse; w6 on time with plans; w2 never comes back
    assert admin.post("/admin/clock/tick", json={"date": "2027-06-10"}).status_code == 202
    assert w3.post("/returns", json={"worker_id": "w3", "return_date": "2027-06-10",
                                     "early_return_reason": "employer_abuse"}
                   ).status_code == 202
    assert admin.post("/admin/clock/tick", json={"date": "2027-09-28"}).status_code == 202
    assert rec.post("/returns", json={
        "worker_id": "w6", "return_date": "2027-09-28", "intentions": ["re_migrate",
                                                                       "start_business"],
        "needs": ["credit"], "skills_acquired": ["greenhouse irrigation"]}).status_code == 202
    assert rec.post("/returns", json={"worker_id": "w5", "return_date": "2027-09-28"}
                    ).status_code == 202  # w5 never left: kept and reported
    until(lambda: rec.get("/returns", params={"status": "unmatched"}).json()["total"] == 1,
          "the unmatched return")
    # ticks: w2 overdue after expected + 14 days, referred past twice the grace period
    assert admin.post("/admin/clock/tick", json={"date": "2027-10-16"}).status_code == 202
    until(lambda: rec.get("/placements", params={"status": "overdue"}).json()["total"] == 1,
          "w2 overdue")
    assert admin.post("/admin/clock/tick", json={"date": "2027-11-05"}).status_code == 202
    # -- cooldown and the named re-hire ------------------------------------------------
    assert admin.post("/admin/clock/tick", json={"date": "2027-12-28"}).status_code == 202
    assert boss1.post("/vacancies", json=vacancy("v-next", "e1", start="2028-04-01")
                      ).status_code == 202
    until(lambda: matches_of(rec, "v-next") and matches_of(rec, "v-next")[0]["worker_id"]
          == "w6", "the re-hire first on e1's next vacancy")
    assert matches_of(rec, "v-next")[0]["reasons"][0]["code"] == "rehire"
    # -- erasure: the live proposal goes, the name with it ------------------------------
    w4 = next(m for m in matches_of(rec, "v-next") if m["worker_id"] == "w4")
    assert w4["status"] == "proposed"
    assert people["worker4"].delete("/workers/w4").status_code == 202
    until(lambda: status(rec, w4["match_id"]) == "withdrawn", "w4 withdrawn on erasure")
    assert rec.get(f"/matches/{w4['match_id']}").json()["outcome_reason"] == "worker_erased"
    assert rec.get("/workers/w4").json()["full_name"] is None
    # the re-hire goes again and comes home early for a family reason (no abuse)
    rehire = matches_of(rec, "v-next")[0]["match_id"]
    assert rec.post(f"/matches/{rehire}/approve").status_code == 202
    until(lambda: status(rec, rehire) == "approved", "the re-hire approved")
    assert people["worker6"].post(f"/matches/{rehire}/accept").status_code == 202
    until(lambda: status(rec, rehire) == "accepted", "the re-hire accepted")
    assert admin.post("/admin/clock/tick", json={"date": "2028-04-01"}).status_code == 202
    assert rec.post("/departures", json={"match_id": rehire, "departure_date": "2028-04-01"}
                    ).status_code == 202
    until(lambda: rec.get("/placements", params={"status": "abroad"}).json()["total"] == 1,
          "the re-hire abroad again")
    assert admin.post("/admin/clock/tick", json={"date": "2028-06-01"}).status_code == 202
    assert people["worker6"].post("/returns", json={
        "worker_id": "w6", "return_date": "2028-06-01", "early_return_reason": "family"}
    ).status_code == 202
    until(lambda: rec.get("/placements", params={"status": "returned"}).json()["total"] == 3,
          "the re-hire home early")
    # -- triggers, each exactly once ---------------------------------------------------
    expected = Counter({"counselling_referral": 4, "welfare_check": 2,
                        "counter_trafficking_referral": 2, "business_support": 1,
                        "skills_recognition": 1, "overdue_return": 1, "reentry_eligible": 1})

    def triggers():
        items = rec.get("/reintegration/triggers", params={"limit": 200}).json()["items"]
        return Counter(t["kind"] for t in items)

    until(lambda: triggers() == expected, "every trigger once")
    mine = people["worker6"].get("/reintegration/triggers").json()["items"]
    assert Counter(t["kind"] for t in mine) == Counter({
        "counselling_referral": 2, "business_support": 1, "skills_recognition": 1,
        "reentry_eligible": 1, "welfare_check": 1})  # no abuse: no referral
    timeline = people["worker6"].get("/workers/w6/timeline", params={"limit": 200}).json()
    assert timeline["total"] >= 8
    # -- no personal data on any topic ------------------------------------------------
    records = read_all(system.bootstrap, [t.name for t in catalogue(system.prefix)],
                       settle=2)
    blob = b"".join((r.value or b"") + b"".join(r.headers.values()) for r in records)
    for n in range(1, 9):
        for secret in (f"Aram Hakobyan {n}", f"AP{n:07d}", f"+374 55 {n:06d}",
                       f"aram{n}@mail.am"):
            assert secret.encode() not in blob
