"""The faults a scenario injects, each triggered at planned points of the stream (the
n-th input published or call answered), plus a supervisor that restarts a service
that dies by itself, as a process manager would (and counts it)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from deploy.kafka.broker import LocalBroker
from tests.support.processes import ServiceProcess
from tests.support.system import System


@dataclass
class Fault:
    """Base: nothing happens. ``at`` holds the stream positions that trigger it."""

    at: list[int] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _strike_lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, system: System) -> None:
        self.system = system

    def on_progress(self, n: int) -> None:
        """Called by the driver after each input; strikes at the planned positions.
        Only the caller that reaches a position waits for its strike: the others go on
        sending (a gateway being killed sees requests in flight)."""
        due = 0
        with self._lock:
            while self.at and n >= self.at[0]:
                self.at.pop(0)
                due += 1
        for _ in range(due):
            with self._strike_lock:
                self.events.append({"at": n, **self.strike()})

    def strike(self) -> dict[str, Any]:
        return {}

    def end(self) -> None:
        pass

    def report(self) -> dict[str, Any]:
        return {"faults": len(self.events), "events": self.events}


def positions(rng: random.Random, count: int, first: int, last: int) -> list[int]:
    """``count`` distinct random stream positions in [first, last)."""
    return sorted(rng.sample(range(first, max(first + count, last)), count))


@dataclass
class Kill(Fault):
    """SIGKILL one service and start it again at once (its process group: no chance
    to flush, commit or say goodbye)."""

    service: str = "matcher"
    restart: bool = True

    def strike(self) -> dict[str, Any]:
        proc = self.system.processes[self.service]
        was_alive = proc.alive
        proc.kill()
        if self.restart:
            proc.restart()
        return {"killed": self.service, "was_running": was_alive}


@dataclass
class GatewayKill(Fault):
    """Kill the whole gateway after it committed writes it has not published: the
    relay first, then, while the API goes on committing writes, the API and the
    projector; then start all three again. Reports how many committed writes were
    waiting unpublished at each kill."""

    database_url: str = ""
    rng: random.Random = field(default_factory=lambda: random.Random(5))

    def strike(self) -> dict[str, Any]:
        procs = self.system.processes
        procs["relay"].kill()
        time.sleep(self.rng.uniform(0.3, 0.8))
        for name in ("api", "projector"):
            procs[name].kill()
        backlog = unpublished(self.database_url)
        for name in ("relay", "projector", "api"):
            procs[name].restart()
        self.system.wait_for_api()
        return {"unpublished_at_kill": backlog}

    def report(self) -> dict[str, Any]:
        return super().report() | {
            "unpublished_at_kills": sum(e["unpublished_at_kill"] for e in self.events)}


def unpublished(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar() or 0)
    finally:
        engine.dispose()


@dataclass
class BrokerOutage(Fault):
    """Stop the broker for ``seconds`` while the API keeps taking writes and serving
    reads; then start it again. Counts the reads made during the outage."""

    broker: LocalBroker | None = None
    seconds: float = 30.0
    token: str = ""
    read_paths: list[str] = field(default_factory=list)
    reads: dict[str, int] = field(default_factory=lambda: {"ok": 0, "failed": 0})
    failures: dict[str, int] = field(default_factory=dict)  # why reads failed, counted
    _thread: threading.Thread | None = None

    def strike(self) -> dict[str, Any]:
        assert self.broker is not None
        self.broker.stop()
        started = time.monotonic()  # the outage counts from when the broker is down
        self._thread = threading.Thread(target=self._outage, args=(started,), daemon=True)
        self._thread.start()
        return {"broker_stopped": True}

    def _outage(self, started: float) -> None:
        assert self.broker is not None
        with httpx.Client(base_url=f"{self.system.url}/api/v1", timeout=5,
                          headers={"Authorization": f"Bearer {self.token}"}) as client:
            n = 0
            while time.monotonic() - started < self.seconds:
                path = self.read_paths[n % len(self.read_paths)]
                try:
                    status = client.get(path).status_code
                    why = "" if status == 200 else f"{path.split('?')[0]} answered {status}"
                except httpx.HTTPError as exc:
                    why = f"{path.split('?')[0]}: {type(exc).__name__}"
                self.reads["failed" if why else "ok"] += 1
                if why:
                    self.failures[why] = self.failures.get(why, 0) + 1
                n += 1
                time.sleep(0.1)
        self.broker.start()
        self.events.append({"broker_restarted_after_s": round(time.monotonic() - started, 1)})

    def end(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def report(self) -> dict[str, Any]:
        return super().report() | {"reads_during_outage": dict(self.reads),
                                   "failed_reads": dict(self.failures),
                                   "outage_seconds": self.seconds}


@dataclass
class Rebalance(Fault):
    """Two matcher workers in one group: kill the second (its partitions move to
    the first), then start it again (scaled back to two)."""

    supervisor: Supervisor | None = None

    def begin(self, system: System) -> None:
        super().begin(system)
        env = {**system.env, "CIRCULAR_VAR_DIR": str(system.var_dir / "matcher-2")}
        proc = ServiceProcess("matcher-2", ["services.matcher"], env,
                              system.var_dir / "logs" / "matcher-2.log")
        system.processes["matcher-2"] = proc.start()
        self.steps = ["kill", "start"]

    def strike(self) -> dict[str, Any]:
        proc = self.system.processes["matcher-2"]
        step = self.steps.pop(0)
        if step == "kill":
            if self.supervisor is not None:
                self.supervisor.held.add("matcher-2")
            proc.kill()
            return {"matcher-2": "killed; its partitions move to matcher"}
        proc.restart()
        if self.supervisor is not None:
            self.supervisor.held.discard("matcher-2")
        return {"matcher-2": "started again; back to two workers"}


class Supervisor:
    """Restarts a service that exited without being told to (found down twice in a
    row), like a process manager (systemd, Kubernetes) would; counts those restarts.
    Services a fault keeps down on purpose are ``held``."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.held: set[str] = set()
        self.restarts: dict[str, int] = {}
        self._down: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for name, proc in list(self.system.processes.items()):
                if name in self.held or proc.proc is None or proc.alive:
                    self._down.discard(name)
                    continue
                if name in self._down:
                    self._down.discard(name)
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    proc.restart()
                else:
                    self._down.add(name)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
