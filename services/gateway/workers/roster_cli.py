"""``python -m services.gateway import-workers FILE.csv --as USERNAME``: the roster
import of ``POST /workers/import`` from the command line, on the database the
settings name, with a progress bar by bytes read, the summary and every row's errors.

Exit codes: 0 every row imported or unchanged; 1 some rows were refused (the others
are imported); 2 nothing was imported (the file was refused, the user cannot
import, the database cannot be used)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from eventbus.logs import configure
from services.gateway.auth.models import Role, User
from services.gateway.auth.security import Passwords, Principal
from services.gateway.database.core import make_engine, make_sessionmaker
from services.gateway.errors import Unprocessable
from services.gateway.settings import GatewaySettings
from services.gateway.workers.roster import RowError, import_file

PROG = "python -m services.gateway import-workers"
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


def _fail(out: Console, message: str) -> typer.Exit:
    out.print(f"[red]{message}[/red]")
    return typer.Exit(2)


@app.command()
def import_workers(
    file: Annotated[Path, typer.Argument(
        exists=True, dir_okay=False, readable=True,
        help="The roster: CSV, UTF-8, columns as the README's 'Roster import' lists")],
    as_user: Annotated[str, typer.Option(
        "--as", help="The recruiter or admin the workers are registered by")],
    errors_csv: Annotated[Path | None, typer.Option(
        "--errors-csv", dir_okay=False,
        help="Also write every row error to this CSV file (row, field, message)")] = None,
) -> None:
    """Import workers from a CSV roster: good rows are registered (each row its own
    transaction), bad rows reported; the same file again imports nothing new."""
    out = Console()
    err = Console(stderr=True)
    settings = GatewaySettings()
    configure("gateway-import", settings.log_level, settings.library_log_level)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    passwords = Passwords(settings.password_hash_memory_kib, settings.password_hash_time_cost)
    errors_file = errors_csv.open("w", newline="", encoding="utf-8") if errors_csv else None
    errors_out = csv.writer(errors_file) if errors_file else None
    if errors_out is not None:
        errors_out.writerow(("row", "field", "message"))

    def on_error(entry: RowError) -> None:
        if errors_out is not None:
            errors_out.writerow((entry.row, entry.field, entry.message))

    try:
        with sessions() as db_session:
            user = db_session.scalar(select(User).where(User.username == as_user))
            if user is None or user.role not in (Role.ADMIN, Role.RECRUITER):
                raise _fail(err, "--as must name an existing recruiter or admin")
            actor = Principal(user_id=user.id, username=user.username, role=user.role)
            db_session.rollback()
            size = file.stat().st_size
            with file.open("rb") as binary, Progress(
                    TextColumn("[bold]Importing"), BarColumn(), DownloadColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err) as bar:
                task = bar.add_task("import", total=size)
                report = import_file(
                    binary, db_session=db_session, actor=actor, passwords=passwords,
                    progress=lambda done: bar.update(task, completed=done),
                    on_error=on_error)
    except Unprocessable as exc:
        for problem in exc.errors:
            err.print(f"[red]{problem.message}[/red]")
        raise _fail(err, f"{exc.message}: nothing was imported") from None
    except SQLAlchemyError as exc:
        raise _fail(err, "The database cannot be used (is it migrated? `python -m "
                    f"services.gateway migrate`): {type(exc).__name__}") from None
    finally:
        if errors_file is not None:
            errors_file.close()
        engine.dispose()

    out.print(f"imported {report.imported}, unchanged {report.unchanged}, "
              f"refused rows {report.rejected}")
    if report.errors:
        table = Table("row", "field", "message", title="Rows refused")
        for entry in report.errors:
            table.add_row(str(entry.row), entry.field, entry.message)
        out.print(table)
    if report.errors_omitted:
        out.print(f"... and {report.errors_omitted} more errors"
                  + (f" (all in {errors_csv})" if errors_csv else " (--errors-csv lists all)"))
    if report.rejected:
        raise typer.Exit(1)


def main(args: list[str]) -> int:
    """Run the command with ``args``; its exit code."""
    try:
        app(args=args, prog_name=PROG)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return 0
