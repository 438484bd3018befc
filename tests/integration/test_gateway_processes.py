"""Several API processes behind one port (``CIRCULAR_API_WORKERS``), as ``make up``
runs them on a machine with more than one core: all of them start (the first admin is
created once, the process that loses the race finds it), all serve, and a scrape of
``/metrics`` from any of them counts the requests of all."""

import re
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.gateway.auth import service as users
from services.gateway.auth.models import User
from services.gateway.auth.security import Passwords
from services.gateway.database.core import make_engine, make_sessionmaker
from tests.support.processes import wait_for

WORKERS = 2


def workers_of(pid: int) -> list[int]:
    """The live processes ``pid`` started as uvicorn workers (not its resource
    tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def healthz_count(metrics: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if re.match(r'circular_http_requests_total\{.*route="/healthz".*\}', line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_api_processes_share_the_port_the_admin_and_the_metrics(system):
    system.extra_env["CIRCULAR_API_WORKERS"] = str(WORKERS)
    system.start("api")
    api = system.processes["api"]
    assert api.proc is not None
    wait_for(lambda: len(workers_of(api.proc.pid)) >= WORKERS, timeout=30,
             what=f"{WORKERS} API processes")
    # every process finished its start (each creates the first admin if missing)
    wait_for(lambda: api.log().count("Application startup complete") >= WORKERS,
             timeout=60, what="every API process started")
    assert system.token()  # the admin signs in; it exists once
    engine = create_engine(system.database_url)
    try:
        with engine.connect() as db:
            admins = db.scalars(text("SELECT username FROM users WHERE role = 'admin'")).all()
    finally:
        engine.dispose()
    assert admins == ["admin"]

    requests = 200
    with httpx.Client(base_url=system.url, timeout=10) as http:
        before = healthz_count(http.get("/metrics").text)  # the start's probes
        for _ in range(requests):
            assert http.get("/healthz").status_code == 200
        time.sleep(0.2)
        # a scrape reaches one process, whichever: each must count all the requests
        scrapes = [healthz_count(http.get("/metrics").text) for _ in range(10)]
    assert scrapes == [before + requests] * 10, scrapes
    with httpx.Client(base_url=system.url, timeout=10) as http:  # one connection
        took = []
        for _ in range(31):
            started = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            took.append(time.perf_counter() - started)
    # TCP_NODELAY on the shared socket's connections: without it each answer waited
    # for the client's delayed acknowledgement, 40 ms
    assert sorted(took)[15] < 0.02, sorted(took)
    assert "Application startup failed" not in api.log()
    assert "Traceback" not in api.log()


def test_api_processes_stop_with_their_supervisor(system):
    system.extra_env["CIRCULAR_API_WORKERS"] = str(WORKERS)
    system.start("api")
    api = system.processes["api"]
    assert api.proc is not None
    wait_for(lambda: len(workers_of(api.proc.pid)) >= WORKERS, timeout=30,
             what=f"{WORKERS} API processes")
    workers = workers_of(api.proc.pid)
    api.proc.kill()  # the supervisor alone, SIGKILL: its processes must not keep the port
    api.proc.wait()
    wait_for(lambda: not any(map(alive, workers)), timeout=30,
             what="the orphaned API processes to stop")


class RacingPasswords(Passwords):
    """Another API process creates the admin while this one hashes its password."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__(1024, 1)
        self.sessions = sessions
        self.raced = False

    def hash(self, password: str) -> str:
        digest = super().hash(password)
        if not self.raced:
            self.raced = True
            with self.sessions() as other:
                users.ensure_first_admin(db_session=other, username="admin",
                                         password=password, passwords=self)
        return digest


def test_the_process_that_loses_the_race_for_the_first_admin_starts(database_url):
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        passwords = RacingPasswords(sessions)
        with sessions() as session:
            users.ensure_first_admin(db_session=session, username="admin",
                                     password="a-long-enough-password", passwords=passwords)
        assert passwords.raced
        with sessions() as session:
            assert session.scalars(select(User.username).where(
                User.role == "admin")).all() == ["admin"]
    finally:
        engine.dispose()
