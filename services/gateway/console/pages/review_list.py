"""The review queue's rows as HTML: one ``<tr>`` per proposal, with its score, its
reasons in words, its status and the form to decide it.

The one piece of console markup written in Python rather than in a template: a queue
shows up to 200 rows, and Jinja2 spends about 47 µs on one such row against 8 µs for
the same markup filled here (the console/API ratio in docs/performance.md). Every
value goes through :func:`fill`, which escapes it; the words come from the page's own
catalog. The rest of the page (each vacancy's facts, the layout) stays in
``templates/review/``.

One form per row keeps the markup short: its default button (Enter in the reason)
rejects; the Approve button posts to its own action (``formaction``, which htmx
follows too) without the reason's check (``formnovalidate``). htmx's target and swap
come from the table body in ``_queue.html``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from markupsafe import Markup, escape

from schemas.events.matches import MatchStatus
from services.gateway.console import labels
from services.gateway.console.i18n import Formats
from services.gateway.console.nav import N_
from services.gateway.matches.models import MatchRead

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

APPROVE, REJECT = N_("Approve"), N_("Reject")
REASON_LABEL, REQUIRED = N_("Reason for rejecting"), N_("required")


class RowWriter:
    """Rows in one request's language; each reason said once per page (a queue's
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

    def all(self, rows: list[Row]) -> Markup:
        """The rows of one table, in one call from its template."""
        return NOTHING.join([self(row) for row in rows])

    def __call__(self, row: Row) -> Markup:
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
