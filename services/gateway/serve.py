"""The HTTP API's processes: uvicorn serving ``CIRCULAR_API_WORKERS`` processes of the
app behind the one port (see README, "Process model").

With one, the app runs in this process. With several, this process binds the port
and supervises them (uvicorn restarts one that dies); each builds its own app from
the environment through :func:`app_from_environment`, an import-string factory, as
uvicorn's workers require. What each process keeps for itself: its database pool and
thread pool, the cache of checked tokens (``auth/principals.py``), the counts of
failed sign-ins (``auth/throttle.py``); the request metrics go to files a scrape
sums (``ops/metrics.py``). Each process creates the first admin at start if it is
missing; the one that loses that race finds it created."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from eventbus.logs import configure
from services.gateway.ops.metrics import MULTIPROC_DIR
from services.gateway.settings import GatewaySettings

#: the gateway's app factory, as uvicorn imports it in each process
APP = "services.gateway.serve:app_from_environment"


def app_from_environment() -> FastAPI:
    """One API process's app: the settings read once, from the environment its
    supervisor passed on; nothing happens at import."""
    from services.gateway.app import create_app

    settings = GatewaySettings()
    configure("gateway-api", settings.log_level, settings.library_log_level)
    if settings.api_processes() > 1:
        _stop_when_orphaned(os.getppid())
    return create_app(settings)


def run(settings: GatewaySettings, factory: str = APP) -> None:
    """Serve ``factory``'s app on the gateway's host and port with
    ``settings.api_processes()`` processes, until SIGTERM or Ctrl-C."""
    workers = settings.api_processes()
    settings.signing_key()  # a development key is generated once, before they read it
    metrics_dir = None
    if workers > 1:
        run_dir = Path(settings.var_dir) / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        metrics_dir = tempfile.mkdtemp(prefix="api-metrics-", dir=run_dir)
        os.environ[MULTIPROC_DIR] = metrics_dir  # inherited by the processes it starts
    options: dict[str, Any] = {"host": settings.gateway_host, "port": settings.gateway_port,
                               "log_config": None, "access_log": False,
                               "timeout_graceful_shutdown": 10}
    if workers == 1:
        uvicorn.run(factory, factory=True, **options)
        return
    from uvicorn.supervisors import Multiprocess

    config = _TcpConfig(factory, factory=True, workers=workers, **options)
    try:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


class _TcpConfig(uvicorn.Config):
    """uvicorn's config, its shared listening socket marked as TCP: uvicorn makes it
    with protocol 0, so asyncio does not set ``TCP_NODELAY`` on the connections it
    accepts, and a response written in two parts waits for the client's delayed
    acknowledgement (40 ms a request; measured: 44 ms for the bare constant with two
    processes, 1.7 ms with one)."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        tcp = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        tcp.set_inheritable(True)
        return tcp


def _stop_when_orphaned(parent: int) -> None:
    """Stop this API process (gracefully, as SIGTERM does) if its supervisor dies
    without stopping it (SIGKILL): it would keep the port from a new supervisor."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="api-supervisor-watch", daemon=True).start()
