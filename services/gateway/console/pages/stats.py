"""Statistics (admin): flows per destination and occupation for a year of vacancy
start dates (the stats service's ``flows``), as two charts drawn on the server (SVG
by pygal: the flows, the return rate), each with a table of the same figures beside
it. The charts carry no script: they are shown as images."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import pygal
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from services.gateway.clock import service as clock
from services.gateway.console.codes import country_name, names
from services.gateway.console.deps import AdminUser, page_router
from services.gateway.console.i18n import Formats
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.stats.service import Flow, flows

router = page_router()
Year = Annotated[int | None, Query(ge=2000, le=2200)]
SVG = "image/svg+xml"
#: the counts of a flow, in the order the chart and the table show them
SERIES = (("proposed", N_("Proposed")), ("approved", N_("Approved")),
          ("departed", N_("Departed")), ("returned", N_("Returned")),
          ("overdue", N_("Overdue")))
#: pygal writes its settings into the SVG as a script even with ``js=[]``: left out
SCRIPT = re.compile(rb"<script\b[^>]*?(?:/>|>.*?</script>)", re.DOTALL)


def _year(db_session: Session, year: int | None) -> int:
    return year or clock.today(db_session=db_session).year


def _svg(chart: pygal.graph.graph.Graph) -> Response:
    return Response(SCRIPT.sub(b"", chart.render()), media_type=SVG)


def _chart(kind: Callable[..., pygal.graph.graph.Graph], language: str,
           _: Callable[[str], str], title: str,
           found: list[Flow]) -> pygal.graph.graph.Graph:
    chart = kind(title=title, js=[], legend_at_bottom=True, x_label_rotation=20,
                 no_data_text=_("No flows in this year"), width=800, height=420)
    chart.x_labels = [f"{country_name(language, f.destination_country)} · {f.isco_code}"
                      for f in found]
    return chart


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request, user: AdminUser, db_session: SessionDep,
               year: Year = None) -> HTMLResponse:
    year = _year(db_session, year)
    found = flows(db_session=db_session, year=year)
    return page(request, "stats/index.html", year=year, flows=found, series=SERIES,
                **names(request))


@router.get("/stats/flows.svg")
def flows_svg(request: Request, user: AdminUser, db_session: SessionDep,
              year: Year = None) -> Response:
    year = _year(db_session, year)
    found = flows(db_session=db_session, year=year)
    language = request.state.language
    _ = request.app.state.renderer.translations[language].gettext
    chart = _chart(pygal.Bar, language, _, _("Flows in %(year)s") % {"year": year}, found)
    top = max((getattr(f, key) for f in found for key, _label in SERIES), default=0)
    step = max(1, -(-top // 10))
    chart.y_labels = list(range(0, top + step, step))  # whole people only
    chart.value_formatter = Formats(language).number
    for key, label in SERIES:
        chart.add(_(label), [getattr(f, key) for f in found])
    return _svg(chart)


@router.get("/stats/return-rate.svg")
def return_rate_svg(request: Request, user: AdminUser, db_session: SessionDep,
                    year: Year = None) -> Response:
    year = _year(db_session, year)
    found = flows(db_session=db_session, year=year)
    language = request.state.language
    _ = request.app.state.renderer.translations[language].gettext
    chart = _chart(pygal.Bar, language, _, _("Return rate in %(year)s") % {"year": year}, found)
    chart.range = (0, 1)
    chart.value_formatter = Formats(language).percent
    chart.add(_("Return rate"), [f.return_rate for f in found])
    return _svg(chart)
