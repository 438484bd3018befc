"""The matcher's steady phase (part of ``make bench``): after the backfill (the roster
registered in bulk, then its vacancies), what a running programme sends, as fast as
the matcher takes it, in three waves:

1. reviews: recruiters approve proposals the matcher made;
2. responses: workers accept the matches approved in wave 1;
3. returns: the accepted workers come home (``circular.placements``).

Each wave also carries the programme's background: new workers register, registered
ones change their profiles, employers post vacancies. A wave is written at once and
timed until the matcher's consumer group has no lag; the phase's events/s is all the
waves' events over all their seconds. The commands of a wave follow from the matcher's
answers to the one before (an acceptance needs an approval decided), so the waves
run one after another, as a programme's do."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import workers as wk
from schemas.events.base import Event
from schemas.events.matches import market_key
from schemas.topics import (
    MATCH_RESPONSES,
    MATCH_REVIEWS,
    MATCHER_APP,
    MATCHES,
    PLACEMENTS,
    TRIGGERS,
    VACANCIES,
    WORKERS,
)
from tests.bench.baseline import produce
from tests.bench.measure import records, wait_for_lag
from tests.bench.restart import World
from tests.support.kafka import group_lag
from tests.support.processes import ServiceProcess

RECRUITER = "r-bench"
#: of a wave's background: new registrations, profile changes, vacancies posted
MIX = {"registered": 0.35, "updated": 0.6, "vacancies": 0.05}


@dataclass
class Matches:
    """The matcher's matches as its topic tells them: each match's last status."""

    status: dict[str, str] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    _offsets: dict[TopicPartition, int] = field(default_factory=dict)

    def read(self, bootstrap: str, topic: str) -> None:
        """Read what was written since the last call (values as JSON, not validated:
        the figures are about the matcher, not this reader)."""
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            ends = consumer.end_offsets(parts)
            consumer.assign(parts)
            for tp in parts:
                consumer.seek(tp, self._offsets.get(tp, 0))
            while any(consumer.position(tp) < ends[tp] for tp in parts):
                for tp, batch in consumer.poll(timeout_ms=500, max_records=50_000).items():
                    for r in batch:
                        kind = dict(r.headers).get("ce_type", b"").decode()
                        value = orjson.loads(r.value)
                        self.status[value["match_id"]] = kind.rsplit(".", 1)[-1]
                        self.fields.setdefault(value["match_id"], value)
                    self._offsets[tp] = consumer.position(tp)
        finally:
            consumer.close()

    def with_status(self, status: str) -> list[dict[str, Any]]:
        return [self.fields[m] for m, s in sorted(self.status.items()) if s == status]


def _one_per_worker_and_vacancy(matches: list[dict[str, Any]], limit: int
                                ) -> list[dict[str, Any]]:
    """At most one match of each worker and of each vacancy, so every command of the
    wave can be granted (a worker accepts one match; a vacancy has few positions)."""
    workers: set[str] = set()
    vacancies: set[str] = set()
    out = []
    for m in matches:
        if m["worker_id"] in workers or m["vacancy_id"] in vacancies:
            continue
        workers.add(m["worker_id"])
        vacancies.add(m["vacancy_id"])
        out.append(m)
        if len(out) == limit:
            break
    return out


def _review(m: dict[str, Any]) -> mv.MatchReviewed:
    return mv.MatchReviewed(match_id=m["match_id"], vacancy_id=m["vacancy_id"],
                            worker_id=m["worker_id"],
                            market=market_key(m["destination_country"], m["isco_code"]),
                            decision=mv.Decision.APPROVE, reviewed_by=RECRUITER)


def _response(m: dict[str, Any]) -> mv.MatchResponded:
    return mv.MatchResponded(match_id=m["match_id"], vacancy_id=m["vacancy_id"],
                             worker_id=m["worker_id"],
                             market=market_key(m["destination_country"], m["isco_code"]),
                             decision=mv.Decision.ACCEPT)


def _returned(m: dict[str, Any]) -> pl.PlacementReturned:
    back = date(2027, 12, 1)
    return pl.PlacementReturned(
        placement_id=f"p-{m['match_id']}", match_id=m["match_id"], worker_id=m["worker_id"],
        employer_id=m["employer_id"], agreement_id=m["agreement_id"],
        return_id=f"r-{m['match_id']}", return_date=back, expected_return_date=back,
        on_time=True, early=False, reentry_from=back + timedelta(days=90))


class Steady:
    def __init__(self, world: World, matcher: ServiceProcess, events_per_wave: int) -> None:
        self.world, self.matcher = world, matcher
        self.per_wave = events_per_wave
        self.matches = Matches()
        self.updated = 0  # the next registered worker whose profile changes
        #: what the matcher reads: the backfill's topics, its own, and the commands'
        self.topics = [*world.inputs, *world.internal,
                       *(world.name(t) for t in (MATCH_REVIEWS, MATCH_RESPONSES, PLACEMENTS,
                                                 MATCHES, TRIGGERS))]

    def background(self, count: int) -> dict[str, list[Event]]:
        w = self.world
        n = {kind: int(count * share) for kind, share in MIX.items()}
        registered = [w.roster.worker(w.workers + i) for i in range(n["registered"])]
        w.workers += n["registered"]
        updated = []
        for _ in range(n["updated"]):
            i = self.updated % w.workers
            self.updated += 1
            fresh = w.roster.worker(i).model_dump(exclude={"worker_id"})
            updated.append(wk.WorkerProfileUpdated(worker_id=f"w{i}", **fresh))
        vacancies: list[Event] = [w.roster.vacancy(w.next_vacancy + i, w.employers)
                                  for i in range(n["vacancies"])]
        w.next_vacancy += n["vacancies"]
        return {w.name(WORKERS): [*registered, *updated], w.name(VACANCIES): vacancies}

    def wave(self, name: str, topic: Any, commands: list[Event]) -> dict[str, Any]:
        w = self.world
        batches = self.background(max(0, self.per_wave - len(commands)))
        batches[w.name(topic)] = commands
        count = sum(len(events) for events in batches.values())
        started = time.monotonic()
        for target, events in batches.items():
            asyncio.run(produce(w.bootstrap, target, records(events)))
        # the group never committed on partitions it never read (of the commands'
        # topics, say): those count from their start, so it is not waited for
        wait_for_lag(w.bootstrap, f"{w.prefix}{MATCHER_APP}", self.topics, self.matcher,
                     lag_of=group_lag)
        seconds = time.monotonic() - started
        self.matches.read(w.bootstrap, w.name(MATCHES))
        result = {"wave": name, "events": count, "commands": len(commands),
                  "seconds": seconds, "events_per_second": count / seconds}
        print(f"steady wave {name}: {result}", flush=True)
        return result

    def run(self) -> dict[str, Any]:
        self.matches.read(self.world.bootstrap, self.world.name(MATCHES))
        share = self.per_wave // 10  # a tenth of a wave are its commands
        proposed = _one_per_worker_and_vacancy(self.matches.with_status("proposed"), share)
        waves = [self.wave("reviews", MATCH_REVIEWS, [_review(m) for m in proposed])]
        approved = {m["match_id"] for m in proposed}
        to_accept = [m for m in self.matches.with_status("approved")
                     if m["match_id"] in approved]
        waves.append(self.wave("responses", MATCH_RESPONSES,
                               [_response(m) for m in to_accept]))
        accepted = [m for m in self.matches.with_status("accepted")
                    if m["match_id"] in approved]
        waves.append(self.wave("returns", PLACEMENTS, [_returned(m) for m in accepted]))
        events = sum(x["events"] for x in waves)
        seconds = sum(x["seconds"] for x in waves)
        outcome = Counter(self.matches.status[m] for m in approved)
        return {"events": events, "seconds": seconds, "events_per_second": events / seconds,
                "reviews": len(proposed), "approved": len(to_accept),
                "accepted": len(accepted), "outcome_of_reviewed": dict(outcome),
                "waves": waves}
