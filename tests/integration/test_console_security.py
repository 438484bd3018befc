"""The console's session and form protections: the cookie's flags, CSRF on every
state-changing form (a cross-site post is refused and changes nothing), sign-out,
session expiry, sign-in attempts limited per account and per address, security
headers, and the API's role checks behind every page."""

from __future__ import annotations

import time

import itsdangerous.timed
import pytest
from fastapi.testclient import TestClient

from services.gateway.console.nav import SECTIONS
from tests.support.console import browser
from tests.support.gateway import ADMIN, Api

pytestmark = pytest.mark.kafka


def test_session_cookie_is_http_only_and_same_site(api: Api) -> None:
    client = TestClient(api.client.app)
    client.get("/console/sign-in")
    token = client.cookies.get("circular_console")
    assert token
    r = client.get("/console/sign-in")
    csrf = r.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/console/sign-in", data={"username": ADMIN[0], "password": ADMIN[1],
                                              "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # not behind TLS in this deployment (a setting)


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    admin = browser(api, "admin")
    r = admin.client.post("/console/language", data={"language": "ru", "next": "/console/"})
    assert r.status_code == 403
    assert '<html lang="ru"' not in admin.get("/console/").text
    r = admin.client.post("/console/language", data={"language": "ru", "csrf_token": "forged"})
    assert r.status_code == 403


def test_a_cross_site_post_is_refused_even_with_a_token(api: Api) -> None:
    admin = browser(api, "admin")
    admin.get("/console/")
    r = admin.client.post("/console/language",
                          data={"language": "ru", "csrf_token": admin.csrf},
                          headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert '<html lang="en"' in admin.get("/console/").text


def test_sign_out_ends_the_session(api: Api) -> None:
    admin = browser(api, "admin")
    assert admin.get("/console/").status_code == 200
    r = admin.post("/console/sign-out", {})
    assert "You are signed out" in r.text
    r = admin.get("/console/agreements", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_an_expired_session_signs_the_user_out(api: Api, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    """A session older than CIRCULAR_CONSOLE_SESSION_MINUTES (default 8 hours) is not
    accepted: the signed cookie carries when it was made."""
    long_ago = time.time() - 9 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: long_ago)
    admin = browser(api, "admin")
    monkeypatch.undo()
    r = admin.get("/console/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/sign-in")


def test_sign_in_attempts_are_limited_per_account(api: Api) -> None:
    b = browser(api)
    for _ in range(5):
        r = b.post("/console/sign-in", {"username": "rec", "password": "not the password"})
        assert r.status_code == 401 and "Wrong username or password" in r.text
    r = b.post("/console/sign-in", {"username": "rec", "password": "not the password"})
    assert r.status_code == 429 and "Too many failed attempts" in r.text
    # the right password does not get past the limit either, from anywhere
    other = browser(api)
    r = other.post("/console/sign-in", {"username": "rec",
                                        "password": "a-long-enough-password"})
    assert r.status_code == 429
    # another account is not affected
    assert browser(api, "admin").get("/console/").status_code == 200


def test_sign_in_attempts_are_limited_per_address(api: Api) -> None:
    b = browser(api)
    for n in range(30):
        b.post("/console/sign-in", {"username": f"nobody{n}", "password": "x" * 12})
    r = b.post("/console/sign-in", {"username": ADMIN[0], "password": ADMIN[1]})
    assert r.status_code == 429


def test_pages_carry_security_headers(api: Api) -> None:
    r = browser(api).get("/console/sign-in")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text and " style=" not in r.text


def test_no_page_is_served_without_signing_in(api: Api) -> None:
    b = browser(api)
    for section in SECTIONS:
        r = b.get(section.path, follow_redirects=False)
        assert r.status_code == 303, section.path
        assert r.headers["location"].startswith("/console/sign-in"), section.path


def test_each_role_sees_only_its_menu_and_gets_403_on_the_others(api: Api, world: dict
                                                                  ) -> None:
    who = {"admin": "admin", "recruiter": "rec", "employer": "emp1", "worker": "wk1"}
    for role, username in who.items():
        b = browser(api, username)
        home = b.get("/console/").text
        for section in SECTIONS:
            if role in section.roles:
                assert f'href="{section.path}"' in home, (role, section.path)
            else:
                assert f'href="{section.path}"' not in home, (role, section.path)
                r = b.get(section.path)
                assert r.status_code == 403, (role, section.path, r.status_code)
                assert "You may not see this page" in r.text


def test_unknown_console_page_is_404_page(api: Api) -> None:
    r = browser(api, "admin").get("/console/no-such-page")
    assert r.status_code == 404 and "does not exist" in r.text
    # in the browser's language, like every other page
    r = browser(api, language="ru").get("/console/no-such-page")
    assert r.status_code == 404 and '<html lang="ru">' in r.text


def test_the_api_token_counts_with_the_console_and_is_limited_too(api: Api) -> None:
    """Failed sign-ins on the console and on POST /auth/token count together: past the
    limit the API answers 429 with the error body, even to the right password."""
    b = browser(api)
    for _ in range(3):
        b.post("/console/sign-in", {"username": "rec", "password": "not the password"})
    for _ in range(2):
        r = api.client.post("/api/v1/auth/token",
                            data={"username": "rec", "password": "not the password"})
        assert r.status_code == 401
    r = api.client.post("/api/v1/auth/token",
                        data={"username": "rec", "password": "a-long-enough-password"})
    assert r.status_code == 429 and r.json()["code"] == "too_many_requests"
    r = api.client.post("/api/v1/auth/token", data={"username": ADMIN[0],
                                                    "password": ADMIN[1]})
    assert r.status_code == 200
