"""The gateway served over real HTTP for a browser: the in-process app (the same
``create_app``) under uvicorn in a background thread, on a free port, on a fresh
SQLite database with the small world of tests/support/gateway.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from deploy.kafka.broker import free_port
from services.gateway.app import create_app
from services.gateway.database.migrate import upgrade
from services.gateway.settings import GatewaySettings
from tests.support.gateway import ADMIN, Api, build_world


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
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="live-console", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    client = httpx.Client(base_url=url, timeout=30)
    try:
        yield LiveConsole(url=url, api=Api(client=client,  # type: ignore[arg-type]
                                           sessions=app.state.sessions))
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)


def seeded(console: LiveConsole) -> dict[str, str]:
    return build_world(console.api)
