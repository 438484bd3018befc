"""The whole wave-1 story in a real browser, against the real system: the gateway,
its relay and projector, the matcher and the tracker as separate processes on the
real broker. Every step is done as a person would, by labels and roles: the admin
records an agreement and an employer and verifies it, makes the employer's and the
recruiter's logins; a worker registers itself; the employer posts a vacancy; the
recruiter approves the proposal; the worker accepts; the recruiter records the
departure; the worker registers the return; the follow-up triggers show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.pages import serious_violations
from tests.support.gateway import PASSWORD
from tests.support.system import ADMIN_PASSWORD, ADMIN_USER, System

pytestmark = pytest.mark.kafka
TODAY = date.today()
START = TODAY - timedelta(days=40)
WAIT = 30_000  # ms: the matcher and the projector answer within a few seconds


@pytest.fixture
def running(system: System, database_url: str) -> Iterator[System]:
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser story runs once, on SQLite (pages are database-blind)")
    system.start("api", "relay", "projector", "matcher", "tracker")
    yield system


def person(browser: Browser, base: str, username: str | None, password: str = PASSWORD
           ) -> Page:
    page = browser.new_page(base_url=base)
    if username is not None:
        page.goto("/console/sign-in")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def until(page: Page, url: str, text: str | re.Pattern[str], tries: int = 60,
          role: str | None = None) -> None:
    """Reload ``url`` until it shows ``text`` (or a control of ``role`` named so): the
    system decides on Kafka, the page shows what has been decided so far."""
    def find() -> Locator:
        return (page.get_by_role(role, name=text) if role  # type: ignore[arg-type]
                else page.get_by_text(text))
    for _ in range(tries):
        page.goto(url)
        if find().count():
            return
        page.wait_for_timeout(500)
    expect(find().first).to_be_visible()


def test_the_whole_story_in_the_browser(running: System, browser: Browser) -> None:
    base = running.url
    admin = person(browser, base, ADMIN_USER, ADMIN_PASSWORD)

    admin.goto("/console/agreements/new")
    admin.get_by_label("Title").fill("Armenia-Germany seasonal work")
    admin.get_by_label("Identifier").fill("am-de")
    admin.get_by_label("Country of origin").fill("AM")
    admin.get_by_label("Country of destination").fill("DE")
    admin.get_by_label("Valid from").fill(f"{TODAY.year - 1}-01-01")
    admin.get_by_label("Valid until").fill(f"{TODAY.year + 1}-12-31")
    admin.get_by_label("Longest contract (months)").fill("9")
    admin.get_by_label("Minimum age").fill("18")
    admin.get_by_label("Maximum age").fill("55")
    admin.get_by_label("Wait before working abroad again (months)").fill("3")
    admin.get_by_label("Days allowed for the return").fill("14")
    admin.get_by_label("ISCO-08 code").first.fill("6111")
    admin.get_by_label("Annual quota").first.fill("5")
    admin.get_by_label("Minimum monthly wage").first.fill("1800")
    admin.get_by_label("Currency").first.fill("EUR")
    admin.get_by_role("button", name="Record the agreement").click()
    until(admin, "/console/agreements", "Armenia-Germany seasonal work")
    assert serious_violations(admin) == []

    admin.goto("/console/employers/new")
    admin.get_by_label("Identifier").fill("e1")
    admin.get_by_label("Name").fill("Obsthof Lindner GmbH")
    admin.get_by_label("Country").fill("DE")
    admin.get_by_label("Registration number").fill("HRB 1")
    admin.get_by_role("button", name="Register the employer").click()
    until(admin, "/console/employers", "Obsthof Lindner GmbH")
    admin.get_by_role("button", name=re.compile("^Verify")).first.click()
    until(admin, "/console/employers", "Verified")

    for username, role, link in (("emp1", "employer", "e1"), ("rec", "recruiter", None)):
        admin.goto("/console/users/new")
        admin.get_by_label("Username").fill(username)
        admin.get_by_label(re.compile("^Password")).fill(PASSWORD)
        admin.get_by_label("Role").select_option(role)
        if link:
            admin.get_by_label("Employer identifier").fill(link)
        admin.get_by_role("button", name="Make the login").click()
        expect(admin.get_by_text(username).first).to_be_visible()

    worker = person(browser, base, None)
    worker.goto("/console/register")
    worker.get_by_label("Username").fill("anahit")
    worker.get_by_label(re.compile("^Password")).fill(PASSWORD)
    worker.get_by_label("Full name").fill("Anahit Petrosyan")
    worker.get_by_label("Date of birth").fill("1990-05-17")
    worker.get_by_label("Passport number").fill("AM1234567")
    worker.get_by_label("Citizenship").fill("AM")
    worker.get_by_label("Occupation 1: ISCO code").fill("6111")
    worker.get_by_label("Occupation 1: years of experience").fill("4")
    worker.get_by_label("Skills").fill("tractor, pruning")
    worker.get_by_label("Countries you would like to work in").fill("DE")
    worker.get_by_label("Available from").fill(f"{TODAY.year - 1}-01-01")
    worker.get_by_label("Yes, I agree to be matched with vacancies").check()
    worker.get_by_role("button", name="Register", exact=True).click()
    expect(worker.get_by_role("heading", level=1)).to_be_visible()
    worker.close()
    worker = person(browser, base, "anahit")

    employer = person(browser, base, "emp1")
    employer.goto("/console/vacancies/new")
    employer.get_by_label("Title").fill("Apple harvest")
    employer.get_by_label("Destination country").fill("DE")
    employer.get_by_label("Occupation (ISCO-08 code)").fill("6111")
    employer.get_by_label("Positions").fill("2")
    employer.get_by_label("Amount").first.fill("1950")
    employer.get_by_label("Currency").first.fill("EUR")
    employer.get_by_label("Contract length in months").fill("2")
    employer.get_by_label("Start date").fill(START.isoformat())
    employer.get_by_label("Required skills").fill("tractor")
    employer.get_by_role("button", name="Post the vacancy").click()
    until(employer, "/console/vacancies", "Open")
    assert serious_violations(employer) == []

    recruiter = person(browser, base, "rec")
    until(recruiter, "/console/review", "Apple harvest")
    assert serious_violations(recruiter) == []
    recruiter.get_by_role("button", name=re.compile("^Approve")).first.click()

    until(worker, "/console/offers", re.compile("^Accept"), role="button")
    worker.get_by_role("button", name=re.compile("^Accept")).first.click()

    until(recruiter, "/console/departures", "Record departure")
    recruiter.get_by_label("Departure date").first.fill((START + timedelta(days=1)).isoformat())
    recruiter.get_by_role("button", name=re.compile("^Record departure")).first.click()
    until(recruiter, "/console/departures", "Abroad")

    worker.goto("/console/return")
    worker.get_by_label("Date of return").fill(TODAY.isoformat())
    worker.get_by_label("Start a business").check()
    worker.get_by_label("Credit").check()
    worker.get_by_role("button", name="Register the return").click()

    until(recruiter, "/console/triggers", "Counselling at the Migration Resource Centre",
          role="cell")
    expect(recruiter.get_by_role("cell", name="Business training and micro-credit", exact=True)
           ).to_be_visible()
    assert serious_violations(recruiter) == []
    worker.goto("/console/me/timeline")
    expect(worker.locator("main").get_by_text("Counselling at the Migration Resource Centre")
           .first).to_be_visible()
