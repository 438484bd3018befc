"""The console in-process: one browser-like client per person (its own cookies),
signed in through the sign-in form, sending the page's CSRF token with every form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.support.gateway import ADMIN, PASSWORD, Api

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    client: TestClient
    csrf: str = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        r = self.client.get(path, **kwargs)
        if found := CSRF.search(r.text):
            self.csrf = found.group(1)
        return r

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]] | None = None,
             **kwargs: Any) -> Any:
        """A form post with the session's CSRF token (read from the last page)."""
        if not self.csrf:
            self.get("/console/sign-in")
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        kwargs.setdefault("follow_redirects", True)
        form: dict[str, list[str]] = {}  # httpx takes repeated fields as lists
        for key, value in [*fields, ("csrf_token", self.csrf)]:
            form.setdefault(key, []).append(value)
        r = self.client.post(path, data=form, **kwargs)
        if found := CSRF.search(r.text):
            self.csrf = found.group(1)
        return r


def browser(api: Api, who: str | None = None, language: str = "en") -> Browser:
    """A new client on the ``api`` fixture's app, signed in as ``who`` (None: nobody)."""
    client = TestClient(api.client.app, headers={"accept-language": language})
    b = Browser(client)
    b.get("/console/sign-in")
    if who is not None:
        password = ADMIN[1] if who == ADMIN[0] else PASSWORD
        r = b.post("/console/sign-in", {"username": who, "password": password,
                                        "next": "/console/"})
        assert (r.status_code == 200 and "Sign out" in r.text) or language != "en", r.text[:500]
    return b
