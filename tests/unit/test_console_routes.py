"""The console's page routes sit flat in its route list (``console/app.py``), so each
must carry the console's own dependency (CSRF check, signed-in user, language): a
router of pages made without it is refused at start, not served unchecked."""

import pytest
from fastapi import APIRouter

from services.gateway.console.app import checked_pages
from services.gateway.console.deps import page_router
from services.gateway.console.pages import ROUTERS
from services.gateway.routing import GatewayRoute


def test_every_page_router_of_the_console_runs_the_console_dependency():
    for router in ROUTERS:
        assert checked_pages(router) == router.routes


def test_a_page_router_made_without_it_is_refused():
    plain = APIRouter(route_class=GatewayRoute, include_in_schema=False)

    @plain.post("/forgotten")
    def forgotten() -> None: ...

    with pytest.raises(RuntimeError, match="/forgotten does not run console_request"):
        checked_pages(plain)


def test_a_router_made_with_page_router_passes():
    pages = page_router()

    @pages.post("/remembered")
    def remembered() -> None: ...

    assert [r.path for r in checked_pages(pages)] == ["/remembered"]
