"""The admin's console pages: agreements (list, terms and quota bars, the form,
suspend and resume), employers, users and statistics (charts as SVG with a table of
the same figures), per role, through the in-process browser-like client."""

from __future__ import annotations

import re
from typing import Any

import pytest

from schemas.events.matches import QuotaUsageChanged
from tests.support.console import Browser, browser
from tests.support.gateway import PASSWORD, Api, advance_match

pytestmark = pytest.mark.usefixtures("world")

AGREEMENTS = "/console/agreements"


def field_error(html: str, name: str) -> str:
    """The error message shown next to the control ``name`` (empty if none)."""
    found = re.search(rf'<span class="error" id="{re.escape(name)}-error">([^<]*)</span>',
                      html)
    return found.group(1) if found else ""


def quota_row(html: str, code: str) -> tuple[list[str], str]:
    """An occupation's row of the quota table: its figures (annual quota, used,
    remaining) and the words beside its bar."""
    row = re.search(rf"<tr>\s*<td>{code}[^<]*</td>(.*?)</tr>", html, re.DOTALL)
    assert row is not None, html
    figures = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    words = re.search(r"</meter>\s*<span>([^<]*)</span>", row.group(1))
    assert words is not None
    return figures, words.group(1)


def status_of(api: Api, path: str) -> str:
    r = api.get("admin", path)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


def agreement_form(**changes: str) -> dict[str, str]:
    form = {"title": "Armenia-France seasonal work", "agreement_id": "am-fr",
            "origin_country": "AM", "destination_country": "FR",
            "valid_from": "2027-03-01", "valid_until": "2028-02-29",
            "max_contract_months": "8", "min_age": "18", "max_age": "60",
            "reentry_cooldown_months": "2", "return_grace_days": "10",
            "language_requirement.language": "fr", "language_requirement.min_level": "A2",
            "occupations.0.isco_code": "6111", "occupations.0.annual_quota": "40",
            "occupations.0.min_monthly_wage.amount": "1750",
            "occupations.0.min_monthly_wage.currency": "EUR",
            "occupations.1.isco_code": "", "occupations.1.annual_quota": "",
            "occupations.1.min_monthly_wage.amount": "",
            "occupations.1.min_monthly_wage.currency": "",
            "occupations.2.isco_code": "9211", "occupations.2.annual_quota": "15",
            "occupations.2.min_monthly_wage.amount": "1600.50",
            "occupations.2.min_monthly_wage.currency": "EUR"}
    form.update(changes)
    return form


def forbidden(b: Browser, path: str, data: dict[str, Any] | None = None) -> None:
    r = b.get(path) if data is None else b.post(path, data)
    assert r.status_code == 403, (path, r.status_code)
    assert "You may not see this page or do this." in r.text


def test_agreements_list_terms_and_quota_bars(api: Api) -> None:
    admin = browser(api, "admin")
    r = admin.get(AGREEMENTS)
    assert r.status_code == 200
    assert r.text.count("<h1>") == 1
    assert "Armenia-Germany seasonal work" in r.text
    assert "Armenia to Germany" in r.text and "Active" in r.text
    assert 'href="/console/agreements/new"' in r.text

    r = admin.get(f"{AGREEMENTS}/am-de?year=2027")
    assert r.status_code == 200
    assert "€1,800" in r.text
    assert quota_row(r.text, "6111") == (["2", "0", "2"], "0 of 2")
    assert '<meter min="0" max="2" value="0"' in r.text
    assert "Suspend the agreement" in r.text

    # the matcher approves w1 for v1 (starting 2027) and counts the quota
    advance_match(api, "w1", "v1", "e1", "approved")
    api.fold(QuotaUsageChanged(agreement_id="am-de", isco_code="6111", year=2027,
                               annual_quota=2, used=1))
    r = admin.get(f"{AGREEMENTS}/am-de?year=2027")
    assert quota_row(r.text, "6111") == (["2", "1", "1"], "1 of 2")
    assert '<meter min="0" max="2" value="1"' in r.text
    assert 'aria-label="1 of 2 places used for 6111"' in r.text
    r = admin.get(f"{AGREEMENTS}/am-de?year=2028")  # another year: nothing used
    assert quota_row(r.text, "6111") == (["2", "0", "2"], "0 of 2")

    assert admin.get(f"{AGREEMENTS}/nope").status_code == 404
    assert admin.get(f"{AGREEMENTS}/am-de?year=1999").status_code == 422

    # a recruiter reads agreements and quota, but may not record or suspend
    rec = browser(api, "rec")
    r = rec.get(f"{AGREEMENTS}/am-de?year=2027")
    assert r.status_code == 200
    assert quota_row(r.text, "6111") == (["2", "1", "1"], "1 of 2")
    assert "Suspend the agreement" not in r.text
    assert 'href="/console/agreements/new"' not in rec.get(AGREEMENTS).text
    forbidden(rec, f"{AGREEMENTS}/new")
    forbidden(rec, f"{AGREEMENTS}/new", agreement_form())
    forbidden(rec, f"{AGREEMENTS}/am-de/suspend", {})
    assert status_of(api, "/agreements/am-de") == "active"
    assert api.get("admin", "/agreements/am-fr").status_code == 404

    for who in ("emp1", "wk1"):
        b = browser(api, who)
        forbidden(b, AGREEMENTS)
        forbidden(b, f"{AGREEMENTS}/am-de")
        forbidden(b, f"{AGREEMENTS}/am-de/suspend", {})
    assert status_of(api, "/agreements/am-de") == "active"


def test_agreement_form_suspend_and_resume(api: Api) -> None:
    admin = browser(api, "admin")
    r = admin.get(f"{AGREEMENTS}/new")
    assert r.status_code == 200
    for i in range(3):
        assert f'name="occupations.{i}.min_monthly_wage.currency"' in r.text
    assert '<label for="f-valid_until">' in r.text

    # errors: shown next to their fields, what was typed kept (escaped)
    r = admin.post(f"{AGREEMENTS}/new", agreement_form(
        title="", valid_until="2027-01-01", destination_country="<b>FR</b>",
        **{"occupations.2.annual_quota": "-3"}))
    assert r.status_code == 422
    assert field_error(r.text, "title") == "This field is required."
    assert field_error(r.text, "destination_country") == "This is not in the expected format."
    # the empty second row was left out: the third row is now the second
    assert field_error(r.text, "occupations.1.annual_quota") == "Enter a number of at least 0."
    assert 'value="&lt;b&gt;FR&lt;/b&gt;"' in r.text and "<b>FR</b>" not in r.text
    assert "Please correct the marked fields." in r.text
    # a check across fields, at the field it concerns
    r = admin.post(f"{AGREEMENTS}/new", agreement_form(valid_until="2027-01-01"))
    assert r.status_code == 422
    assert field_error(r.text, "valid_until") == (
        "The end of validity must not be before its start.")
    assert 'aria-describedby="valid_until-error"' in r.text
    r = admin.post(f"{AGREEMENTS}/new", {k: v for k, v in agreement_form().items()
                                        if not k.startswith("occupations.")})
    assert r.status_code == 422
    assert field_error(r.text, "occupations") == "This field is required."
    r = admin.post(f"{AGREEMENTS}/new", agreement_form(
        **{"language_requirement.min_level": ""}))
    assert field_error(r.text, "language_requirement.min_level") == "This field is required."
    assert api.get("admin", "/agreements/am-fr").status_code == 404

    # success: the agreement is recorded with both filled rows and the requirement
    r = admin.post(f"{AGREEMENTS}/new", agreement_form())
    assert r.status_code == 200
    assert str(r.url).endswith(f"{AGREEMENTS}/am-fr")
    assert "The agreement “Armenia-France seasonal work” is recorded." in r.text
    assert "French, at least level A2" in r.text and "Feb 29, 2028" in r.text
    assert quota_row(r.text, "9211") == (["15", "0", "15"], "0 of 15")
    listed = api.get("admin", "/agreements").json()["items"]
    recorded = next(a for a in listed if a["agreement_id"] == "am-fr")
    assert [o["isco_code"] for o in recorded["occupations"]] == ["6111", "9211"]
    assert recorded["occupations"][1]["min_monthly_wage"] == {"amount": "1600.50",
                                                              "currency": "EUR"}
    assert recorded["language_requirement"] == {"language": "fr", "min_level": "A2"}
    assert "Armenia-France seasonal work" in admin.get(AGREEMENTS).text

    # the same id with other terms is refused, said on the form
    r = admin.post(f"{AGREEMENTS}/new", agreement_form(max_age="61"))
    assert r.status_code == 409
    assert "An agreement with this id exists already, with other terms." in r.text

    r = admin.post(f"{AGREEMENTS}/am-fr/suspend", {})
    assert r.status_code == 200
    assert "The agreement “Armenia-France seasonal work” is suspended." in r.text
    assert 'class="status status-suspended">Suspended<' in r.text
    assert "Resume the agreement" in r.text
    assert status_of(api, "/agreements/am-fr") == "suspended"
    r = admin.post(f"{AGREEMENTS}/am-fr/resume", {})
    assert 'class="status status-active">Active<' in r.text
    assert status_of(api, "/agreements/am-fr") == "active"
    assert admin.post(f"{AGREEMENTS}/nope/suspend", {}).status_code == 404


def test_employers_pages(api: Api) -> None:
    admin = browser(api, "admin")
    r = admin.get("/console/employers")
    assert r.status_code == 200
    assert "Hof e1 GmbH" in r.text and "Verified" in r.text and "HRB e2" in r.text

    r = admin.post("/console/employers/new", {"name": "", "country": "Germany",
                                              "registration_number": "HRB 9"})
    assert r.status_code == 422
    assert field_error(r.text, "name") == "This field is required."
    assert field_error(r.text, "country") == "This is not in the expected format."
    assert 'value="HRB 9"' in r.text

    form = {"employer_id": "e3", "name": "Weingut <Rhein>", "country": "DE",
            "registration_number": "HRB 3"}
    r = admin.post("/console/employers/new", form)
    assert r.status_code == 200
    assert "Weingut &lt;Rhein&gt;" in r.text and "Weingut <Rhein>" not in r.text
    assert "Waiting for verification" in r.text
    assert status_of(api, "/employers/e3") == "pending"
    r = admin.post("/console/employers/new", {**form, "registration_number": "HRB 4"})
    assert r.status_code == 409
    assert field_error(r.text, "employer_id") == (
        "An employer with this id exists already, with other details.")

    r = admin.post("/console/employers/e3/verify", {})
    assert "The employer “Weingut &lt;Rhein&gt;” is verified." in r.text
    assert status_of(api, "/employers/e3") == "verified"
    r = admin.post("/console/employers/e3/suspend", {})
    assert "is suspended." in r.text
    assert status_of(api, "/employers/e3") == "suspended"
    assert admin.post("/console/employers/nope/verify", {}).status_code == 404

    for who in ("rec", "emp1", "wk1"):
        b = browser(api, who)
        forbidden(b, "/console/employers")
        forbidden(b, "/console/employers/new")
        forbidden(b, "/console/employers/e2/suspend", {})
    assert status_of(api, "/employers/e2") == "verified"


def test_users_pages(api: Api) -> None:
    admin = browser(api, "admin")
    r = admin.get("/console/users")
    assert r.status_code == 200
    for name in ("admin", "rec", "emp1", "wk2"):
        assert f"<td>{name}</td>" in r.text
    assert "Recruiter" in r.text and "Employer" in r.text and "<td>e1</td>" in r.text

    r = admin.post("/console/users/new", {"username": "emp3", "password": PASSWORD,
                                          "role": "employer", "employer_id": ""})
    assert r.status_code == 422
    assert field_error(r.text, "employer_id") == "This field is required."
    assert 'value="emp3"' in r.text and PASSWORD not in r.text
    r = admin.post("/console/users/new", {"username": "emp3", "password": PASSWORD,
                                          "role": "employer", "employer_id": "e9"})
    assert field_error(r.text, "employer_id") == "No such record exists."
    r = admin.post("/console/users/new", {"username": "x", "password": "short",
                                          "role": "recruiter"})
    assert r.status_code == 422
    assert field_error(r.text, "username") == "This is not in the expected format."
    assert field_error(r.text, "password") == "This is too short."
    r = admin.post("/console/users/new", {"username": "rec", "password": PASSWORD,
                                          "role": "recruiter"})
    assert r.status_code == 409
    assert field_error(r.text, "username") == "This username is taken."
    r = admin.post("/console/users/new", {"username": "wk1-again", "password": PASSWORD,
                                          "role": "worker", "worker_id": "w1"})
    assert r.status_code == 409
    assert field_error(r.text, "worker_id") == "This worker has a login already."

    r = admin.post("/console/users/new", {"username": "emp1b", "password": PASSWORD,
                                          "role": "employer", "employer_id": "e1"})
    assert r.status_code == 200
    assert "The login “emp1b” is made." in r.text and "<td>emp1b</td>" in r.text
    # the new login works, with the employer's rights
    assert api.get("emp1b", "/employers/e1").status_code == 200
    assert api.get("emp1b", "/employers/e2").status_code == 403

    for who in ("rec", "emp1", "wk1"):
        b = browser(api, who)
        forbidden(b, "/console/users")
        forbidden(b, "/console/users/new", {"username": "sneaky", "password": PASSWORD,
                                            "role": "admin"})
    assert api.post(None, "/auth/token", data={"username": "sneaky",
                                               "password": PASSWORD}).status_code == 401


def test_statistics_charts_and_tables(api: Api) -> None:
    advance_match(api, "w1", "v1", "e1", "approved")
    admin = browser(api, "admin")
    r = admin.get("/console/stats?year=2027")
    assert r.status_code == 200
    assert r.text.count("<h1>") == 1
    row = re.search(r"<td>Germany</td>\s*<td>6111[^<]*</td>(.*?)</tr>", r.text, re.DOTALL)
    assert row is not None
    figures = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert figures == ["2", "1", "0", "0", "0", "—"]  # proposed, approved, ..., no rate
    assert '<img src="/console/stats/flows.svg?year=2027"' in r.text
    assert '<img src="/console/stats/return-rate.svg?year=2027"' in r.text
    assert re.search(r'<img src="/console/stats/flows.svg\?year=2027"[^>]*alt="[^"]+"', r.text)
    assert "No flows in this year" in admin.get("/console/stats?year=2030").text
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]  # the page's

    for chart in ("flows", "return-rate"):
        r = admin.get(f"/console/stats/{chart}.svg?year=2027")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in r.text and "<script" not in r.text.lower()
        assert "Germany · 6111" in r.text
        # its own policy: the chart's inline <style> may apply, nothing may run or load
        assert r.headers.get_list("content-security-policy") == [
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"]
    assert "Flows in 2027" in admin.get("/console/stats/flows.svg?year=2027").text
    assert "Approved" in admin.get("/console/stats/flows.svg?year=2027").text

    # the chart's labels in the user's language
    russian = browser(api, "admin", language="ru")
    assert "Германия · 6111" in russian.get("/console/stats/flows.svg?year=2027").text

    for who in ("rec", "emp1", "wk1"):
        b = browser(api, who)
        forbidden(b, "/console/stats")
        r = b.get("/console/stats/flows.svg?year=2027")
        assert r.status_code == 403 and "<svg" not in r.text
