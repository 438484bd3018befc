"""The recruiter's review queue: the proposed matches of open vacancies, best score
first, grouped by vacancy with its positions and the quota left for its agreement,
occupation and start year; approve, or reject with a reason. The decisions are the
API's (``matches.service.review``): a refused approval (409: quota or positions used
up, the vacancy no longer open) is shown as a message on the queue, not an error page.

With htmx the approve and reject forms post in the background and the server answers
with the proposal's row alone (``HX-Request``); htmx swaps only 2xx answers, so that
row answers 200 with the refusal or the field error inside it. Without JavaScript the
forms post normally: success redirects back to the queue, a refusal or a field error
shows the whole queue again (409 or 422) with the message at the row.

The queue listens to the change stream (``/console/stream``, htmx's SSE extension)
and fetches its list again when something changed (at most every 2 s), instead of
the recruiter reloading; a reason being typed is kept (``hx-preserve``)."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from schemas.events.matches import Decision, MatchStatus
from services.gateway.agreements import service as agreements
from services.gateway.auth.security import Principal
from services.gateway.console import forms
from services.gateway.console.deps import RecruiterUser, flash, page_router
from services.gateway.console.forms import Form
from services.gateway.console.nav import N_
from services.gateway.console.pages.live import stream_after
from services.gateway.console.pages.review_list import Group, ReviewList, Row
from services.gateway.console.render import page
from services.gateway.deps import SessionDep
from services.gateway.errors import Conflict
from services.gateway.matches import service as matches
from services.gateway.matches.models import RejectBody
from services.gateway.pagination import PathId
from services.gateway.vacancies import service as vacancies
from services.gateway.vacancies.models import VacancyStatus

router = page_router()
QUEUE = "/console/review"
ROUTE = "/review"  # under the console's mount
#: the best proposals shown at once (the API's largest page)
SHOWN = 200

#: the matches service's refusals (409) as messages for people: (pattern, msgid)
REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"The (?P<year>\d{4}) quota for (?P<isco>\d{4}) under (?P<agreement>\S+) "
                r"is used up"),
     N_("Not approved: the %(year)s quota for occupation %(isco)s under agreement "
        "%(agreement)s is used up.")),
    (re.compile(r"positions are used up"),
     N_("Not approved: all positions of this vacancy are taken.")),
    (re.compile(r"vacancy is not open"), N_("Not approved: the vacancy is not open any more.")),
    (re.compile(r"only a proposed match can be reviewed"),
     N_("This proposal was already decided or is waiting for the matcher.")),
]
REFUSED = N_("This cannot be done in the proposal's current state.")


def refusal(exc: Conflict) -> tuple[str, dict[str, str]]:
    """The msgid and figures of a refusal from the matches service."""
    for pattern, message in REFUSALS:
        if found := pattern.search(exc.message):
            return message, found.groupdict()
    return REFUSED, {}


def queue(db_session: Session, user: Principal, path: str,
          marks: dict[str, Row] | None = None) -> list[Group]:
    """Open vacancies with proposed matches, each vacancy's proposals best first (the
    listing's order), vacancies in the order of their best proposal; each with the
    quota left for its agreement, occupation and start year."""
    proposed, _ = matches.listing(db_session=db_session, user=user,
                                  status=MatchStatus.PROPOSED, vacancy_id=None,
                                  worker_id=None, limit=SHOWN, offset=0, path=path)
    groups: dict[str, Group] = {}
    found = vacancies.headings(db_session=db_session,
                               vacancy_ids={m.vacancy_id for m in proposed})
    for m in proposed:
        group = groups.get(m.vacancy_id)
        if group is None:
            vacancy, title = found.get(m.vacancy_id, (None, ""))
            if vacancy is None or vacancy.status is not VacancyStatus.OPEN:
                continue
            group = groups[m.vacancy_id] = Group(vacancy, title, None, [])
        marked = (marks or {}).get(m.match_id)
        group.rows.append(marked if marked is not None else Row(m))
    left = agreements.quotas(db_session=db_session, keys={
        (g.vacancy.agreement_id, g.vacancy.start_date.year) for g in groups.values()
        if g.vacancy.agreement_id})
    for g in groups.values():
        key = (g.vacancy.agreement_id or "", g.vacancy.start_date.year)
        g.quota = next((q for q in left.get(key, []) if q.isco_code == g.vacancy.isco_code),
                       None)
    return list(groups.values())


def answer(request: Request, db_session: Session, user: Principal, row: Row,
           status_code: int) -> HTMLResponse:
    """The row alone for htmx (200, so it is swapped in), else the whole queue."""
    if request.headers.get("hx-request"):
        return HTMLResponse(ReviewList(request, partial=True).row(row))
    groups = queue(db_session, user, QUEUE, marks={row.match.match_id: row})
    return page(request, "review/queue.html", status_code=status_code, groups=groups,
                alert=row.message, review_list=ReviewList(request))


#: the element the queue's list is in: htmx asks for it alone (``HX-Target``) when the
#: change stream says something changed
LIST_ID = "review-list"


@router.get(ROUTE, response_class=HTMLResponse)
def review_queue(request: Request, user: RecruiterUser, db_session: SessionDep) -> HTMLResponse:
    template = ("review/_queue.html" if request.headers.get("hx-target") == LIST_ID
                else "review/queue.html")
    return page(request, template, groups=queue(db_session, user, QUEUE),
                alert=None, review_list=ReviewList(request),
                stream_after=stream_after(db_session))


def _decide(request: Request, db_session: Session, user: Principal, match_id: str,
            decision: Decision, reason: str | None, done: str) -> HTMLResponse:
    try:
        row = matches.review(db_session=db_session, match_id=match_id, user=user,
                             decision=decision, reason=reason)
    except Conflict as exc:
        db_session.rollback()
        current = matches.get(db_session=db_session, match_id=match_id)
        read = matches.read(db_session=db_session, row=current, user=user, path=QUEUE)
        return answer(request, db_session, user,
                      Row(read, message=refusal(exc), reason=reason or ""), 409)
    if not request.headers.get("hx-request"):
        flash(request, done)
        return RedirectResponse(QUEUE, status_code=303)  # type: ignore[return-value]
    read = matches.read(db_session=db_session, row=row, user=user, path=QUEUE)
    return answer(request, db_session, user, Row(read, done=(done, {})), 200)


@router.post(f"{ROUTE}/{{match_id}}/approve", response_class=HTMLResponse)
def approve(request: Request, match_id: PathId, user: RecruiterUser,
            db_session: SessionDep) -> HTMLResponse:
    return _decide(request, db_session, user, match_id, Decision.APPROVE, None,
                   N_("Approval sent. The candidate is offered the place once the matcher "
                      "confirms it."))


@router.post(f"{ROUTE}/{{match_id}}/reject", response_class=HTMLResponse)
def reject(request: Request, match_id: PathId, user: RecruiterUser, form: Form,
           db_session: SessionDep) -> HTMLResponse:
    text = str(form.get("reason") or "")
    try:
        body = RejectBody.model_validate(forms.nest(form))
    except ValidationError as exc:
        current = matches.get(db_session=db_session, match_id=match_id)
        read = matches.read(db_session=db_session, row=current, user=user, path=QUEUE)
        return answer(request, db_session, user,
                      Row(read, errors=forms.errors_of(exc), reason=text), 422)
    return _decide(request, db_session, user, match_id, Decision.REJECT, body.reason,
                   N_("Rejection sent."))

