"""Roster import in the console (SPEC 7.5): recruiters and admins upload a CSV file
that ``workers.roster.import_file`` imports exactly as ``POST
/api/v1/workers/import`` does (each row validated like ``POST /workers``, good rows
registered, bad rows reported); the page shows the summary and the row errors.

The error report (row, field, message: the roster module's messages never quote a
cell, so it holds no personal data) is offered as a CSV download. It is kept on the
server, not in the session cookie (a cookie holds about 4 kB, a report up to 1,000
errors): a JSON file under ``<var_dir>/console-reports/`` named by a random token
that only the importing session holds; the session keeps the token of its latest
import, and reports older than a day are deleted when a new one is written."""

from __future__ import annotations

import csv
import io
import json
import secrets
import time
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from services.gateway.console.deps import StaffUser, page_router
from services.gateway.console.forms import Form
from services.gateway.console.nav import N_
from services.gateway.console.render import page
from services.gateway.deps import SessionDep, SettingsDep
from services.gateway.errors import NotFound, Unprocessable
from services.gateway.settings import GatewaySettings
from services.gateway.workers import roster
from services.gateway.workers.roster import ImportReport, RowError

router = page_router()
ROUTE = "/workers/import"  # under the console's mount; before /workers/{worker_id}
SESSION_KEY = "roster_report"
REPORTS = "console-reports"
KEEP_SECONDS = 24 * 3600
NO_FILE = N_("Choose a CSV file to import.")
REFUSED = N_("The file was not imported. Nothing was written.")
ERROR_COLUMNS = ("row", "field", "message")


def _folder(settings: GatewaySettings) -> Path:
    return Path(settings.var_dir) / REPORTS


def keep(settings: GatewaySettings, errors: list[RowError]) -> str:
    """Write a report's errors; the token that names it."""
    folder = _folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_SECONDS
    for old in folder.glob("*.json"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    path = folder / f"{token}.json"
    path.write_text(json.dumps([e.model_dump() for e in errors]))
    path.chmod(0o600)
    return token


def kept(settings: GatewaySettings, token: object) -> list[RowError] | None:
    if not isinstance(token, str) or not token.replace("-", "").replace("_", "").isalnum():
        return None
    path = _folder(settings) / f"{token}.json"
    if not path.is_file():
        return None
    return [RowError.model_validate(e) for e in json.loads(path.read_text())]


def as_csv(errors: list[RowError]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ERROR_COLUMNS)
    for e in errors:
        writer.writerow(_cell(str(v)) for v in (e.row, e.field, e.message))
    return out.getvalue()


def _cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get(ROUTE, response_class=HTMLResponse)
def import_form(request: Request, user: StaffUser) -> HTMLResponse:
    return page(request, "roster/import.html", report=None, errors={}, problems=[])


@router.post(ROUTE, response_class=HTMLResponse)
def import_roster(request: Request, user: StaffUser, form: Form, db_session: SessionDep,
                  settings: SettingsDep) -> HTMLResponse:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return page(request, "roster/import.html", status_code=422, report=None,
                    errors={"file": (NO_FILE, {})}, problems=[])
    try:
        report: ImportReport = roster.import_file(
            upload.file, db_session=db_session, actor=user,
            passwords=request.app.state.passwords)
    except Unprocessable as exc:
        db_session.rollback()
        return page(request, "roster/import.html", status_code=422, report=None,
                    errors={"file": (REFUSED, {})},
                    problems=[e.message for e in exc.errors] or [exc.message])
    if report.errors:
        request.session[SESSION_KEY] = keep(settings, report.errors)
    else:
        request.session.pop(SESSION_KEY, None)
    return page(request, "roster/import.html", report=report.model_dump(), errors={},
                problems=[])


@router.get(f"{ROUTE}/errors.csv")
def error_report(request: Request, user: StaffUser, settings: SettingsDep) -> Response:
    """The latest import's row errors of this session as CSV (404 when there are none)."""
    errors = kept(settings, request.session.get(SESSION_KEY))
    if errors is None:
        raise NotFound("No error report of an import in this session")
    return Response(as_csv(errors), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": 'attachment; filename="roster-errors.csv"'})
