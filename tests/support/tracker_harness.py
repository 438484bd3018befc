"""The tracker's handlers wired as on Kafka (one partition), outputs collected; and
an in-process micro-benchmark of the placement stage (no broker):

    python -m tests.support.tracker_harness [--placements 20000] [--days 365]

It reports microseconds per event for the handler alone (state on a dict, as the
stage stages and commits it) and for the whole stage (``eventbus.stage.Stage``:
decoding, dedup, the handler, encoding outputs, changelog and outbox writes) with a
fake table and producer. Times are the process's CPU time (the machine may be
shared), the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from eventbus.handlers import Context, StateTx
from eventbus.stage import Stage
from schemas import topics as t
from schemas.codec import Decoded, decode, encode
from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events.base import Event
from schemas.events.clock import ClockTicked, TickSource
from services.tracker.clock_stage import ClockStage
from services.tracker.placements_stage import PlacementShard
from tests.support.stage_fakes import Message, Record, Table
from tests.support.stage_harness import StageHarness


class TrackerHarness:
    def __init__(self) -> None:
        self.shard = PlacementShard(t.PLACEMENTS.name, t.TRIGGERS.name)
        self.clock = StageHarness(ClockStage(t.TRACKER_TICKS.name, 1).handle)
        self.placements = StageHarness(self.shard.handle, self.shard.indexes,
                                       after_batch=self.shard.after_batch)
        self.published: list[Decoded] = []

    def send(self, event: Event, *, event_id: str | None = None) -> list[Decoded]:
        enc = encode(event, source="/tests", event_id=event_id)
        decoded = decode(enc.value, enc.headers)
        before = len(self.published)
        queue = deque([("clock" if event.type == "circular.clock.ticked" else "placements",
                        decoded)])
        while queue:
            stage, item = queue.popleft()
            for out in (self.clock if stage == "clock" else self.placements).feed(item):
                routed = decode(*_encoded(out))
                if out.topic == t.TRACKER_TICKS.name:
                    queue.append(("placements", routed))
                else:
                    self.published.append(routed)
        return self.published[before:]

    def kinds(self, decoded: list[Decoded]) -> list[str]:
        out = []
        for d in decoded:
            kind = getattr(d.event, "kind", None)
            out.append(f"trigger:{kind.value}" if kind else d.event.type.split(".", 1)[1])
        return out


def _encoded(out):  # type: ignore[no-untyped-def]
    enc = encode(out.event, source="/tracker", event_id=out.event_id)
    return enc.value, enc.headers


# -- micro-benchmark ------------------------------------------------------------------

FIRST_DAY = date(2027, 1, 1)


def workload(count: int, days: int, seed: int = 5) -> tuple[list[Event], list[Event]]:
    """As the broker benchmark (tests/bench/tracker.py): accepted matches and their
    departures spread over a year, contracts of 3 to 12 months; then daily ticks."""
    rng = random.Random(seed)
    events: list[Event] = [ClockTicked(date=FIRST_DAY - timedelta(days=1),
                                       source=TickSource.ADMIN)]
    for n in range(count):
        events.append(mv.MatchAccepted(
            match_id=f"m{n}", vacancy_id=f"v{n % 5000}", worker_id=f"w{n}",
            employer_id=f"e{n % 700}", agreement_id="am-de", destination_country="DE",
            isco_code="6111", contract_months=rng.choice((3, 6, 9, 12)),
            return_grace_days=14, reentry_cooldown_months=3))
        events.append(pe.DepartureRecorded(
            match_id=f"m{n}", worker_id=f"w{n}", recorded_by="u-bench",
            departure_date=FIRST_DAY + timedelta(days=rng.randrange(365))))
    ticks: list[Event] = [ClockTicked(date=FIRST_DAY + timedelta(days=d),
                                      source=TickSource.ADMIN) for d in range(days)]
    return events, ticks


def _decoded(events: list[Event]) -> list[Decoded]:
    out = []
    for e in events:
        enc = encode(e, source="/bench")
        out.append(decode(enc.value, enc.headers))
    return out


def bench_handler(events: list[Event], ticks: list[Event], batch: int = 500
                  ) -> dict[str, float]:
    """The handler on a dict table, batches as the stage makes them (a child
    transaction per record, merged; the batch's writes committed at its end)."""
    shard = PlacementShard(t.PLACEMENTS.name, t.TRIGGERS.name)
    table: dict[str, Any] = {}
    result: dict[str, float] = {}
    for name, items in (("events", _decoded(events)), ("ticks", _decoded(ticks))):
        outputs = 0
        started = time.process_time()
        for first in range(0, len(items), batch):
            tx = StateTx(table, indexes=shard.indexes)
            for decoded in items[first:first + batch]:
                child = tx.child()
                outputs += len(list(shard.handle(child, decoded, Context("t", 0, 0, 6))))
                tx.merge(child)
            outputs += len(list(shard.after_batch(tx, Context("t", 0, -1, 6))))
            for key, value in tx.staged().items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
        seconds = time.process_time() - started
        result[f"{name}_us_per_record"] = seconds / len(items) * 1e6
        result[f"{name}_outputs"] = outputs
        result[f"{name}_seconds"] = seconds
    return result


class _Producer:
    def __init__(self) -> None:
        self.sent = 0

    async def send(self, topic: str, key: Any, value: Any, partition: Any, timestamp: Any,
                   headers: Any) -> asyncio.Future[None]:
        self.sent += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class _Flow:
    def is_active(self) -> bool:
        return True


@dataclass
class _App:
    producer: _Producer = field(default_factory=_Producer)
    consumer_generation_id: int = 1
    flow_control: _Flow = field(default_factory=lambda: _Flow())


def bench_stage(events: list[Event], ticks: list[Event], batch: int = 500
                ) -> dict[str, float]:
    """The whole placement stage (eventbus.stage.Stage.process_batch) on a fake table
    and producer: records as they come off Kafka, outputs encoded and "sent"."""
    shard = PlacementShard(t.PLACEMENTS.name, t.TRIGGERS.name)
    app = _App()
    stage = Stage(app=app, name="placements", source="/circular/tracker",  # type: ignore[arg-type]
                  topics=("movements", "ticks"), handler=shard.handle,
                  table=Table(), indexes=shard.indexes,  # type: ignore[arg-type]
                  after_batch=shard.after_batch)
    result: dict[str, float] = {}

    def records(topic: str, items: list[Event]) -> list[Record]:
        out = []
        for offset, e in enumerate(items):
            enc = encode(e, source="/bench")
            out.append(Record(enc.key, enc.value, Message(topic, 0, offset,
                                                          list(enc.headers), 1)))
        return out

    async def run(items: list[Record]) -> None:
        for first in range(0, len(items), batch):
            await stage.process_batch(items[first:first + batch])  # type: ignore[arg-type]

    for name, items in (("events", records("movements", events)),
                        ("ticks", records("ticks", ticks))):
        sent = app.producer.sent
        started = time.process_time()
        asyncio.run(run(items))
        seconds = time.process_time() - started
        result[f"{name}_us_per_record"] = seconds / len(items) * 1e6
        result[f"{name}_sent"] = app.producer.sent - sent
        result[f"{name}_seconds"] = seconds
    return result


def _best(run: Callable[[], dict[str, float]], repeat: int) -> dict[str, float]:
    runs = [run() for _ in range(repeat)]
    return {k: min(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--placements", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    events, ticks = workload(args.placements, args.days)
    for name, bench in (("handler", bench_handler), ("stage", bench_stage)):
        r = _best(lambda b=bench: b(events, ticks), args.repeat)  # type: ignore[misc]
        print(f"{name}: events {r['events_us_per_record']:.1f} us/record, "
              f"ticks {r['ticks_us_per_record'] / 1000:.2f} ms/tick "
              f"({r['ticks_seconds']:.2f} s for {args.days} ticks)", flush=True)


if __name__ == "__main__":
    main()
