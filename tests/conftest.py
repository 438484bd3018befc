"""Shared fixtures: the session's Kafka broker, a fresh topic namespace per test,
databases (SQLite and PostgreSQL), and whole systems of service processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from eventbus.admin import ensure_topics
from schemas.topics import catalogue
from services.gateway.database.migrate import upgrade
from tests.support.brokers import Broker, session_broker
from tests.support.postgres import fresh_database, session_postgres
from tests.support.system import System

if TYPE_CHECKING:
    from tests.support.gateway import Api

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    with session_broker() as b:
        yield b


@pytest.fixture
def topic_prefix(broker: Broker) -> str:
    """A fresh namespace with every topic of the catalogue created in it."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    report = ensure_topics(broker.bootstrap, catalogue(prefix))
    assert not report.problems, report.problems
    return prefix


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    try:
        with session_postgres() as url:
            yield url
    except FileNotFoundError:
        if os.environ.get("CIRCULAR_REQUIRE_POSTGRES") == "1":
            raise
        yield None


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'circular.db'}"
    else:
        server = request.getfixturevalue("postgres_server")
        if server is None:
            pytest.skip("PostgreSQL is not installed here (CI installs it)")
        url = fresh_database(server)
    upgrade(url)
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the
    main thread from its first test to the end of the session, and every test that
    calls ``asyncio.run()`` after it would fail."""
    items.sort(key=lambda item: item.path.parts[-2:-1] == ("browser",))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def system(request: pytest.FixtureRequest, broker: Broker, topic_prefix: str,
           database_url: str, tmp_path: Path) -> Iterator[System]:
    sys_ = System(bootstrap=broker.bootstrap, prefix=topic_prefix, database_url=database_url,
                  var_dir=tmp_path / "var")
    try:
        yield sys_
    finally:
        sys_.stop()
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            for name, text in sys_.logs().items():  # shown under "Captured stdout teardown"
                print(f"----- {name} log (last 120 lines) -----")
                print("\n".join(text.splitlines()[-120:]))


@pytest.fixture
def api(database_url: str, tmp_path: Path, broker: Broker) -> Iterator[Api]:
    """The gateway in-process on a migrated database (SQLite, then PostgreSQL), with
    the session's broker for its readiness check (nothing here publishes)."""
    from fastapi.testclient import TestClient

    from services.gateway.app import create_app
    from services.gateway.settings import GatewaySettings
    from tests.support.gateway import ADMIN, Api

    settings = GatewaySettings(database_url=database_url, admin_user=ADMIN[0],
                               admin_password=ADMIN[1], jwt_secret="j" * 40,
                               clock_control=True, var_dir=tmp_path, topic_prefix="api.",
                               kafka_bootstrap_servers=broker.bootstrap,
                               password_hash_memory_kib=1024, password_hash_time_cost=1,
                               # TestClient answers a stream once it ended
                               stream_max_seconds=0.2)
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client=client, sessions=app.state.sessions)


@pytest.fixture
def world(api: Api) -> dict[str, str]:
    from tests.support.gateway import build_world

    return build_world(api)
