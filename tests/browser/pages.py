"""What the browser tests do as a person would: sign in by the form's labels, switch
the language with the switcher, and check a page with axe-core."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.support.gateway import ADMIN, PASSWORD

#: the switcher's label and button in each language (what a person reads)
SIGN_IN = {"en": ("Username", "Password", "Sign in"),
           "hy": ("Օգտանուն", "Գաղտնաբառ", "Մուտք գործել"),
           "ru": ("Имя пользователя", "Пароль", "Войти")}
SERIOUS = {"serious", "critical"}
_axe = Axe()


def sign_in(page: Page, base: str, who: str, language: str = "en") -> None:
    page.goto(f"{base}/console/sign-in")
    user_label, password_label, button = SIGN_IN[language]
    page.get_by_label(user_label).fill(who)
    page.get_by_label(password_label, exact=True).fill(ADMIN[1] if who == ADMIN[0] else PASSWORD)
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = _axe.run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] for n in v["nodes"][:3])
            for v in results.response["violations"] if v.get("impact") in SERIOUS]
