"""Restart of a stream worker (part of ``make bench``): how long after a SIGKILL a
new worker makes its next decision, and whether that grows with history.

Rounds of churn rewrite the state again and again (every worker of the roster sends
a new profile, which re-scores and displaces proposals), so the changelogs hold ever
more superseded versions while the state itself stays the size of the roster. After
the rounds asked for, the worker is killed with SIGKILL and started again on the
same local files; five vacancies are posted at once, and the time from the new
process's start to the first proposal for any of them on ``circular.matches`` is the
restart time.
It covers the group's rebalance (the dead member is only dropped after the session
timeout), the tables' recovery and the first decision; the restarted worker logs at
INFO, and its log lines say when each of these ended (:func:`phases`)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kafka import KafkaProducer

from schemas.codec import encode
from schemas.events import matches as mv
from schemas.events import workers as wk
from schemas.topics import MATCHER_APP, MATCHES, TABLES, VACANCIES, WORKERS, changelog
from tests.bench.baseline import produce
from tests.bench.measure import at_end, records, records_written, seconds_until, wait_for_lag
from tests.bench.roster import Roster
from tests.support.processes import ServiceProcess

PROPOSAL_TIMEOUT_S = 600.0
PROBES = 5  # vacancies posted after the restart; the first proposal to any counts
#: where the restarted worker's time went: the first log line saying each, in order
PHASES = {
    "joining": "(Re-)joining group",  # aiokafka: asks the group for partitions
    "joined": "Joined group",  # the dead member dropped, partitions assigned
    "restoring": "Restoring state from changelog topics",  # faust's recovery starts
    "changelogs_read": "Done reading from changelog topics",
    "recovered": "Recovery complete",
    "ready": "Worker ready",
}


@dataclass
class World:
    """Where the matcher under test runs and what it was fed so far."""

    bootstrap: str
    prefix: str
    roster: Roster
    workers: int
    employers: int
    next_vacancy: int
    inputs: list[str]
    internal: list[str]

    def name(self, topic: Any) -> str:
        return str(topic.prefixed(self.prefix).name)


def churn(world: World, matcher: ServiceProcess) -> float:
    """Every worker sends a new profile; returns the seconds until the matcher caught
    up with all of it."""
    def updated(i: int) -> wk.WorkerProfileUpdated:
        fresh = world.roster.worker(i).model_dump(exclude={"worker_id"})
        return wk.WorkerProfileUpdated(worker_id=f"w{i}", **fresh)

    started = time.monotonic()
    asyncio.run(produce(world.bootstrap, world.name(WORKERS),
                        records([updated(i) for i in range(world.workers)])))
    _caught_up(world, matcher)
    return time.monotonic() - started


def _caught_up(world: World, matcher: ServiceProcess) -> None:
    wait_for_lag(world.bootstrap, f"{world.prefix}{MATCHER_APP}",
                 world.inputs + world.internal, matcher)


def changelog_records(world: World) -> int:
    """Records ever written to the matcher's changelogs (their end offsets): the
    history a recovery without compaction or local state would read."""
    names = {changelog(world.prefix + MATCHER_APP, table).name for table in TABLES[MATCHER_APP]}
    written = records_written(world.bootstrap, world.prefix + MATCHER_APP)
    return sum(n for topic, n in written.items() if topic in names)


def restart(world: World, matcher: ServiceProcess) -> dict[str, Any]:
    """SIGKILL, start again, post vacancies: seconds from the start to a proposal."""
    consumer = at_end(world.bootstrap, world.name(MATCHES))
    # a few, so that one of them surely has eligible workers (on a small roster a
    # market may have none)
    probes = [world.roster.vacancy(world.next_vacancy + i, world.employers)
              for i in range(PROBES)]
    world.next_vacancy += PROBES
    wanted = {v.vacancy_id for v in probes}
    history = changelog_records(world)
    matcher.kill()
    log_from = matcher.log_path.stat().st_size if matcher.log_path.exists() else 0
    # the restarted worker says what it does at INFO, faust and aiokafka included
    matcher.env.update(CIRCULAR_LOG_LEVEL="INFO", CIRCULAR_LIBRARY_LOG_LEVEL="INFO")
    wall, started = time.time(), time.monotonic()
    matcher.restart()
    producer = KafkaProducer(bootstrap_servers=world.bootstrap)
    for vacancy in probes:
        enc = encode(vacancy, source="/bench")
        producer.send(world.name(VACANCIES), key=enc.key, value=enc.value,
                      headers=enc.headers)
    producer.flush()
    producer.close()
    proposed = seconds_until(
        consumer, lambda e: isinstance(e, mv.MatchProposed) and e.vacancy_id in wanted,
        matcher, started, PROPOSAL_TIMEOUT_S)
    _caught_up(world, matcher)
    return {"seconds_to_first_proposal": proposed, "changelog_records_written": history,
            "phases": phases(matcher.log_path.read_bytes()[log_from:], wall)}


def phases(log: bytes, wall: float) -> dict[str, Any]:
    """Seconds from ``wall`` (the restart) to the first log line of each of
    :data:`PHASES`, and the stages' own recovery (the "stage recovered" lines: the
    indexes and processed ids rebuilt from the local tables) as the last such line
    and the sum of their durations."""
    seen: dict[str, Any] = {}
    stages: list[dict[str, Any]] = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
            # eventbus.logs' time: logging's asctime, local time to the millisecond
            at = datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except (ValueError, KeyError, TypeError, IndexError):
            continue  # not one of our JSON lines
        message = str(entry.get("message", ""))
        for name, marker in PHASES.items():
            if name not in seen and marker in message:
                seen[name] = round(at - wall, 3)
        if message == "stage recovered":
            stages.append({"at": round(at - wall, 3), **{
                k: entry.get(k) for k in ("stage", "keys", "read_seconds", "seconds")}})
    if stages:
        seen["stages_recovered"] = max(s["at"] for s in stages)
        seen["stage_recovery_seconds"] = round(sum(s["seconds"] for s in stages), 3)
        seen["stages"] = stages
    return seen


def rounds(world: World, matcher: ServiceProcess, after: list[int]) -> list[dict[str, Any]]:
    """Churn, and restart after each number of rounds in ``after`` (e.g. 1 and 5)."""
    out = []
    done = 0
    for target in sorted(after):
        churn_s = 0.0
        while done < target:
            done += 1
            churn_s += churn(world, matcher)
        result = {"after_rounds": target, "churn_seconds": churn_s, **restart(world, matcher)}
        print(f"restart after {target} round(s) of churn: {result}", flush=True)
        out.append(result)
    return out
