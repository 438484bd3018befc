"""The gateway served over real HTTP for a browser: the in-process app (the same
``create_app``) under uvicorn in a background thread, on a free port, on a fresh
SQLite database with the small world of tests/support/gateway.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.gateway.app import create_app
from services.gateway.database.migrate import upgrade
from services.gateway.settings import GatewaySettings
from tests.support.gateway import ADMIN, Api, build_world
from tests.support.serving import served


@dataclass
class LiveConsole:
    url: str
    api: Api


@contextmanager
def live_console(var_dir: Path, bootstrap: str) -> Iterator[LiveConsole]:
    url_db = f"sqlite:///{var_dir / 'console.db'}"
    upgrade(url_db)
    settings = GatewaySettings(database_url=url_db, admin_user=ADMIN[0],
                               admin_password=ADMIN[1], jwt_secret="j" * 40,
                               clock_control=True, var_dir=var_dir, topic_prefix="browser.",
                               kafka_bootstrap_servers=bootstrap,
                               password_hash_memory_kib=1024, password_hash_time_cost=1)
    app = create_app(settings)
    with served(app, "live-console") as (url, client):
        yield LiveConsole(url=url, api=Api(client=client,  # type: ignore[arg-type]
                                           sessions=app.state.sessions))


def seeded(console: LiveConsole) -> dict[str, str]:
    return build_world(console.api)
