"""``python -m services.gateway [all|api|relay|projector|migrate]``, or
``python -m services.gateway import-workers FILE.csv --as USERNAME`` (a roster import,
``workers/roster_cli.py``; ``--help`` says more)

``all`` (the default) runs the three processes of the gateway, the HTTP API, the
outbox relay and the projector, restarting one that dies, until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time

from eventbus.logs import configure
from services.gateway.settings import GatewaySettings

log = logging.getLogger("services.gateway")
ROLES = ("api", "relay", "projector")


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_api(settings: GatewaySettings) -> None:
    """The HTTP API: ``CIRCULAR_API_WORKERS`` processes behind one port (``serve.py``)."""
    from services.gateway import serve

    serve.run(settings)


def run_relay(settings: GatewaySettings) -> None:
    from services.gateway.database.core import make_engine, make_sessionmaker
    from services.gateway.outbox import relay

    engine = make_engine(settings.database_url)
    relay.run(make_sessionmaker(engine), settings.bootstrap_list, settings.outbox_poll_seconds,
              _stop_event(), topic_prefix=settings.topic_prefix)


def run_projector(settings: GatewaySettings) -> None:
    from services.gateway.database.core import make_engine, make_sessionmaker
    from services.gateway.projections.consumer import Projector
    from services.gateway.projections.registry import TOPICS, projections

    engine = make_engine(settings.database_url)
    Projector(sessions=make_sessionmaker(engine), bootstrap=settings.bootstrap_list,
              topics=[settings.topic(t.name) for t in TOPICS],
              group_id=settings.topic("circular-gateway-projector"),
              projections=projections()).run(_stop_event())


def run_all() -> int:
    stop = _stop_event()
    children: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(role: str) -> None:
        children[role] = subprocess.Popen([sys.executable, "-m", "services.gateway", role])

    for role in ROLES:
        spawn(role)
    while not stop.wait(0.5):
        for role, child in list(children.items()):
            if child.poll() is not None:
                log.error("gateway process died; restarting it",
                          extra={"role": role, "returncode": child.returncode})
                time.sleep(1.0)
                spawn(role)
    for child in children.values():
        child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def main() -> int:
    if sys.argv[1:2] == ["import-workers"]:
        from services.gateway.workers import roster_cli

        return roster_cli.main(sys.argv[2:])
    parser = argparse.ArgumentParser(prog="python -m services.gateway",
                                     epilog="import-workers FILE.csv --as USERNAME: "
                                     "import a roster of workers (see its --help)")
    parser.add_argument("role", nargs="?", default="all",
                        choices=("all", *ROLES, "migrate"))
    args = parser.parse_args()
    settings = GatewaySettings()
    configure(f"gateway-{args.role}" if args.role != "all" else "gateway", settings.log_level,
              settings.library_log_level)
    if args.role == "all":
        return run_all()
    if args.role == "migrate":
        from services.gateway.database.migrate import upgrade

        upgrade(settings.database_url)
        return 0
    {"api": run_api, "relay": run_relay, "projector": run_projector}[args.role](settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
