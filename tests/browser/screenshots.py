"""``make screenshots``: every console page of every role in every language, as PNG
files under ``var/screenshots/`` for a reviewer (``<language>-<role>-<page>.png``).
The console runs in-process on a fresh database with the tests' small world; the
broker address is only used by the readiness check, so none needs to run."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from eventbus.settings import ROOT
from services.gateway.console.nav import SECTIONS
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.live import live_console, seeded
from tests.browser.pages import sign_in

WHO = {"admin": "admin", "recruiter": "rec", "employer": "emp1", "worker": "wk1"}
LANGUAGES = ("hy", "en", "ru")


def main() -> None:
    if CHROMIUM is None:
        sys.exit("Chromium is not installed (apt-get install chromium)")
    out = Path(ROOT) / "var" / "screenshots"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as var, live_console(Path(var), "127.0.0.1:1") as live, \
            sync_playwright() as p:
        seeded(live)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for language in LANGUAGES:
            page = browser.new_page(viewport={"width": 1280, "height": 900},
                                    extra_http_headers={"Accept-Language": language})
            page.goto(f"{live.url}/console/sign-in")
            page.screenshot(path=out / f"{language}-sign-in.png", full_page=True)
            page.close()
            for role, username in WHO.items():
                page = browser.new_page(viewport={"width": 1280, "height": 900},
                                        extra_http_headers={"Accept-Language": language})
                sign_in(page, live.url, username, language)
                for key, path in [("home", "/console/")] + [
                        (s.key, s.path) for s in SECTIONS if role in s.roles]:
                    page.goto(f"{live.url}{path}")
                    page.screenshot(path=out / f"{language}-{role}-{key}.png", full_page=True)
                page.close()
        browser.close()
    shots = sorted(out.glob("*.png"))
    print(f"{len(shots)} screenshots in {out}")


if __name__ == "__main__":
    main()
