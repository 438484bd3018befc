"""Roster import (SPEC 7.5): workers from a CSV file, each row validated like
``POST /workers`` and registered through the same service function, one row per
transaction (the worker and its outbox event together, or nothing of it).

The file is read twice, as a stream, never whole: a first pass checks that it is
UTF-8 CSV text with a known header (else nothing is written and the caller gets 422
with field errors), the second imports row by row. Good rows are imported, bad rows
reported with their row number and field errors; importing the same file again
creates nothing (a row whose worker exists with the same data is ``unchanged``).

A row's identity is its ``worker_id``; a row that leaves it empty is identified by
its citizenship and passport number (unique among registered workers), so it too
is found again on a second import. Error messages never carry a cell's value."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from services.gateway.auth.models import Role
from services.gateway.auth.security import Passwords, Principal
from services.gateway.database.core import is_transient
from services.gateway.errors import (
    ApiError,
    Conflict,
    FieldError,
    Forbidden,
    Unprocessable,
)
from services.gateway.workers import service
from services.gateway.workers.models import Worker, WorkerCreate, WorkerStatus

#: every column a roster may have, in the order the sample files use
COLUMNS = ("worker_id", "full_name", "date_of_birth", "passport_number", "citizenship",
           "phone", "email", "region", "occupations", "skills", "languages",
           "preferred_destinations", "available_from", "consent_matching")
#: columns the header must name (the rest may be left out)
REQUIRED_COLUMNS = ("full_name", "date_of_birth", "passport_number", "citizenship",
                    "available_from", "consent_matching")
LIST_SEPARATOR = ";"
PAIR_SEPARATOR = ":"
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})
#: error entries a report lists; more are counted in ``errors_omitted``
MAX_ERRORS = 1000
ATTEMPTS = 3
#: error types whose pydantic message may quote the value (e-mail addresses do)
_QUOTING = {"value_error"}
_ENCODING = "utf-8-sig"  # UTF-8, with or without a byte order mark


class RowError(BaseModel):
    row: int
    field: str
    message: str


class ImportReport(BaseModel):
    """What an import did. ``rejected`` counts the rows not imported (each has one or
    more entries in ``errors``); ``errors_omitted`` the entries left off the list."""

    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = []
    errors_omitted: int = 0


class RowInvalid(Exception):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


# -- parsing a row ---------------------------------------------------------------------

def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]


def _pairs(cell: str, column: str, keys: tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for n, part in enumerate(_split(cell), start=1):
        first, sep, second = part.partition(PAIR_SEPARATOR)
        if not sep or not first.strip() or not second.strip():
            raise RowInvalid([(column, f"item {n} is not written {keys[0]}{PAIR_SEPARATOR}"
                                       f"{keys[1]}")])
        out.append({keys[0]: first.strip(), keys[1]: second.strip()})
    seen = [item[keys[0]] for item in out]
    if len(seen) != len(set(seen)):
        raise RowInvalid([(column, f"each {keys[0]} may be listed once")])
    return out


def _consent(cell: str) -> bool:
    word = cell.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise RowInvalid([("consent_matching", "write yes or no (or true/false, 1/0)")])


def row_data(cells: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The body ``POST /workers`` would get for a row (columns -> fields), and the
    cells that cannot be read (left out of it); empty cells are left out too, so a
    required one is reported missing."""
    data: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    readers: dict[str, Callable[[str], Any]] = {
        "occupations": lambda c: _pairs(c, "occupations", ("isco_code", "experience_years")),
        "languages": lambda c: _pairs(c, "languages", ("language", "level")),
        "skills": _split,
        "preferred_destinations": _split,
        "consent_matching": _consent,
    }
    for column in COLUMNS:
        cell = (cells.get(column) or "").strip()
        if not cell:
            continue
        read = readers.get(column)
        try:
            data[column] = read(cell) if read else cell
        except RowInvalid as exc:
            problems.extend(exc.problems)
    return data, problems


def _message(error: Mapping[str, Any]) -> tuple[str, str]:
    loc = [str(p) for p in error.get("loc", ())]
    column = loc[0] if loc else "row"
    if column in ("username", "password"):  # not a column; cannot happen from a row
        column = "row"
    msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") in _QUOTING and column == "email":
        msg = "not a valid e-mail address"
    if len(loc) > 1 and loc[1].isdigit():
        where = f"item {int(loc[1]) + 1}"
        msg = f"{where} ({'.'.join(loc[2:])}): {msg}" if len(loc) > 2 else f"{where}: {msg}"
    return column, msg


def parse_row(cells: Mapping[str, str]) -> WorkerCreate:
    """A row as the body of ``POST /workers``, validated by the same model. Raises
    :class:`RowInvalid` with (column, message) for every problem; messages never
    quote a cell."""
    data, problems = row_data(cells)
    try:
        worker = WorkerCreate.model_validate(data)
    except ValidationError as exc:
        unread = {column for column, _ in problems}
        problems += [m for m in map(_message, exc.errors()) if m[0] not in unread]
    if problems:
        raise RowInvalid(problems)
    return worker


# -- reading the file ------------------------------------------------------------------

#: the field a refused file's errors name, as FastAPI names the form's field
FILE_FIELD = "body.file"


def _refuse(message: str, field: str = FILE_FIELD) -> Unprocessable:
    return Unprocessable(message, [FieldError(field=field, message=message,
                                              type="value_error")])


def header_of(names: list[str]) -> list[str]:
    """The header row as column names; 422 for an unknown, repeated or missing one
    (a header is never quoted back: the first row of a file without one is data)."""
    columns = [name.strip().lower() for name in names]
    problems = []
    for n, name in enumerate(columns, start=1):
        if name not in COLUMNS:
            problems.append(f"column {n} of the header is not a known column")
        elif name in columns[:n - 1]:
            problems.append(f"column {n} of the header repeats another column")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(f"the header lacks the column {name}")
    if problems:
        raise Unprocessable("The file's header is not a roster's", [
            FieldError(field=FILE_FIELD, message=p, type="value_error") for p in problems])
    return columns


@contextmanager
def _rows(binary: IO[bytes]) -> Iterator[Iterator[list[str]]]:
    """The file's records from the start, decoded as it is read; the binary file stays
    open (the wrapper is detached, not closed)."""
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding=_ENCODING, newline="")
    try:
        yield csv.reader(text, strict=True)
    finally:
        text.detach()


def check_file(binary: IO[bytes]) -> tuple[list[str], int]:
    """First pass: the header's columns and the number of records after it, or 422
    when the file is not UTF-8 CSV text with a roster's header."""
    read = 0  # records read so far, the header included
    try:
        with _rows(binary) as records:
            first = next(records, None)
            if first is None or not any(cell.strip() for cell in first):
                raise _refuse("The file is empty: the first row names the columns")
            read = 1
            if any("\x00" in cell for cell in first):
                raise _refuse("The file is not text (it has NUL characters)")
            columns = header_of(first)
            for cells in records:
                read += 1
                if any("\x00" in cell for cell in cells):
                    raise _refuse(f"Row {read} has NUL characters; the file is not text")
    except UnicodeDecodeError:
        raise _refuse("The file is not UTF-8 text (save it as CSV UTF-8)") from None
    except csv.Error:
        raise _refuse(f"Row {read + 1} is not valid CSV (check its quotes)") from None
    return columns, read - 1


# -- importing -------------------------------------------------------------------------

def _lookup(db_session: Session, worker_in: WorkerCreate) -> WorkerCreate:
    """A row without a worker_id is the worker with its passport, if there is one."""
    if worker_in.worker_id is not None:
        return worker_in
    found = db_session.scalar(select(Worker.id).where(
        Worker.citizenship == worker_in.citizenship,
        Worker.passport_number == worker_in.passport_number))
    return worker_in if found is None else worker_in.model_copy(update={"worker_id": found})


def import_row(*, db_session: Session, worker_in: WorkerCreate, actor: Principal,
               passwords: Passwords) -> bool:
    """Register one worker in its own transaction through :func:`service.create`.
    True when it was created, False when it existed with the same data; raises
    :class:`RowInvalid` for a conflict (nothing of the row is then written)."""
    attempt = 1
    while True:
        try:
            row_in = _lookup(db_session, worker_in)
            existing = (db_session.get(Worker, row_in.worker_id)
                        if row_in.worker_id is not None else None)
            if existing is not None and existing.status == WorkerStatus.ERASED:
                db_session.rollback()
                raise RowInvalid([("worker_id", "this worker's data was erased; it is not "
                                                "registered again under the same id")])
            service.create(db_session=db_session, worker_in=row_in, actor=actor,
                           passwords=passwords)
            return existing is None
        except Conflict as exc:
            db_session.rollback()
            if "passport" in exc.message:
                raise RowInvalid([("passport_number", "a worker with this passport number "
                                                      "is registered already")]) from None
            field = "worker_id" if worker_in.worker_id is not None else "passport_number"
            raise RowInvalid([(field, "the worker is registered already with other data")]
                             ) from None
        except ApiError as exc:
            db_session.rollback()
            raise RowInvalid([("row", exc.message)]) from None
        except IntegrityError:  # registered by someone else between the checks and commit
            db_session.rollback()
            raise RowInvalid([("worker_id", "conflicts with a worker registered meanwhile "
                                            "(the same id or passport number)")]) from None
        except DataError:
            db_session.rollback()
            raise RowInvalid([("row", "a value does not fit what the database can store")]
                             ) from None
        except SQLAlchemyError as exc:
            db_session.rollback()
            if attempt >= ATTEMPTS or not is_transient(exc):
                raise
            time.sleep(0.05 * attempt)
            attempt += 1


def import_file(binary: IO[bytes], *, db_session: Session, actor: Principal,
                passwords: Passwords, progress: Callable[[int], None] | None = None,
                on_error: Callable[[RowError], None] | None = None,
                max_errors: int = MAX_ERRORS) -> ImportReport:
    """Import a roster from a seekable binary file (an upload, a file on disk).
    ``progress`` is called with the bytes read so far; ``on_error`` with every error,
    also those past ``max_errors`` that the report only counts. Row numbers count the
    header as row 1, as a spreadsheet shows them."""
    if actor.role not in (Role.ADMIN, Role.RECRUITER):
        raise Forbidden("Rosters are imported by recruiters and admins")
    columns, _ = check_file(binary)
    report = ImportReport()

    def error(row: int, field: str, message: str) -> None:
        entry = RowError(row=row, field=field, message=message)
        if len(report.errors) < max_errors:
            report.errors.append(entry)
        else:
            report.errors_omitted += 1
        if on_error is not None:
            on_error(entry)

    with _rows(binary) as records:
        next(records)  # the header
        for number, cells in enumerate(records, start=2):
            if progress is not None:
                progress(binary.tell())
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            try:
                if len(cells) > len(columns):
                    raise RowInvalid([("row", "the row has more cells than the header "
                                              "has columns")])
                worker_in = parse_row(dict(zip(columns, cells, strict=False)))
                created = import_row(db_session=db_session, worker_in=worker_in,
                                     actor=actor, passwords=passwords)
            except RowInvalid as exc:
                report.rejected += 1
                for field, message in exc.problems:
                    error(number, field, message)
                continue
            if created:
                report.imported += 1
            else:
                report.unchanged += 1
    if progress is not None:
        progress(binary.tell())
    return report
