"""PostgreSQL for the suite, found in this order: ``CIRCULAR_TEST_POSTGRES_URL``;
a testcontainers PostgreSQL where a Docker engine answers; else a throwaway server
from Debian's packages (``/usr/lib/postgresql/*/bin``) on a free port in a
temporary directory, run as the ``postgres`` user when we are root.

The suite's server skips every flush to disk (``fsync=off``): its data is thrown away.
A benchmark's (``durable=True``) keeps PostgreSQL's flushes and only lets commits
return before their WAL is flushed (``synchronous_commit=off``): a crash of the server
loses none of it, a power cut the last fraction of a second, as SQLite in WAL mode
with ``synchronous=NORMAL`` (the gateway's setting) promises. A testcontainers server
or ``CIRCULAR_TEST_POSTGRES_URL`` keeps its own settings either way."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from deploy.kafka.broker import free_port
from tests.support.docker import docker_available


def _bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@contextmanager
def local_server(*, durable: bool = False) -> Iterator[str]:
    bindir = _bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin)")
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="circular-pg-"))
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    data.mkdir()
    sock.mkdir()
    if user:
        entry = pwd.getpwnam(user)
        for p in (data, sock):
            os.chown(p, entry.pw_uid, entry.pw_gid)
    port = free_port()
    log = root / "server.log"
    subprocess.run(_as_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U",
                             "postgres", "-E", "UTF8", "--no-sync"], user),
                   check=True, capture_output=True)
    options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 "
               "-c synchronous_commit=off -c max_connections=300"
               + ("" if durable else " -c fsync=off -c full_page_writes=off"))
    if user:
        log.touch()
        os.chown(log, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                             str(log), "-w", "-t", "60", "start"], user),
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "stop"], user), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def session_postgres(*, durable: bool = False) -> Iterator[str]:
    if os.environ.get("CIRCULAR_TEST_POSTGRES_URL"):
        yield os.environ["CIRCULAR_TEST_POSTGRES_URL"]
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as pg:
            yield pg.get_connection_url()
        return
    with local_server(durable=durable) as url:
        yield url


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server; returns its URL."""
    name = "t_" + uuid.uuid4().hex[:16]
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name
