"""Roster import (SPEC 7.5): ``POST /workers/import`` and ``python -m services.gateway
import-workers``. Good rows are registered (readable like any worker), bad rows
reported with row number and field errors, a row is written whole or not at all, the
same file again creates nothing, and no cell's value reaches an error or a log line."""

import csv
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.gateway.app import create_app
from services.gateway.auth import service as users
from services.gateway.auth.models import Role, UserCreate
from services.gateway.auth.security import Passwords
from services.gateway.database.core import make_engine, make_sessionmaker
from services.gateway.database.migrate import upgrade
from services.gateway.outbox import service as outbox_service
from services.gateway.outbox.models import OutboxRecord
from services.gateway.settings import GatewaySettings
from services.gateway.timeline.models import TimelineEntry
from services.gateway.workers.models import Worker
from services.gateway.workers.roster import COLUMNS, MAX_ERRORS
from tests.support.gateway import ADMIN, PASSWORD, Api, worker_body

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sample" / "roster.csv"
SAMPLE_ERRORS = ROOT / "deploy" / "sample" / "roster-with-errors.csv"
#: rows refused in the sample with errors, and the column each is refused on
SAMPLE_REFUSED = {3: "passport_number", 5: "occupations", 6: "languages", 8: "date_of_birth",
                  9: "consent_matching", 11: "full_name", 13: "passport_number"}


def row(worker_id: str, passport: str, **changes: str) -> dict[str, str]:
    """A roster row of the same worker as ``worker_body``."""
    return {"worker_id": worker_id, "full_name": f"Anahit Petrosyan {worker_id}",
            "date_of_birth": "1990-05-17", "passport_number": passport, "citizenship": "AM",
            "phone": "+374 91 123456", "email": f"{worker_id}@example.am", "region": "Shirak",
            "occupations": "6111:4", "skills": "tractor", "languages": "de:A2",
            "preferred_destinations": "DE", "available_from": "2027-01-15",
            "consent_matching": "yes", **changes}


def roster(*rows: dict[str, str], columns=COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(api: Api, who: str | None, content: bytes, client: TestClient | None = None):
    files = {"file": ("roster.csv", content, "text/csv")}
    if client is not None:
        return client.post("/api/v1/workers/import", files=files, headers=api.as_(who))
    return api.post(who, "/workers/import", files=files)


def count(api: Api, model, *where) -> int:
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def registered(api: Api) -> int:
    return count(api, OutboxRecord, OutboxRecord.event_type == "circular.worker.registered")


def test_good_rows_are_imported_bad_rows_reported_and_again_nothing_is_created(
        api, world, caplog):
    caplog.set_level(logging.DEBUG)
    before = registered(api)
    r = upload(api, "rec", SAMPLE_ERRORS.read_bytes())
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["unchanged"], report["rejected"]) == (5, 0, 7)
    assert {e["row"]: e["field"] for e in report["errors"]} == SAMPLE_REFUSED
    assert report["errors_omitted"] == 0
    assert registered(api) == before + 5
    # an imported row reads like any registered worker
    worker = api.get("rec", "/workers/am-roster-0901").json()
    assert worker["passport_number"] == "AM0000901" and worker["region"] == "Vayots Dzor"
    assert worker["occupations"] == [{"isco_code": "9211", "experience_years": 2}]
    assert api.get("rec", "/workers/am-roster-0902").status_code == 404  # row 3, refused
    # no cell of the file in the report or in any log line
    cells = {c for line in list(csv.reader(io.StringIO(SAMPLE_ERRORS.read_text())))[1:]
             for c in line[1:8] if len(c) > 3}
    logged = "\n".join(json.dumps(rec.__dict__, default=str) for rec in caplog.records)
    for cell in cells:
        assert cell not in r.text and cell not in logged

    again = upload(api, "rec", SAMPLE_ERRORS.read_bytes()).json()
    assert (again["imported"], again["unchanged"], again["rejected"]) == (0, 5, 7)
    assert registered(api) == before + 5


def test_the_sample_roster_imports_whole_and_once(api):
    content = SAMPLE.read_bytes()
    first = upload(api, "admin", content).json()
    assert first == {"imported": 300, "unchanged": 0, "rejected": 0, "errors": [],
                     "errors_omitted": 0}
    assert count(api, Worker) == 300 and registered(api) == 300
    # rows 281-300 have no worker_id: found again by their passport number
    second = upload(api, "admin", content).json()
    assert (second["imported"], second["unchanged"], second["rejected"]) == (0, 300, 0)
    assert count(api, Worker) == 300 and registered(api) == 300


def test_conflicts_are_errors_on_their_row_never_a_500(api, world):
    # a walk-in registered by POST /workers with the same data a roster row has
    assert api.post("rec", "/workers", json=worker_body("w3", "AM1000003")).status_code == 202
    w3 = row("w3", "AM1000003")
    content = roster(
        row("w3", "AM1000003"),                   # row 2: the same worker again
        row("w3", "AM1000003", region="Lori"),    # row 3: the same id, other data
        row("w9", "AM1000003"),                   # row 4: w3's passport, another id
        {**w3, "worker_id": ""},                  # row 5: no id, found by its passport
        {**w3, "worker_id": "", "region": "Lori"},  # row 6: no id, w3's passport, other data
        row("w10", "AM1000010"),                  # row 7
        row("w10", "AM1000010"),                  # row 8: repeated in the file
    )
    r = upload(api, "rec", content)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["imported"], report["unchanged"], report["rejected"]) == (1, 3, 3), report
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (3, "worker_id"), (4, "passport_number"), (6, "passport_number")]
    assert api.get("rec", "/workers/w3").json()["region"] == "Shirak"
    assert api.get("rec", "/workers/w9").status_code == 404


def test_a_row_the_database_refuses_is_written_not_at_all(api, world, monkeypatch):
    real_add = outbox_service.add

    def refusing(*, db_session, event, **kwargs):
        if getattr(event, "worker_id", None) == "w12":
            raise IntegrityError("INSERT", None, Exception("refused"))
        return real_add(db_session=db_session, event=event, **kwargs)

    monkeypatch.setattr(outbox_service, "add", refusing)
    content = roster(row("w11", "AM1100011"), row("w12", "AM1100012"), row("w13", "AM1100013"))
    report = upload(api, "rec", content).json()
    assert (report["imported"], report["rejected"]) == (2, 1)
    assert report["errors"][0]["row"] == 3
    assert count(api, Worker, Worker.id == "w12") == 0
    assert count(api, TimelineEntry, TimelineEntry.worker_id == "w12") == 0
    assert count(api, Worker, Worker.id.in_(["w11", "w13"])) == 2
    monkeypatch.setattr(outbox_service, "add", real_add)
    # the refused row imports once the cause is gone
    again = upload(api, "rec", content).json()
    assert (again["imported"], again["unchanged"], again["rejected"]) == (1, 2, 0)


def test_only_recruiters_and_admins_import(api, world):
    content = roster(row("w20", "AM2000020"))
    assert upload(api, None, content).status_code == 401
    for who in ("wk1", "emp1"):
        r = upload(api, who, content)
        assert r.status_code == 403, r.text
    assert count(api, Worker, Worker.id == "w20") == 0
    assert upload(api, "admin", content).json()["imported"] == 1


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)), "UTF-8"),
    ("full_name;date_of_birth\nÄ;1990-01-01\n".encode("latin-1"), "UTF-8"),
    (b"", "empty"),
    (roster(row("w21", "AM2100021"), columns=("worker_id", "full_name")), "header"),
    (roster(row("w21", "AM2100021")) + b'"unclosed,quote\n', "CSV"),
])
def test_a_file_that_is_not_a_roster_is_refused_before_anything_is_written(
        api, world, content, message):
    before = count(api, Worker)
    r = upload(api, "rec", content)
    assert r.status_code == 422, r.text
    body = r.json()
    assert message in body["message"] and body["errors"]
    assert {e["field"] for e in body["errors"]} == {"body.file"}
    assert count(api, Worker) == before
    # the form without a file
    assert api.post("rec", "/workers/import", data={"x": "1"}).status_code == 422


def test_errors_are_capped_and_several_per_row(api):
    bad = [row(f"x{n}", f"AM{n:07d}", full_name="") for n in range(MAX_ERRORS + 5)]
    report = upload(api, "admin", roster(*bad)).json()
    assert report["rejected"] == MAX_ERRORS + 5
    assert len(report["errors"]) == MAX_ERRORS and report["errors_omitted"] == 5
    report = upload(api, "admin", roster(row("x", "A1", citizenship="XX",
                                                 consent_matching="?"))).json()
    assert {e["field"] for e in report["errors"]} == {"passport_number", "citizenship",
                                                      "consent_matching"}
    assert {e["row"] for e in report["errors"]} == {2}


def test_the_roster_has_its_own_body_limit(api, database_url, tmp_path, broker):
    # larger than CIRCULAR_MAX_BODY_BYTES (1 MB) but within the roster's 20 MB
    big = roster(row("w30", "AM3000030")) + b"\n" * 1_100_000
    report = upload(api, "admin", big)
    assert report.status_code == 200, report.text
    assert report.json()["imported"] == 1
    settings = GatewaySettings(database_url=database_url, admin_user=ADMIN[0],
                               admin_password=ADMIN[1], jwt_secret="j" * 40,
                               var_dir=tmp_path, kafka_bootstrap_servers=broker.bootstrap,
                               roster_max_bytes=4096, password_hash_memory_kib=1024,
                               password_hash_time_cost=1)
    with TestClient(create_app(settings)) as small:
        over = roster(*[row(f"w4{n}", f"AM40000{n:02d}") for n in range(40)])
        assert len(over) > 4096
        r = upload(api, "admin", over, client=small)
        assert r.status_code == 413, r.text
        nul = roster(row("w50", "AM5000050", region="Shi\x00rak"))
        r = upload(api, "admin", nul, client=small)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body", r.text
        assert upload(api, "admin", roster(row("w51", "AM5100051")),
                      client=small).json()["imported"] == 1
    assert count(api, Worker, Worker.id.like("w4%")) == 0
    assert count(api, Worker, Worker.id == "w50") == 0


# -- the command line ------------------------------------------------------------------

@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        for name, role, ids in (("rec", Role.RECRUITER, {}),
                                ("emp", Role.EMPLOYER, {"employer_id": "e1"})):
            users.create(db_session=s, passwords=Passwords(1024, 1),
                         user_in=UserCreate(username=name, password=PASSWORD, role=role, **ids))
        s.commit()
    engine.dispose()
    return url


def cli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIRCULAR_DATABASE_URL": url, "CIRCULAR_VAR_DIR": str(tmp_path),
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "services.gateway", "import-workers", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def workers_in(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        n = s.scalar(select(func.count()).select_from(Worker)) or 0
    engine.dispose()
    return n


def test_the_command_imports_a_roster_once(sqlite_url, tmp_path):
    done = cli(sqlite_url, tmp_path, str(SAMPLE), "--as", "rec")
    assert done.returncode == 0, done.stderr
    assert "imported 300, unchanged 0, refused rows 0" in done.stdout
    assert "Importing" in done.stderr  # the progress bar
    again = cli(sqlite_url, tmp_path, str(SAMPLE), "--as", "rec")
    assert again.returncode == 0 and "imported 0, unchanged 300" in again.stdout
    assert workers_in(sqlite_url) == 300


def test_the_command_reports_every_bad_row(sqlite_url, tmp_path):
    errors = tmp_path / "errors.csv"
    done = cli(sqlite_url, tmp_path, str(SAMPLE_ERRORS), "--as", "rec", "--errors-csv",
               str(errors))
    assert done.returncode == 1, done.stderr
    assert "imported 5, unchanged 0, refused rows 7" in done.stdout
    with errors.open() as f:
        listed = list(csv.DictReader(f))
    assert {int(e["row"]): e["field"] for e in listed} == SAMPLE_REFUSED
    for refused_row, field in SAMPLE_REFUSED.items():  # the table on the terminal
        assert re.search(rf"\b{refused_row}\b\W+{field}\b", done.stdout), refused_row
    assert "AM12" not in done.stdout + done.stderr  # the bad passport is not quoted
    assert workers_in(sqlite_url) == 5


def test_the_command_refuses_other_users_and_other_files(sqlite_url, tmp_path):
    for who in ("emp", "nobody"):
        done = cli(sqlite_url, tmp_path, str(SAMPLE), "--as", who)
        assert done.returncode == 2 and "recruiter or admin" in done.stderr
    done = cli(sqlite_url, tmp_path, str(ROOT / "README.md"), "--as", "rec")
    assert done.returncode == 2 and "nothing was imported" in done.stderr
    assert workers_in(sqlite_url) == 0
