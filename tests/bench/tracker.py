"""Tracker benchmark (``make bench``): one tracker worker on a real broker.

1. Events: 100,000 accepted matches and their departures (spread over a year,
   contracts of 3 to 12 months) are written first; the bare consumer reads the
   same records, then the tracker works through them. Events per second through
   the tracker, as a ratio to the bare consumer's, in the same run.
2. Ticks: a year of daily ticks, each taking the placements that fell due
   (reminders, overdue, referrals); ticks processed per second, and the effects
   (placement events and triggers) they produced.
3. Memory: the tracker's peak resident set, and what it holds above the idle
   process per 100,000 placements (as the matcher's figure).
4. Restart: the tracker is killed with SIGKILL and started again on the same local
   files; a new placement (accepted match, departure) is written at once, and the
   time from the new process's start to its ``PlacementStarted`` is measured.

    python -m tests.bench.tracker [--placements 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from eventbus.admin import ensure_topics
from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events.base import Event
from schemas.events.clock import ClockTicked, TickSource
from schemas.topics import CLOCK, MATCHES, MOVEMENTS, PLACEMENTS, TRIGGERS, catalogue
from tests.bench.baseline import bare_consume, produce
from tests.bench.measure import (
    at_end,
    idle_rss_mib,
    peak_rss_mib,
    records,
    seconds_until,
    service_env,
    wait_for_lag,
    write_results,
)
from tests.support.brokers import session_broker
from tests.support.kafka import read_all
from tests.support.processes import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]
FIRST_DAY = date(2027, 1, 1)


def placements(count: int, seed: int = 5) -> tuple[list[Event], list[Event]]:
    rng = random.Random(seed)
    accepted: list[Event] = []
    departed: list[Event] = []
    for n in range(count):
        accepted.append(mv.MatchAccepted(
            match_id=f"m{n}", vacancy_id=f"v{n % 5000}", worker_id=f"w{n}",
            employer_id=f"e{n % 700}", agreement_id="am-de", destination_country="DE",
            isco_code="6111", contract_months=rng.choice((3, 6, 9, 12)),
            return_grace_days=14, reentry_cooldown_months=3))
        departed.append(pe.DepartureRecorded(
            match_id=f"m{n}", worker_id=f"w{n}", recorded_by="u-bench",
            departure_date=FIRST_DAY + timedelta(days=rng.randrange(365))))
    return accepted, departed


def restart(bootstrap: str, name: dict[str, str], tracker: ServiceProcess, n: int
            ) -> dict[str, Any]:
    """SIGKILL, start again, record a departure: seconds from the start to its
    placement."""
    accepted, departed = placements(n + 1, seed=99)
    consumer = at_end(bootstrap, name[PLACEMENTS.name])
    tracker.kill()
    started = time.monotonic()
    tracker.restart()
    match = accepted[-1]
    match = match.model_copy(update={"match_id": "m-restart", "worker_id": "w-restart"})
    departure = departed[-1].model_copy(update={"match_id": "m-restart",
                                                "worker_id": "w-restart"})
    asyncio.run(produce(bootstrap, name[MATCHES.name], records([match])))
    asyncio.run(produce(bootstrap, name[MOVEMENTS.name], records([departure])))
    seconds = seconds_until(consumer, lambda e: isinstance(e, pe.PlacementStarted)
                            and e.match_id == "m-restart", tracker, started)
    return {"seconds_to_first_placement": seconds,
            "store": os.environ.get("CIRCULAR_TABLE_STORE", "default")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tracker benchmark")
    parser.add_argument("--placements", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "tracker.json"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"placements": args.placements}
    with session_broker() as broker:
        bootstrap = broker.bootstrap
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        assert not ensure_topics(bootstrap, catalogue(prefix)).problems
        name = {t.name: t.prefixed(prefix).name for t in (CLOCK, MATCHES, MOVEMENTS,
                                                          PLACEMENTS, TRIGGERS)}
        accepted, departed = placements(args.placements)
        asyncio.run(produce(bootstrap, name[CLOCK.name], records(
            [ClockTicked(date=FIRST_DAY - timedelta(days=1), source=TickSource.ADMIN)])))
        for topic, events in ((name[MATCHES.name], accepted), (name[MOVEMENTS.name], departed)):
            asyncio.run(produce(bootstrap, topic, records(events)))
        bare_seconds = sum(asyncio.run(bare_consume(bootstrap, topic, args.placements))
                           for topic in (name[MATCHES.name], name[MOVEMENTS.name]))
        events = 2 * args.placements
        var = Path(tempfile.mkdtemp(prefix="circular-bench-"))
        env = {**service_env(bootstrap, prefix, var), "CIRCULAR_TRACKER_DAILY_TICK": "false"}
        tracker = ServiceProcess("tracker", ["services.tracker"], env,
                                 var / "tracker.log").start()
        assert tracker.proc is not None
        idle = idle_rss_mib(tracker.proc.pid)
        group = f"{prefix}circular-tracker"
        ticks_topic = f"{prefix}circular-tracker.ticks"
        inputs = [name[MATCHES.name], name[MOVEMENTS.name], name[CLOCK.name], ticks_topic]
        seconds = wait_for_lag(bootstrap, group, inputs, tracker)
        results["events"] = {"events": events, "seconds": seconds,
                             "tracker_eps": events / seconds,
                             "bare_eps": events / bare_seconds,
                             "ratio": (events / seconds) / (events / bare_seconds)}
        print(f"events: {events / seconds:.0f}/s through the tracker, "
              f"{events / bare_seconds:.0f}/s bare", flush=True)
        ticks = [ClockTicked(date=FIRST_DAY + timedelta(days=d), source=TickSource.ADMIN)
                 for d in range(args.days)]
        asyncio.run(produce(bootstrap, name[CLOCK.name], records(ticks)))
        seconds = wait_for_lag(bootstrap, group, inputs, tracker)
        produced = read_all(bootstrap, [name[PLACEMENTS.name], name[TRIGGERS.name]], settle=3)
        effects = len(produced) - args.placements  # all but the PlacementStarted records
        results["ticks"] = {"ticks": args.days, "seconds": seconds,
                            "ticks_per_second": args.days / seconds, "effects": effects,
                            "effects_per_second": effects / seconds}
        print(f"ticks: {args.days / seconds:.1f}/s, {effects} effects "
              f"({effects / seconds:.0f}/s)", flush=True)
        peak = peak_rss_mib(tracker.proc.pid)
        results["memory"] = {"peak_rss_mib": peak, "idle_rss_mib": idle,
                             "per_100k_placements_mib": (peak - idle) * 100_000
                             / args.placements}
        print(f"memory: peak {peak:.0f} MiB, idle {idle:.0f} MiB", flush=True)
        results["restart"] = restart(bootstrap, name, tracker, args.placements)
        print(f"restart: {results['restart']}", flush=True)
        tracker.stop()
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
