"""The review queue's list as HTML: a section per vacancy (its facts and the quota
left) with a table of its proposals, one ``<tr>`` per proposal with its score, its
reasons in words, its status and the form to decide it.

The one piece of console markup written in Python rather than in a template: a queue
shows up to 200 proposals of up to as many vacancies, and Jinja2 spent about 47 µs
on one row and 50 µs on one vacancy's heading against 8 µs and 10 µs for the same
markup filled here (the console/API ratio in docs/performance.md). Every value goes
through :func:`fill`, which escapes it; the words come from the page's own catalog;
what is the same on every section and row of a page (the words, the CSRF token) is
filled once per page (:func:`prefill`). The page around the list stays in
``templates/review/``.

One form per row keeps the markup short: its default button (Enter in the reason)
rejects; the Approve button posts to its own action (``formaction``, which htmx
follows too) without the reason's check (``formnovalidate``). htmx's target and swap
come from the table body."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from markupsafe import Markup, escape

from schemas.events.matches import MatchStatus
from services.gateway.agreements.models import QuotaRead
from services.gateway.console import labels
from services.gateway.console.codes import country_name, occupation_name
from services.gateway.console.i18n import Formats
from services.gateway.console.nav import N_
from services.gateway.matches.models import MatchRead
from services.gateway.vacancies.models import Vacancy

Said = tuple[str, dict[str, str]]  # a msgid and its figures


@dataclass
class Row:
    """A proposal as its row shows it, with what just happened to it."""

    match: MatchRead
    message: Said | None = None  # a refusal, shown as an alert
    done: Said | None = None  # what was just sent
    errors: dict[str, Any] = field(default_factory=dict)  # the form's, by field
    reason: str = ""  # the reason typed, shown again


def fill(template: str, **values: Any) -> Markup:
    """``template`` (``str.format`` fields) with every value escaped, except what is
    markup already (escaped once, or written here)."""
    return Markup(template.format_map(  # noqa: S704 (every value escaped)
        {k: v if isinstance(v, Markup) else escape(v) for k, v in values.items()}))


class _Later(dict[str, str]):
    """The fields not given stay fields, for a later :func:`fill`."""

    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def prefill(template: str, **values: Any) -> str:
    """``template`` with these values escaped and filled in, its other fields left for
    :func:`fill`: what is the same on every row of a page is filled once."""
    return template.format_map(_Later({
        k: str(v if isinstance(v, Markup) else escape(v)).replace("{", "{{").replace("}", "}}")
        for k, v in values.items()}))


ROW = ('<tr id="proposal-{id}">\n<td>{who}</td>\n<td class="num">{score}</td>\n'
       '<td><ul class="reasons">{reasons}</ul></td>\n'
       '<td><span class="status status-{shown}">{status}</span></td>\n'
       '<td>\n{notes}{form}</td>\n</tr>\n')
REASON = "<li>{said}</li>"
REFUSAL = '<p class="refusal"{alert}>{said}</p>\n'
DONE = '<p class="flash" role="status">{said}</p>\n'
FORM = ('<form method="post" action="/console/review/{id}/reject" '
        'hx-post="/console/review/{id}/reject" class="actions">\n'
        '<input type="hidden" name="csrf_token" value="{csrf}">\n'
        '<div class="field{invalid}">\n<label for="reason-{id}">{label}</label>\n'
        '<input id="reason-{id}" name="reason" value="{reason}" maxlength="200" required'
        '{state}>\n{error}</div>\n'
        '<button type="submit" class="danger">{reject}'
        '<span class="visually-hidden"> {who}</span></button>\n'
        '<button type="submit" formaction="/console/review/{id}/approve" formnovalidate>'
        '{approve}<span class="visually-hidden"> {who}</span></button>\n</form>\n')
NOTHING, ALERT = Markup(), Markup(' role="alert"')
INVALID = ' aria-invalid="true" aria-describedby="reason-{id}-error"'
ERROR = '<span class="error" id="reason-{id}-error">{said}</span>'
PRESERVED = Markup(' hx-preserve="true"')  # a refresh of the list keeps what is typed

SECTION = ('<section class="card" aria-labelledby="vacancy-{id}">\n'
           '<h2 id="vacancy-{id}">{title}</h2>\n<dl class="facts">\n'
           '<dt>{employer_word}</dt><dd>{employer}</dd>\n'
           '<dt>{destination_word}</dt><dd>{destination}</dd>\n'
           '<dt>{occupation_word}</dt><dd>{occupation}</dd>\n'
           '<dt>{start_word}</dt><dd>{start}</dd>\n'
           '<dt>{filled_word}</dt><dd>{filled}</dd>\n'
           '<dt>{quota_word}</dt><dd>{quota}</dd>\n</dl>\n<table>\n'
           '<caption class="visually-hidden">{caption}</caption>\n<thead>\n<tr>\n'
           '<th scope="col">{candidate_word}</th>\n'
           '<th scope="col" class="num">{score_word}</th>\n'
           '<th scope="col">{why_word}</th>\n<th scope="col">{status_word}</th>\n'
           '<th scope="col">{decision_word}</th>\n</tr>\n</thead>\n'
           '<tbody hx-target="closest tr" hx-swap="outerHTML">\n{rows}</tbody>\n'
           '</table>\n</section>\n')
#: the words of every section's facts and table head
SECTION_WORDS = {
    "employer_word": N_("Employer"), "destination_word": N_("Destination"),
    "occupation_word": N_("Occupation"), "start_word": N_("Start date"),
    "filled_word": N_("Positions filled"), "quota_word": N_("Quota remaining"),
    "candidate_word": N_("Candidate"), "score_word": N_("Score"), "why_word": N_("Why"),
    "status_word": N_("Status"), "decision_word": N_("Decision")}
FILLED = N_("%(filled)s of %(positions)s")
LEFT = N_("%(remaining)s of %(annual)s places left in %(year)s")
NOT_KNOWN = N_("Not known")
CAPTION = N_("Proposals for %(title)s, best first")

APPROVE, REJECT = N_("Approve"), N_("Reject")
REASON_LABEL, REQUIRED = N_("Reason for rejecting"), N_("required")


@dataclass
class Group:
    """An open vacancy with its proposals, as its section shows it."""

    vacancy: Vacancy
    title: str
    quota: QuotaRead | None  # its occupation's, under its agreement, in its start year
    rows: list[Row]


class ReviewList:
    """The list in one request's language; each reason said once per page (a queue's
    proposals share most of their reasons)."""

    def __init__(self, request: Request, *, partial: bool = False) -> None:
        state = request.state
        self.gettext: Callable[[str], str] = (
            request.app.state.renderer.translations[state.language].gettext)
        self.formats = Formats(state.language)
        self.partial = partial  # the row alone (htmx): a refusal is announced
        self.reasons: dict[tuple[str, str], Markup] = {}
        self.statuses: dict[str, Markup] = {}
        self.form_of = functools.partial(  # the form's words and token, filled once
            prefill, FORM, csrf=state.csrf_token, approve=self.gettext(APPROVE),
            reject=self.gettext(REJECT),
            label=f"{self.gettext(REASON_LABEL)} ({self.gettext(REQUIRED)})")
        self.plain_form = self.form_of(invalid=NOTHING, state=PRESERVED, error=NOTHING,
                                       reason="")  # as most rows show it: nothing typed
        self.section = prefill(SECTION, **{k: self.gettext(v) for k, v in SECTION_WORDS.items()})
        self.language = state.language

    def __call__(self, groups: list[Group]) -> Markup:
        return NOTHING.join([self.group(g) for g in groups])

    def group(self, g: Group) -> Markup:
        v, number = g.vacancy, self.formats.number
        quota: Said = NOT_KNOWN, {}
        if g.quota is not None:
            quota = LEFT, {"remaining": number(g.quota.remaining),
                           "annual": number(g.quota.annual_quota),
                           "year": str(v.start_date.year)}
        return fill(self.section, id=v.id, title=g.title, employer=v.employer_id,
                    destination=country_name(self.language, v.destination_country),
                    occupation=occupation_name(v.isco_code), start=self.formats.date(v.start_date),
                    filled=self.say((FILLED, {"filled": number(v.positions_filled),
                                              "positions": number(v.positions)})),
                    quota=self.say(quota), caption=self.say((CAPTION, {"title": g.title})),
                    rows=NOTHING.join([self.row(row) for row in g.rows]))

    def say(self, said: Said) -> str:
        """A message in the page's language, its figures filled in (escaped by fill)."""
        msgid, figures = said
        return self.gettext(msgid) % figures if figures else self.gettext(msgid)

    def reason(self, code: str, text: str) -> Markup:
        found = self.reasons.get((code, text))
        if found is None:
            found = self.reasons[code, text] = fill(
                REASON, said=self.say(labels.reason(code, text)))
        return found

    def status(self, shown: str) -> Markup:
        found = self.statuses.get(shown)
        if found is None:
            found = self.statuses[shown] = escape(
                self.gettext(labels.label("match_status", shown)))
        return found

    def row(self, row: Row) -> Markup:
        m = row.match
        shown = "pending" if m.pending else str(m.status)
        notes = NOTHING
        if row.message:
            notes += fill(REFUSAL, said=self.say(row.message),
                          alert=ALERT if self.partial else NOTHING)
        if row.done:
            notes += fill(DONE, said=self.say(row.done))
        ids = {"id": escape(m.match_id), "who": escape(m.worker_id)}  # each used often
        return fill(ROW, **ids, score=self.formats.percent(m.score),
                    reasons=NOTHING.join([self.reason(r.code, r.text) for r in m.reasons]),
                    shown=shown, status=self.status(shown), notes=notes,
                    form=self.form(row, ids) if shown == MatchStatus.PROPOSED else NOTHING)

    def form(self, row: Row, ids: dict[str, Markup]) -> Markup:
        error = row.errors.get("reason")
        if error is None and not row.reason:
            return fill(self.plain_form, **ids)
        if error is None:
            return fill(self.form_of(invalid=NOTHING, state=PRESERVED, error=NOTHING,
                                     reason=row.reason), **ids)
        return fill(self.form_of(invalid=" invalid", state=fill(INVALID, id=ids["id"]),
                                 error=fill(ERROR, id=ids["id"], said=self.say(error)),
                                 reason=row.reason), **ids)
