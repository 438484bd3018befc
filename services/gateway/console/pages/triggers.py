"""Follow-up (reintegration triggers): the triggers the tracker fired, earliest due
first, open ones by default, filtered by kind and status with a small GET form; the
ones due before today are marked overdue. Staff see them
(``triggers.service.listing``); recruiters complete them with an outcome
(``triggers.service.complete``, recruiters only, as ``POST
/reintegration/triggers/{id}/complete``).

With htmx the complete form posts in the background and the server answers with the
trigger's row alone (``HX-Request``, always 200 so htmx swaps it, the refusal or the
field error inside). Without JavaScript success redirects back to the list, a
refusal or a field error shows the whole list again (409 or 422)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from schemas.events.triggers import Outcome, TriggerKind
from services.gateway.auth.models import Role
from services.gateway.auth.security import Principal
from services.gateway.clock import service as clock
from services.gateway.console import forms
from services.gateway.console.deps import RecruiterUser, StaffUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import Conflict, FieldError, NotFound, Unprocessable
from services.gateway.pagination import PageDep, PathId
from services.gateway.triggers import service as triggers
from services.gateway.triggers.models import Trigger, TriggerComplete, TriggerStatus

router = page_router()
PAGE = "/console/triggers"
ROUTE = "/triggers"  # under the console's mount
COMPLETED_OTHERWISE = N_("This follow-up was completed already with another outcome.")
Filter = Annotated[str | None, Query(max_length=40)]
E = TypeVar("E", TriggerKind, TriggerStatus)


@dataclass
class Row:
    trigger: dict[str, Any]
    overdue: bool
    errors: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # a refusal, shown as an alert
    done: str | None = None  # what was just sent
    values: dict[str, str] = field(default_factory=dict)


def _choice(enum: type[E], name: str, value: str | None) -> E | None:
    """A filter's value ("" or none: any), 422 for a value that is not one of the
    options (as the API's enum query parameters answer)."""
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        raise Unprocessable(f"{name} is not one of the options", [FieldError(
            field=f"query.{name}", message="not one of the options", type="enum")]) from None


def row_of(trigger: Trigger, today: date, **extra: Any) -> Row:
    read = triggers.read(trigger).model_dump(mode="json")
    return Row(trigger=read, overdue=_overdue(read, today), **extra)


def _overdue(read: dict[str, Any], today: date) -> bool:
    return read["status"] == TriggerStatus.OPEN and date.fromisoformat(read["due_date"]) < today


def _options(request: Request) -> dict[str, Any]:
    return {"kinds": [k.value for k in TriggerKind], "statuses": [s.value for s in TriggerStatus],
            "outcomes": [o.value for o in Outcome],
            "can_complete": request.state.user.role == Role.RECRUITER}


@router.get(ROUTE, response_class=HTMLResponse)
def trigger_list(request: Request, user: StaffUser, db_session: SessionDep, paging: PageDep,
                 kind: Filter = None, status: Filter = TriggerStatus.OPEN.value
                 ) -> HTMLResponse:
    """Open triggers unless the form asks for another status ("": any status)."""
    chosen_kind = _choice(TriggerKind, "kind", kind)
    chosen_status = _choice(TriggerStatus, "status", status)
    return _list(request, db_session, user, chosen_kind, chosen_status, paging.limit,
                 paging.offset)


def _list(request: Request, db_session: Session, user: Principal, kind: TriggerKind | None,
          status: TriggerStatus | None, limit: int, offset: int, status_code: int = 200,
          marked: Row | None = None) -> HTMLResponse:
    items, total = triggers.listing(db_session=db_session, user=user, worker_id=None,
                                    kind=kind, status=status, limit=limit, offset=offset)
    today = clock.today(db_session=db_session)
    rows = []
    for item in items:
        read = item.model_dump(mode="json")
        if marked is not None and marked.trigger["trigger_id"] == read["trigger_id"]:
            rows.append(marked)
        else:
            rows.append(Row(trigger=read, overdue=_overdue(read, today)))
    if marked is not None and all(r is not marked for r in rows):
        rows.insert(0, marked)  # completed just now: shown although the filter says open
    query = urlencode({"kind": kind.value if kind else "",
                       "status": status.value if status else ""})
    return page(request, "triggers/list.html", status_code=status_code, rows=rows,
                kind=kind.value if kind else "", status=status.value if status else "",
                paging={"total": total, "limit": limit, "offset": offset},
                base=f"{PAGE}?{query}&", partial=False, **_options(request))


def _answer(request: Request, db_session: Session, user: Principal, row: Row,
            status_code: int) -> HTMLResponse:
    """The row alone for htmx (200, so it is swapped in), else the whole list of open
    triggers with the row marked."""
    if request.headers.get("hx-request"):
        return page(request, "triggers/_row.html", row=row, partial=True,
                    **_options(request))
    return _list(request, db_session, user, None, TriggerStatus.OPEN, 50, 0,
                 status_code=status_code, marked=row)


def _trigger(db_session: Session, trigger_id: str) -> Trigger:
    found = db_session.get(Trigger, trigger_id)
    if found is None:
        raise NotFound(f"No trigger {trigger_id}")
    return found


@router.post(f"{ROUTE}/{{trigger_id}}/complete", response_class=HTMLResponse)
def complete(request: Request, trigger_id: PathId, user: RecruiterUser, form: Form,
             db_session: SessionDep) -> HTMLResponse:
    values = {k: str(form.get(k) or "") for k in ("outcome", "note")}
    today = clock.today(db_session=db_session)
    try:
        body = TriggerComplete.model_validate(forms.nest(form))
    except ValidationError as exc:
        row = row_of(_trigger(db_session, trigger_id), today, errors=forms.errors_of(exc),
                     values=values)
        return _answer(request, db_session, user, row, 422)
    try:
        done = triggers.complete(db_session=db_session, trigger_id=trigger_id, body=body,
                                 user=user)
    except Conflict:
        db_session.rollback()
        row = row_of(_trigger(db_session, trigger_id), today, message=COMPLETED_OTHERWISE)
        return _answer(request, db_session, user, row, 409)
    message = N_("Follow-up completed.")
    if not request.headers.get("hx-request"):
        flash(request, message)
        return RedirectResponse(PAGE, status_code=303)  # type: ignore[return-value]
    return _answer(request, db_session, user, row_of(done, today, done=message), 200)
