"""The gateway projector alone, in process: how many events per second
``Projector.apply_batch`` folds into the read models, on SQLite and PostgreSQL, with
no broker (the records are built as the consumer would hand them over).

A fresh migrated database gets vacancies and workers (a few erased); then a stream
shaped like the matcher's and tracker's output under the gateway benchmark: per
vacancy a verdict, about ten proposals, some approvals, acceptances, withdrawals,
quota changes, placements and triggers. It is applied in polls of ``--batch``
records, then once more (every event a repeat: what a redelivery costs).

    python -m tests.bench.projector [--events 6000] [--batch 500] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import func, select

from schemas.codec import encode
from schemas.events import matches as mev
from schemas.events import placements as pev
from schemas.events import triggers as tev
from schemas.events import vacancies as vev
from schemas.events.base import Event
from schemas.topics import MATCHES, PLACEMENTS, QUOTA, TRIGGERS, VACANCY_STATUS
from services.gateway.database.core import make_engine, make_sessionmaker
from services.gateway.database.migrate import upgrade
from services.gateway.matches.models import Match
from services.gateway.projections.consumer import Projector
from services.gateway.projections.models import ProcessedEvent
from services.gateway.projections.registry import projections
from services.gateway.timeline.models import TimelineEntry
from services.gateway.vacancies.models import Vacancy
from services.gateway.workers.models import Worker
from tests.bench.measure import database

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 6
WORKERS = 400


def world(sessions: Any, vacancies: int) -> None:
    with sessions() as s:
        for n in range(vacancies):
            s.add(Vacancy(id=f"v{n}", employer_id=f"e{n % 8}", destination_country="DE",
                          isco_code="6111", start_date=date(2027, 4, 1) + timedelta(n % 180),
                          positions=3, body={}, request_hash="h"))
        for n in range(WORKERS):
            s.add(Worker(id=f"w{n}", full_name=f"Aram {n}", date_of_birth=date(1990, 1, 1),
                         passport_number=f"BP{n:08d}", citizenship="AM", profile={},
                         request_hash="h", status="erased" if n % 50 == 0 else "active"))
        s.commit()


def stream(count: int, rng: random.Random) -> Iterator[tuple[str, Event]]:
    """(topic, event), about ``count`` of them, as the matcher and tracker send them."""
    made = 0
    n = 0
    while made < count:
        vid, eid = f"v{n}", f"e{n % 8}"
        n += 1
        yield VACANCY_STATUS.name, vev.VacancyEvaluated(
            vacancy_id=vid, employer_id=eid, agreement_id="am-de", status=vev.Verdict.OPEN)
        made += 1
        for w in rng.sample(range(WORKERS), 10):
            base = {"match_id": mev.match_id(f"w{w}", vid), "vacancy_id": vid,
                    "worker_id": f"w{w}", "employer_id": eid, "agreement_id": "am-de",
                    "destination_country": "DE", "isco_code": "6111"}
            yield MATCHES.name, mev.MatchProposed(
                **base, score=rng.random(), reasons=[
                    {"code": "skills", "text": "covers 2 of 3 required skills", "weight": 0.4},
                    {"code": "experience", "text": "5 years", "weight": 0.3}])
            made += 1
            roll = rng.random()
            if roll < 0.15:
                yield MATCHES.name, mev.MatchApproved(**base, reviewed_by="u-rec")
                yield QUOTA.name, mev.QuotaUsageChanged(
                    agreement_id="am-de", isco_code="6111", year=2027, annual_quota=10_000,
                    used=made)
                made += 2
                if roll < 0.05:
                    yield MATCHES.name, mev.MatchAccepted(
                        **base, contract_months=6, return_grace_days=14,
                        reentry_cooldown_months=3)
                    pid = pev.placement_id(base["match_id"])
                    yield PLACEMENTS.name, pev.PlacementStarted(
                        placement_id=pid, match_id=base["match_id"], worker_id=f"w{w}",
                        vacancy_id=vid, employer_id=eid, agreement_id="am-de",
                        destination_country="DE", isco_code="6111",
                        departure_date=date(2027, 4, 1), expected_return_date=date(2027, 10, 1))
                    yield TRIGGERS.name, tev.TriggerFired(
                        trigger_id=f"t-{made}", worker_id=f"w{w}", kind="counselling_referral",
                        cause=f"ret-{made}", reason="Returned: offer a consultation.",
                        due_date=date(2027, 11, 1))
                    made += 3
            elif roll < 0.25:
                yield MATCHES.name, mev.MatchWithdrawn(**base, reason="vacancy_filled")
                made += 1
        if rng.random() < 0.3:
            yield VACANCY_STATUS.name, vev.VacancyPositionsChanged(
                vacancy_id=vid, positions=3, positions_filled=1)
            made += 1


def polls(events: list[tuple[str, Event]], batch: int) -> list[dict[TopicPartition,
                                                                    list[ConsumerRecord]]]:
    """The records as ``KafkaConsumer.poll`` hands them over, ``batch`` at a time."""
    offsets: dict[tuple[str, int], int] = {}
    records = []
    at = datetime(2027, 3, 1, tzinfo=UTC)
    for topic, event in events:
        enc = encode(event, source="/bench", time=at)
        partition = zlib.crc32(enc.key) % PARTITIONS
        offset = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = offset + 1
        records.append(ConsumerRecord(topic, partition, 0, offset, 0, 0, enc.key, enc.value,
                                      enc.headers, None, len(enc.key), len(enc.value), 0))
    out = []
    for start in range(0, len(records), batch):
        poll: dict[TopicPartition, list[ConsumerRecord]] = {}
        for r in records[start:start + batch]:
            poll.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        out.append(poll)
    return out


def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        rng = random.Random(7)
        events = list(stream(args.events, rng))
        world(sessions, vacancies=len(events) // 10 + 10)
        batches = polls(events, args.batch)
        projector = Projector(sessions=sessions, bootstrap=[], topics=[], group_id="bench",
                              projections=projections())
        wall, cpu = time.perf_counter(), time.process_time()
        for poll in batches:
            projector.apply_batch(poll, None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        again_wall = time.perf_counter()
        for poll in batches:
            projector.apply_batch(poll, None)
        again_wall = time.perf_counter() - again_wall
        with sessions() as s:
            processed = s.scalar(select(func.count()).select_from(ProcessedEvent))
            matches = s.scalar(select(func.count()).select_from(Match))
            timeline = s.scalar(select(func.count()).select_from(TimelineEntry))
        assert processed == len(events) == projector.applied, (processed, len(events))
        assert projector.dead_letters == 0
        return {"events": len(events), "batch": args.batch, "seconds": round(wall, 3),
                "events_per_second": round(len(events) / wall),
                "cpu_ms_per_event": round(cpu * 1000 / len(events), 3),
                "repeats_per_second": round(len(events) / again_wall),
                "rows": {"processed_events": processed, "matches": matches,
                         "timeline": timeline}}
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.projector")
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=500, help="records per poll")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", help="a server to create the database on")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "projector.json"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"command": " ".join(["python -m tests.bench.projector",
                                                    *(sys.argv[1:] if argv is None else argv)])}
    with tempfile.TemporaryDirectory(prefix="circular-proj-") as tmp:
        for kind in args.databases.split(","):
            with database(kind, Path(tmp) / "projector.db", args.postgres_url) as url:
                results[kind] = measure(url, args)
            print(f"{kind}: {results[kind]}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
