"""Departures (recruiter's follow-up): the accepted matches that have not departed
yet, each with a form to record its departure (``placements.service.record_departure``,
as ``POST /departures``: staff only, a date after the gateway's today refused), and
below them the placements abroad or overdue with their expected return date.

A match "has departed" when the placements service lists a placement for it (the
gateway writes a pending placement when the departure is recorded; the tracker then
starts it). A refused departure (the date after today, a match no longer accepted) is
shown at the match's row, the whole page answered with 422 or 409."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from schemas.events.matches import MatchStatus
from services.gateway.auth.security import Principal
from services.gateway.console import forms
from services.gateway.console.codes import names
from services.gateway.console.deps import StaffUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import Conflict, Unprocessable
from services.gateway.matches import service as matches
from services.gateway.pagination import PathId
from services.gateway.placements import service as placements
from services.gateway.placements.models import DepartureCreate

router = page_router()
PAGE = "/console/departures"
ROUTE = "/departures"  # under the console's mount
#: the most rows of each list shown at once (the API's largest page)
SHOWN = 200
#: the placements that are away: listed below the departures to record
AWAY = ("abroad", "overdue")
NOT_ACCEPTED = N_("This match is no longer accepted; its departure cannot be recorded.")
DEPARTED = N_("This match's departure was recorded already.")


@dataclass
class Row:
    """An accepted match waiting for its departure, with what was typed into its form
    and the problems found in it."""

    match: dict[str, Any]
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


def _departed(db_session: Session, user: Principal, worker_id: str) -> set[str]:
    """The matches of a worker that have a placement (departed)."""
    found, _ = placements.list_placements(db_session=db_session, user=user, status=None,
                                          worker_id=worker_id, limit=SHOWN, offset=0)
    return {p.match_id for p in found}


def waiting(db_session: Session, user: Principal, marked: Row | None = None) -> list[Row]:
    accepted, _ = matches.listing(db_session=db_session, user=user,
                                  status=MatchStatus.ACCEPTED, vacancy_id=None,
                                  worker_id=None, limit=SHOWN, offset=0, path=PAGE)
    departed: dict[str, set[str]] = {}
    rows = []
    for m in accepted:
        if m.worker_id not in departed:
            departed[m.worker_id] = _departed(db_session, user, m.worker_id)
        if m.match_id in departed[m.worker_id]:
            continue
        if marked is not None and marked.match["match_id"] == m.match_id:
            rows.append(marked)
        else:
            rows.append(Row(match=m.model_dump(mode="json")))
    return rows


def away(db_session: Session, user: Principal) -> list[dict[str, Any]]:
    out = []
    for status in AWAY:
        found, _ = placements.list_placements(db_session=db_session, user=user,
                                              status=status, worker_id=None, limit=SHOWN,
                                              offset=0)
        out += [p.model_dump(mode="json") for p in found]
    return sorted(out, key=lambda p: (p["expected_return_date"] or "", p["placement_id"]))


def _page(request: Request, db_session: Session, user: Principal, status_code: int = 200,
          marked: Row | None = None) -> HTMLResponse:
    return page(request, "departures/list.html", status_code=status_code,
                rows=waiting(db_session, user, marked), placements=away(db_session, user),
                alert=None, **names(request))


@router.get(ROUTE, response_class=HTMLResponse)
def departures(request: Request, user: StaffUser, db_session: SessionDep) -> HTMLResponse:
    return _page(request, db_session, user)


@router.post(f"{ROUTE}/{{match_id}}", response_class=HTMLResponse)
def record(request: Request, match_id: PathId, user: StaffUser, form: Form,
           db_session: SessionDep) -> HTMLResponse:
    values = {k: str(form.get(k) or "") for k in ("departure_date", "border_crossing_point")}
    try:
        body = DepartureCreate.model_validate({**forms.nest(form), "match_id": match_id})
        placements.record_departure(db_session=db_session, body=body, user=user)
    except (ValidationError, Unprocessable) as exc:
        db_session.rollback()
        return _again(request, db_session, user, match_id, values, 422,
                      errors=forms.errors_of(exc))
    except Conflict as exc:
        db_session.rollback()
        message = DEPARTED if "departed already" in exc.message else NOT_ACCEPTED
        return _again(request, db_session, user, match_id, values, 409, message=message)
    flash(request, N_("Departure recorded. The placement starts when the tracker "
                      "confirms it."))
    return RedirectResponse(PAGE, status_code=303)  # type: ignore[return-value]


def _again(request: Request, db_session: Session, user: Principal, match_id: str,
           values: dict[str, str], status_code: int, errors: dict[str, Any] | None = None,
           message: str | None = None) -> HTMLResponse:
    """The page again with the match's form as it was sent and what is wrong with it;
    a match that is not listed any more gets the message at the top."""
    current = matches.get(db_session=db_session, match_id=match_id)
    read = matches.read(db_session=db_session, row=current, user=user, path=PAGE)
    row = Row(match=read.model_dump(mode="json"), values=values, errors=errors or {},
              message=message)
    rows = waiting(db_session, user, marked=row)
    alert = message if all(r is not row for r in rows) else None
    return page(request, "departures/list.html", status_code=status_code, rows=rows,
                placements=away(db_session, user), alert=alert, **names(request))
