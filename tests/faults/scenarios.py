"""The scenarios of the fault harness. Each runs a workload through a fresh system
(fresh topic namespace, fresh database, services as OS processes on the real
broker) with one kind of fault, and the verifier compares what came out with the
reference run of the same workload without faults."""

from __future__ import annotations

import os
import random
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventbus.admin import ensure_topics
from schemas.topics import PUBLIC, catalogue
from services.gateway.database.migrate import upgrade
from tests.faults import faults as f
from tests.faults.driver import Caller, Lag, Publisher, settle
from tests.faults.observe import dead_letter_reasons, read_state, read_topics
from tests.faults.verifier import Effects, Verdict, effects, verify
from tests.faults.workloads import Call, Workload, gateway_calls, matcher_workload, tracker_workload
from tests.support.brokers import Broker
from tests.support.system import System

GATEWAY_TOPICS = {t.name for t in PUBLIC if "gateway" in t.producers}


@dataclass
class Scale:
    """How much each scenario does: ``full`` is what ``make faults`` runs."""

    events: int = 10_000
    kills: int = 5
    gateway_calls: int = 4_000
    gateway_kills: int = 20
    outage_seconds: float = 30.0
    malformed: int = 100
    rate: float = 250.0

    @classmethod
    def named(cls, name: str) -> Scale:
        if name == "short":
            return cls(events=1_500, kills=2, gateway_calls=700, gateway_kills=4,
                       outage_seconds=12.0, malformed=20, rate=200.0)
        return cls()


@dataclass
class Outcome:
    effects: Effects
    state: dict[str, dict[Any, Any]]
    seconds: float
    dead_letters: list[str] = field(default_factory=list)
    faults: dict[str, Any] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    http: dict[str, Any] = field(default_factory=dict)


@dataclass
class Harness:
    broker: Broker
    workdir: Path
    scale: Scale
    seed: int = 1
    references: dict[str, Outcome] = field(default_factory=dict)

    @contextmanager
    def system(self, name: str, env: dict[str, str] | None = None) -> Iterator[System]:
        prefix = f"f{uuid.uuid4().hex[:8]}."
        report = ensure_topics(self.broker.bootstrap, catalogue(prefix))
        assert not report.problems, report.problems
        home = self.workdir / f"{name}-{prefix.rstrip('.')}"
        url = f"sqlite:///{home / 'circular.db'}"
        upgrade(url)
        system = System(bootstrap=self.broker.bootstrap, prefix=prefix, database_url=url,
                        var_dir=home / "var", extra_env={
                            "CIRCULAR_CLOCK_CONTROL": "true",
                            "CIRCULAR_TRACKER_DAILY_TICK": "false",
                            "CIRCULAR_LIBRARY_LOG_LEVEL": os.environ.get(
                                "CIRCULAR_FAULTS_LIBRARY_LOG_LEVEL", "WARNING"),
                            "CIRCULAR_PASSWORD_HASH_MEMORY_KIB": "1024",
                            "CIRCULAR_PASSWORD_HASH_TIME_COST": "1",
                            **(env or {})})
        try:
            yield system
        finally:
            system.stop()

    # --- running a workload ----------------------------------------------------------

    def run_direct(self, name: str, workload: Workload, services: tuple[str, ...],
                   fault: f.Fault | None = None, env: dict[str, str] | None = None,
                   malformed: int = 0, stale: bool = False) -> Outcome:
        fault = fault or f.Fault()
        with self.system(name, env) as system:
            system.start(*services)
            supervisor = f.Supervisor(system).start()
            if isinstance(fault, f.Rebalance):
                fault.supervisor = supervisor
            lag = Lag(system.bootstrap, system.prefix, list(services))
            pub = Publisher(system.bootstrap, system.prefix, self.scale.rate)
            try:
                pub.send(workload.setup)
                settle(lag)
                fault.begin(system)
                bad = Malformed(pub, system.prefix, workload, malformed, self.seed)
                started = time.monotonic()
                for k, phase in enumerate(workload.phases):
                    pub.send(phase, each=lambda n: (fault.on_progress(n),
                                                    bad.on_progress(n)))
                    settle(lag)
                    if stale and k == workload.stale_after:
                        pub.send(workload.stale)  # the same records, ids and all, again
                        settle(lag)
                fault.end()
                settle(lag)
                seconds = time.monotonic() - started
            finally:
                supervisor.stop()
                pub.close()
                lag.close()
            back = read_topics(system.bootstrap, system.prefix)
            ids = {i.event_id for i in workload.inputs()}
            return Outcome(effects(back.observed, is_input=ids), read_state(system.database_url),
                           seconds, dead_letter_reasons(back.dead_letters), fault.report(),
                           supervisor.restarts)

    def run_http(self, name: str, setup: list[Call], phases: list[list[Call]],
                 fault: f.Fault | None = None, rate: float = 120.0) -> Outcome:
        fault = fault or f.Fault()
        with self.system(name) as system:
            system.start("api", "relay", "projector", "matcher")
            supervisor = f.Supervisor(system).start()
            lag = Lag(system.bootstrap, system.prefix, ["matcher", "projector"])
            caller = Caller(f"{system.url}/api/v1", system.token(), rate=rate)
            backlog = lambda: f.unpublished(system.database_url)  # noqa: E731
            try:
                caller.run(setup)
                settle(lag, backlog)
                if isinstance(fault, f.GatewayKill):
                    fault.database_url = system.database_url
                if isinstance(fault, f.BrokerOutage):
                    fault.token = caller.token
                fault.begin(system)
                started = time.monotonic()
                for phase in phases:
                    caller.run(phase, each=fault.on_progress)
                    fault.end()  # an outage ends before anything can catch up
                    settle(lag, backlog)
                fault.end()
                seconds = time.monotonic() - started
            finally:
                supervisor.stop()
                lag.close()
            back = read_topics(system.bootstrap, system.prefix)
            inputs = {t.prefixed(system.prefix).name for t in PUBLIC if t.name in GATEWAY_TOPICS}
            http = {"calls": caller.stats.sent, "statuses": caller.stats.statuses,
                    "retried": caller.stats.retries, "errors": caller.stats.errors[:10]}
            return Outcome(effects(back.observed, input_topics=inputs),
                           read_state(system.database_url), seconds,
                           dead_letter_reasons(back.dead_letters), fault.report(),
                           supervisor.restarts, http)

    def reference(self, which: str) -> Outcome:
        if which not in self.references:
            self.references[which] = self._runs()[which](None)
        return self.references[which]

    def _runs(self) -> dict[str, Callable[[f.Fault | None], Outcome]]:
        s = self.scale
        market, tracks = matcher_workload(s.events), tracker_workload(s.events)
        setup, phases = gateway_calls(s.gateway_calls)
        return {
            "market": lambda fault: self.run_direct("market", market,
                                                    ("projector", "matcher"), fault,
                                                    stale=fault is not None),
            "placements": lambda fault: self.run_direct("placements", tracks,
                                                        ("projector", "tracker"), fault),
            "gateway": lambda fault: self.run_http("gateway", setup, phases, fault),
        }


# --- malformed records -------------------------------------------------------------------


@dataclass
class Malformed:
    """Writes ``count`` malformed records into the matcher's input topics, spread over
    the stream: each of the ways a record can be wrong."""

    pub: Publisher
    prefix: str
    workload: Workload
    count: int
    seed: int
    written: int = 0

    def __post_init__(self) -> None:
        total = len(self.workload.stream)
        rng = random.Random(self.seed)
        self.at = sorted(rng.sample(range(1, total), min(self.count, total - 1)))

    def on_progress(self, n: int) -> None:
        while self.at and n >= self.at[0]:
            self.at.pop(0)
            topic, key, value, headers = bad_record(self.written, self.prefix)
            self.pub.raw(topic, key, value, headers)
            self.written += 1


def bad_record(n: int, prefix: str) -> tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]:
    topic = prefix + ("circular.workers", "circular.vacancies", "circular.employers")[n % 3]
    etype = {"circular.workers": b"circular.worker.registered",
             "circular.vacancies": b"circular.vacancy.posted",
             "circular.employers": b"circular.employer.registered"}[topic[len(prefix):]]
    good = [("ce_id", f"bad-{n}".encode()), ("ce_type", etype), ("ce_source", b"/harness"),
            ("ce_specversion", b"1.0"), ("ce_time", b"2027-01-01T00:00:00+00:00"),
            ("content-type", b"application/json")]
    kind = n % 7
    if kind == 0:
        return topic, b"k", b"{not json", good
    if kind == 1:
        return topic, b"k", b"[1, 2, 3]", good
    if kind == 2:
        return topic, b"k", b'{"worker_id": "x", "employer_id": "x"}', good  # fields missing
    if kind == 3:
        headers = [(k, b"circular.nothing.happened" if k == "ce_type" else v) for k, v in good]
        return topic, b"k", b"{}", headers
    if kind == 4:
        return topic, b"k", b"{}", [(k, v) for k, v in good if k != "ce_id"]
    if kind == 5:
        return topic, b"k", None, good
    return topic, b"k", b'{"employer_id": "e", "country": "XX", "worker_id": "w"}', \
        [*good, ("ce_schemaversion", b"99")]


# --- the scenarios -----------------------------------------------------------------------


@dataclass
class Result:
    name: str
    title: str
    verdict: Verdict
    outcome: Outcome
    expect_failure: bool = False
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        if self.expect_failure:
            return not self.verdict.ok
        return self.verdict.ok and all(self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {"name": self.name, "title": self.title, "passed": self.passed,
                "expect_failure": self.expect_failure, "verdict": self.verdict.as_dict(),
                "checks": self.checks, "seconds": round(o.seconds, 1), "faults": o.faults,
                "unplanned_restarts": o.restarts, "http": o.http,
                "dead_letters": len(o.dead_letters)}


def _compare(name: str, title: str, ref: Outcome, run: Outcome, **kw: Any) -> Result:
    return Result(name, title, verify(ref.effects, run.effects, ref.state, run.state), run,
                  **kw)


def matcher_kills(h: Harness) -> Result:
    ref = h.reference("market")
    n = len(matcher_workload(h.scale.events).stream)
    fault = f.Kill(at=f.positions(random.Random(h.seed), h.scale.kills, n // 10, n),
                   service="matcher")
    run = h._runs()["market"](fault)
    return _compare("matcher-kills", f"matcher SIGKILLed {h.scale.kills} times; a slice of "
                    "earlier records delivered again after newer ones", ref, run)


def tracker_kills(h: Harness) -> Result:
    ref = h.reference("placements")
    n = len(tracker_workload(h.scale.events).stream)
    fault = f.Kill(at=f.positions(random.Random(h.seed + 1), h.scale.kills, n // 10, n),
                   service="tracker")
    run = h._runs()["placements"](fault)
    return _compare("tracker-kills", f"tracker SIGKILLed {h.scale.kills} times", ref, run)


def gateway_kills(h: Harness) -> Result:
    ref = h.reference("gateway")
    _, phases = gateway_calls(h.scale.gateway_calls)
    n = sum(len(p) for p in phases)
    fault = f.GatewayKill(at=f.positions(random.Random(h.seed + 2), h.scale.gateway_kills,
                                         n // 20, n - n // 20))
    run = h._runs()["gateway"](fault)
    result = _compare("gateway-kills", f"gateway (API, relay, projector) SIGKILLed "
                      f"{h.scale.gateway_kills} times between commit and publish", ref, run)
    result.checks = {"every kill left committed writes unpublished": all(
        e["unpublished_at_kill"] > 0 for e in run.faults["events"]),
        "every write answered 2xx": _all_2xx(run)}
    return result


def broker_outage(h: Harness) -> Result:
    if h.broker.local is None:
        raise Skip("the broker is not the harness's own (from jars); cannot stop it")
    ref = h.reference("gateway")
    _, phases = gateway_calls(h.scale.gateway_calls)
    n = sum(len(p) for p in phases)
    fault = f.BrokerOutage(at=[n // 3], broker=h.broker.local,
                           seconds=h.scale.outage_seconds,
                           read_paths=["/agreements", "/matches?limit=20", "/vacancies/v0",
                                       "/workers/w1", "/placements"])
    run = h._runs()["gateway"](fault)
    result = _compare("broker-outage", f"broker stopped for {h.scale.outage_seconds:.0f} s "
                      "mid-stream", ref, run)
    reads = run.faults["reads_during_outage"]
    result.checks = {"every write answered 2xx": _all_2xx(run),
                     "reads kept working during the outage": reads["ok"] > 0
                     and reads["failed"] == 0}
    return result


def rebalance(h: Harness) -> Result:
    ref = h.reference("market")
    n = len(matcher_workload(h.scale.events).stream)
    fault = f.Rebalance(at=[n // 4, (3 * n) // 5])
    run = h._runs()["market"](fault)
    return _compare("matcher-rebalance", "two matcher workers; one killed, its partitions "
                    "moved, then scaled back to two", ref, run)


def malformed(h: Harness) -> Result:
    ref = h.reference("market")
    workload = matcher_workload(h.scale.events)
    run = h.run_direct("market", workload, ("projector", "matcher"),
                       malformed=h.scale.malformed)
    result = _compare("malformed-records", f"{h.scale.malformed} malformed records among "
                      f"{len(workload.stream):,} valid ones", ref, run)
    result.checks = {
        f"dead-letter topics hold exactly the {h.scale.malformed}":
            len(run.dead_letters) == h.scale.malformed,
        "every dead letter says why": all(run.dead_letters)}
    return result


def control(h: Harness) -> Result:
    """The matcher-kills scenario with duplicate suppression off: the stale records
    that come again (same ids) are applied again over newer state, and the verifier
    must see what that does."""
    ref = h.reference("market")
    workload = matcher_workload(h.scale.events)
    n = len(workload.stream)
    fault = f.Kill(at=f.positions(random.Random(h.seed), h.scale.kills, n // 10, n),
                   service="matcher")
    run = h.run_direct("market", workload, ("projector", "matcher"), fault,
                       env={"CIRCULAR_DEDUP": "false"}, stale=True)
    return _compare("control-no-dedup", "control: the matcher-kills scenario with duplicate "
                    "suppression off (must fail)", ref, run, expect_failure=True)


def _all_2xx(run: Outcome) -> bool:
    return all(200 <= int(s) < 300 for s in run.http["statuses"])


class Skip(Exception):
    """A scenario that cannot run on this machine, with the reason."""


SCENARIOS: dict[str, Callable[[Harness], Result]] = {
    "matcher-kills": matcher_kills, "tracker-kills": tracker_kills,
    "gateway-kills": gateway_kills, "broker-outage": broker_outage,
    "matcher-rebalance": rebalance, "malformed-records": malformed,
    "control-no-dedup": control,
}


def cleanup(h: Harness) -> None:
    shutil.rmtree(h.workdir, ignore_errors=True)
