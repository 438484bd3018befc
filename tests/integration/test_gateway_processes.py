"""Several API processes behind one port (``CIRCULAR_API_WORKERS``), as ``make up``
runs them on a machine with more than one core: all of them start (the first admin is
created once, the process that loses the race finds it), all serve, and a scrape of
``/metrics`` from any of them counts the requests of all."""

import re
import socket
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

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


def connections_by_process(port: int, pids: list[int]) -> Counter[int]:
    """How many established TCP connections to ``port`` each of ``pids`` holds (read
    from ``/proc``: the sockets' inodes in ``/proc/net/tcp*``, then in each process's
    descriptors)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    held: Counter[int] = Counter()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held[pid] += 1
    return held


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


def test_a_burst_of_connections_is_served_by_every_api_process(system):
    """Clients that open their connections at once (a load balancer's pool, a bench's
    16 keep-alive connections) are spread over the processes: with one socket shared
    by all, the first process to wake accepted the whole burst and the others idled
    (seen in issue 16's bench: one process did every write of the mixed load)."""
    system.extra_env["CIRCULAR_API_WORKERS"] = str(WORKERS)
    system.start("api")
    api = system.processes["api"]
    assert api.proc is not None
    wait_for(lambda: api.log().count("Application startup complete") >= WORKERS,
             timeout=60, what="every API process started")
    address = urlsplit(system.url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    clients = [socket.create_connection((host, port), timeout=10) for _ in range(16)]
    try:
        for client in clients:
            client.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        for client in clients:
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
        held = connections_by_process(port, workers_of(api.proc.pid))
    finally:
        for client in clients:
            client.close()
    assert sum(held.values()) == len(clients), held
    # each connection goes to a process by a hash of its addresses: 16 all to one of
    # two processes by chance is 2 in 65,536
    assert len(held) == WORKERS, held


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
