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
import sys
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
    reserved = None
    try:
        if sys.platform == "linux":
            reserved = _reserve_port(settings.gateway_host, settings.gateway_port)
            listeners: list[Any] = [OwnListener(reserved.family, reserved.getsockname())]
        else:  # one socket shared by all: served, but not spread evenly
            listeners = [config.bind_socket()]
        Multiprocess(config, sockets=listeners).run()
    finally:
        if reserved is not None:
            reserved.close()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _reuse_port_socket(family: socket.AddressFamily) -> socket.socket:
    """A TCP socket (protocol given, so asyncio sets ``TCP_NODELAY`` on what it
    accepts; see :class:`_TcpConfig`) that may share its port with the API's others."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _reserve_port(host: str, port: int) -> socket.socket:
    """The supervisor's hold on the port: bound, never listening, so the kernel hands
    it no connection, a port in use fails here at once (not in each process, again and
    again), and nothing else binds it while the processes come and go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _reuse_port_socket(family)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _listen(family: socket.AddressFamily, address: tuple[Any, ...]) -> socket.socket:
    sock = _reuse_port_socket(family)
    sock.bind(address)
    return sock


class OwnListener:
    """Stands in, in the supervisor, for the listening socket of each API process: it
    is sent to a process as uvicorn sends its shared socket, and arrives there as a
    socket of that process's own, bound to the same port with ``SO_REUSEPORT``
    (:meth:`__reduce__`; uvicorn passes the same list to every process it starts or
    restarts). The kernel then spreads new connections over the processes by a hash
    of their addresses. With one socket shared by all, the first process to wake
    accepts every connection waiting (asyncio accepts up to its backlog at a time): 16
    connections opened at once all went to one process of two, which served the
    bench's mixed load alone (``tests/integration/test_gateway_processes.py``)."""

    def __init__(self, family: socket.AddressFamily, address: tuple[Any, ...]) -> None:
        self.family, self.address = family, address

    def __reduce__(self) -> tuple[Any, ...]:
        return _listen, (self.family, self.address)


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
