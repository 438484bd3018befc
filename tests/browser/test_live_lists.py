"""Lists that follow the change stream in a real browser: the recruiter's review queue
and the employer's vacancy list fetch their list again when ``/console/stream`` says
something they show changed (htmx's SSE extension), with no reload and no inline
script; a reason being typed survives the refresh."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from schemas.events import matches as mev
from schemas.events.matches import match_id
from schemas.events.vacancies import VacancyPositionsChanged
from tests.browser.live import LiveConsole
from tests.browser.pages import sign_in
from tests.support.gateway import match_event

pytestmark = pytest.mark.kafka


def csp_errors(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text)
            if "Content Security Policy" in m.text else None)
    return found


def test_the_review_queue_shows_a_new_proposal_without_a_reload(
        page: Page, console: LiveConsole) -> None:
    errors = csp_errors(page)
    sign_in(page, console.url, "rec")
    page.goto(f"{console.url}/console/review")
    typing = page.locator(f"#reason-{match_id('w1', 'v1')}")
    typing.fill("typed before the refresh")
    page.evaluate("window.__same_page = true")  # gone if the page reloads
    new = match_id("w1", "v2")
    expect(page.locator(f"#proposal-{new}")).to_have_count(0)
    console.api.fold(match_event(mev.MatchProposed, "w1", "v2", "e2", score=0.9, reasons=[]))
    expect(page.locator(f"#proposal-{new}")).to_have_count(1, timeout=10_000)
    assert page.evaluate("window.__same_page") is True
    expect(typing).to_have_value("typed before the refresh")
    assert errors == []


def test_the_vacancy_list_follows_its_vacancies(page: Page, console: LiveConsole) -> None:
    errors = csp_errors(page)
    sign_in(page, console.url, "emp1")
    page.goto(f"{console.url}/console/vacancies")
    row = page.get_by_role("row").filter(has_text="Harvest hand")
    expect(row).to_contain_text("0 of 2")
    page.evaluate("window.__same_page = true")
    console.api.fold(VacancyPositionsChanged(vacancy_id="v1", positions=2, positions_filled=1))
    expect(row).to_contain_text("1 of 2", timeout=10_000)
    assert page.evaluate("window.__same_page") is True
    assert errors == []
