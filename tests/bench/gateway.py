"""Gateway benchmark (``make bench``): the whole system as separate processes (the
gateway's ``api``, ``relay`` and ``projector``, the matcher and the tracker, each
``python -m services...`` as ``make up`` runs them) on a real broker, with a fresh
topic prefix and a fresh database (SQLite, or with ``--database postgresql`` a fresh
database on a PostgreSQL server of its own that flushes to disk as production would:
``tests.support.postgres``), seeded over HTTP with a small world.

1. Load: ``--connections`` closed-loop clients in this process make a mixed load of
   reads and writes as the roles would (see ``MIX``) for ``--seconds``: requests/s,
   p50/p99 latency, errors (any non-2xx, any transport error). The baseline is a
   bare FastAPI endpoint returning a constant body, served by the gateway's own
   ``serve.run`` (same uvicorn, processes and settings) under the same load generator in
   the same run; ratio = gateway rps / bare rps. The generator is aiohttp: httpx's
   pool tops out near 200 requests/s here and would cap the baseline. The phases of
   ``READING`` only help read the ratio: the thread-pool hop alone, the stack's floor
   (one primary-key read, no middleware or auth) in a thread and on the event loop,
   and the gateway's cheapest request alone.
2. End to end: a steady ``--rate`` writes/s through the API (one vacancy in
   ``--vacancy-every``, the rest worker registrations by recruiters; a third of the
   seeded workers are eligible for any vacancy). For each vacancy: from sending
   ``POST /vacancies`` to the response of the first ``GET /vacancies/{id}/matches``
   (as a recruiter) that shows a proposal. Each pending vacancy is polled every
   ``--poll-ms``, so the figure is high by at most one poll window (reported). The
   baseline is a bare Kafka round trip at the same rate: a plain producer sends, a
   plain consumer (partitions assigned) on the same broker receives.
3. End to end, pushed: the same steady writes again, no polling: each recruiter has
   one ``GET /stream?kind=match`` open, and a vacancy's figure is from sending
   ``POST /vacancies`` to the first ``match proposed`` event for it on the stream of
   the recruiter it was given to (beside the polled figure of phase 2).

    python -m tests.bench.gateway [--seconds 60 --connections 16 --rate 50] [--quick]
                                  [--api-workers N] [--database postgresql]

``--api-workers N`` runs the API (and the bare server) as N processes behind its port
(``CIRCULAR_API_WORKERS``; default: the gateway's own default for this machine). Each
run also keeps its results as ``var/bench/gateway-api-N.json``; the report shows one
row per N from the latest run of each, so one and two processes are compared by
running the bench once with each.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from sqlalchemy.engine import make_url

from deploy.kafka.broker import free_port
from eventbus.admin import ensure_topics
from schemas.topics import MATCHER_APP, TRACKER_APP, VACANCIES, catalogue
from services.gateway.database.migrate import upgrade
from services.gateway.settings import GatewaySettings
from tests.bench.measure import database, write_results
from tests.support.brokers import session_broker
from tests.support.processes import ServiceProcess, wait_for
from tests.support.system import System

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "var" / "bench"
LOGS = BENCH / "gateway-logs"  # the services' logs of the last run
PASSWORD = "bench-password-long-enough"
DESTINATIONS = ("DE", "PL", "KR")
OCCUPATIONS = ("6111", "7112", "9333")
SKILLS = ("tractor", "pruning", "irrigation", "forklift", "packing", "welding")
SERVICES = ("api", "relay", "projector", "matcher", "tracker")


# -- the world: bodies as the roles send them ------------------------------------------

def agreement_body(dest: str) -> dict[str, Any]:
    return {"agreement_id": f"am-{dest.lower()}", "origin_country": "AM",
            "destination_country": dest, "title": f"Armenia-{dest} seasonal work",
            "valid_from": "2027-01-01", "valid_until": "2029-12-31", "max_contract_months": 9,
            "min_age": 18, "max_age": 60, "reentry_cooldown_months": 3, "return_grace_days": 14,
            "occupations": [{"isco_code": o, "annual_quota": 1_000_000,
                             "min_monthly_wage": {"amount": "1500", "currency": "EUR"}}
                            for o in OCCUPATIONS]}


def worker_body(n: int, rng: random.Random, versatile: bool) -> dict[str, Any]:
    """A versatile worker is eligible for any vacancy of the bench; others vary."""
    occupations = OCCUPATIONS if versatile else rng.sample(OCCUPATIONS, rng.choice((1, 2)))
    return {"worker_id": f"w{n}", "full_name": f"Aram Hakobyan {n}",
            "date_of_birth": str(date(1972, 1, 1) + timedelta(days=rng.randrange(365 * 27))),
            "passport_number": f"BP{n:08d}", "phone": f"+374 55 {n:06d}",
            "email": f"aram{n}@mail.am", "region": "Lori", "citizenship": "AM",
            "occupations": [{"isco_code": o, "experience_years": 5 if versatile
                             else rng.randrange(0, 16)} for o in occupations],
            "skills": rng.sample(SKILLS, rng.randrange(1, 5)),
            "languages": [{"language": "en", "level": rng.choice(("A2", "B1", "B2"))}],
            "preferred_destinations": [] if versatile else rng.sample(DESTINATIONS, 1),
            "available_from": str(date(2027, 1, 1) + timedelta(days=rng.randrange(60))),
            "consent_matching": True}


def vacancy_body(n: int, employer_id: str, dest: str, rng: random.Random) -> dict[str, Any]:
    """Legal, and within reach of every versatile worker."""
    return {"vacancy_id": f"v{n}", "employer_id": employer_id, "destination_country": dest,
            "isco_code": rng.choice(OCCUPATIONS), "title": "Harvest hand",
            "positions": rng.choice((1, 2, 3, 5)),
            "monthly_wage": {"amount": str(rng.randrange(1600, 2600)), "currency": "EUR"},
            "contract_months": rng.choice((3, 6, 9)),
            "start_date": str(date(2027, 4, 1) + timedelta(days=rng.randrange(180))),
            "required_skills": rng.sample(SKILLS, rng.randrange(0, 3)),
            "min_experience_years": rng.randrange(0, 3), "housing_provided": rng.random() < .5}


@dataclass
class World:
    admin: str
    recruiters: list[str] = field(default_factory=list)
    employers: dict[str, tuple[str, str]] = field(default_factory=dict)  # id: (dest, token)
    worker_users: dict[str, str] = field(default_factory=dict)  # worker id: token
    workers: list[str] = field(default_factory=list)
    vacancies: dict[str, list[str]] = field(default_factory=dict)  # employer id: ids
    rng: random.Random = field(default_factory=lambda: random.Random(6))
    ids: Iterator[int] = field(default_factory=itertools.count)

    def recruiter(self) -> str:
        return self.rng.choice(self.recruiters)

    def new_worker(self, versatile: bool = False) -> dict[str, Any]:
        return worker_body(next(self.ids), self.rng, versatile)

    def new_vacancy(self, employer_id: str) -> dict[str, Any]:
        return vacancy_body(next(self.ids), employer_id, self.employers[employer_id][0],
                            self.rng)

    def any_vacancy(self) -> str:
        return self.rng.choice(self.vacancies[self.rng.choice(list(self.vacancies))])


def seed(system: System, args: argparse.Namespace) -> World:
    """Agreements, verified employers, users of every role with a token each, workers
    and open vacancies with proposals, and one approved offer per worker user."""
    world = World(admin=system.token())
    with system.client(world.admin) as admin:
        for dest in DESTINATIONS:
            expect(admin.post("/agreements", json=agreement_body(dest)), 202)
        for i in range(args.employers):
            add_employer(system, admin, world, f"e{i}", DESTINATIONS[i % len(DESTINATIONS)])
        for i in range(args.recruiters):
            expect(admin.post("/users", json={"username": f"counsellor{i}",
                                              "password": PASSWORD, "role": "recruiter"}), 201)
            world.recruiters.append(system.token(f"counsellor{i}", PASSWORD))
    add_workers(system, world, args.worker_users, args.workers)
    for i in range(args.vacancies):
        eid = list(world.employers)[i % len(world.employers)]
        with system.client(world.employers[eid][1]) as boss:
            body = world.new_vacancy(eid)
            expect(boss.post("/vacancies", json=body), 202)
            world.vacancies[eid].append(body["vacancy_id"])
    with system.client(world.recruiter()) as rec:
        for vid in (v for vs in world.vacancies.values() for v in vs):
            wait_for(partial(open_with_proposal, rec, vid), timeout=120,
                     what=f"{vid} open, with a proposal")
        approve_offers(rec, world)
    return world


def add_employer(system: System, admin: httpx.Client, world: World, eid: str,
                 dest: str) -> None:
    expect(admin.post("/employers", json={"employer_id": eid, "name": f"Hof {eid} GmbH",
                                          "country": dest,
                                          "registration_number": f"HRB{eid}"}), 202)
    expect(admin.post(f"/employers/{eid}/verify"), 202)
    expect(admin.post("/users", json={"username": f"boss-{eid}", "password": PASSWORD,
                                      "role": "employer", "employer_id": eid}), 201)
    world.employers[eid] = (dest, system.token(f"boss-{eid}", PASSWORD))
    world.vacancies[eid] = []


def add_workers(system: System, world: World, users: int, walk_ins: int) -> None:
    """Workers who register themselves (strong candidates, signed in), then walk-ins
    registered by a recruiter."""
    with system.client() as anyone:
        for _ in range(users):
            body = {**world.new_worker(versatile=True), "skills": list(SKILLS)}
            username = f"worker-{body['worker_id']}"
            expect(anyone.post("/workers", json={**body, "username": username,
                                                 "password": PASSWORD}), 202)
            world.worker_users[body["worker_id"]] = system.token(username, PASSWORD)
            world.workers.append(body["worker_id"])
    with system.client(world.recruiter()) as rec:
        for i in range(walk_ins):
            body = world.new_worker(versatile=i % 3 == 0)
            expect(rec.post("/workers", json=body), 202)
            world.workers.append(body["worker_id"])


def open_with_proposal(rec: httpx.Client, vacancy_id: str) -> bool:
    return (rec.get(f"/vacancies/{vacancy_id}").json()["status"] == "open"
            and bool(rec.get(f"/vacancies/{vacancy_id}/matches").json()["items"]))


def approve_offers(rec: httpx.Client, world: World) -> None:
    """One approved offer for each worker user (on a vacancy not approved on yet), so
    that workers' reads of their matches find something."""
    used: set[str] = set()
    approved = []
    for wid in world.worker_users:
        items = rec.get("/matches", params={"worker_id": wid, "status": "proposed"}).json()
        match = next((m for m in items["items"] if m["vacancy_id"] not in used), None)
        if match is not None:
            expect(rec.post(f"/matches/{match['match_id']}/approve"), 202)
            used.add(match["vacancy_id"])
            approved.append(match["match_id"])
    for mid in approved:
        wait_for(partial(status_is, rec, f"/matches/{mid}", "approved"), timeout=60,
                 what=f"approval of {mid}")


def status_is(client: httpx.Client, path: str, status: str) -> bool:
    return bool(client.get(path).json()["status"] == status)


def expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise AssertionError(f"{response.request.method} {response.request.url}: "
                             f"{response.status_code} {response.text[:300]}")


# -- the mixed load ---------------------------------------------------------------------

class Call(NamedTuple):
    route: str
    method: str
    path: str
    token: str | None = None
    json: dict[str, Any] | None = None
    params: dict[str, str] | None = None
    done: Callable[[], None] | None = None  # after a 2xx
    cookie: str | None = None  # a console session instead of a bearer token


def recruiter_registers_worker(w: World) -> Call:
    body = w.new_worker(versatile=w.rng.random() < 0.3)
    return Call("POST /workers", "POST", "/workers", w.recruiter(), body,
                done=lambda: w.workers.append(body["worker_id"]))


def employer_posts_vacancy(w: World) -> Call:
    eid = w.rng.choice(list(w.employers))
    body = w.new_vacancy(eid)
    return Call("POST /vacancies", "POST", "/vacancies", w.employers[eid][1], body,
                done=lambda: w.vacancies[eid].append(body["vacancy_id"]))


def employer_reads_vacancy(w: World) -> Call:
    eid = w.rng.choice([e for e, vs in w.vacancies.items() if vs])
    return Call("GET /vacancies/{id} (employer)", "GET",
                f"/vacancies/{w.rng.choice(w.vacancies[eid])}", w.employers[eid][1])


def employer_lists_vacancies(w: World) -> Call:
    eid = w.rng.choice(list(w.employers))
    return Call("GET /vacancies (employer)", "GET", "/vacancies", w.employers[eid][1],
                params={"employer_id": eid})


def worker(w: World, route: str, path: str, **params: str) -> Call:
    wid = w.rng.choice(list(w.worker_users))
    return Call(route, "GET", path.format(wid=wid), w.worker_users[wid], params=params or None)


MIX: list[tuple[int, Callable[[World], Call]]] = [
    (20, lambda w: Call("GET /vacancies/{id}/matches (recruiter)", "GET",
                        f"/vacancies/{w.any_vacancy()}/matches", w.recruiter())),
    (10, lambda w: Call("GET /workers/{id} (recruiter)", "GET",
                        f"/workers/{w.rng.choice(w.workers)}", w.recruiter())),
    (5, lambda w: Call("GET /matches?vacancy_id (recruiter)", "GET", "/matches", w.recruiter(),
                       params={"vacancy_id": w.any_vacancy()})),
    (3, lambda w: Call("GET /agreements/{id}/quota (recruiter)", "GET",
                       f"/agreements/am-{w.rng.choice(DESTINATIONS).lower()}/quota",
                       w.recruiter(), params={"year": "2027"})),
    (6, recruiter_registers_worker),
    (12, lambda w: worker(w, "GET /matches (worker)", "/matches")),
    (8, lambda w: worker(w, "GET /placements (worker)", "/placements")),
    (4, lambda w: worker(w, "GET /workers/{id} (worker)", "/workers/{wid}")),
    (4, employer_posts_vacancy),
    (10, employer_reads_vacancy),
    (6, employer_lists_vacancies),
    (2, lambda w: Call("GET /stats/flows (admin)", "GET", "/stats/flows", w.admin,
                       params={"year": "2027"})),
    (3, lambda w: Call("GET /agreements (admin)", "GET", "/agreements", w.admin)),
]


def mixed(world: World) -> Callable[[], Call]:
    weights, makers = zip(*MIX, strict=True)
    return lambda: world.rng.choices(makers, weights)[0](world)


async def send(http: aiohttp.ClientSession, base: str, call: Call) -> tuple[int | str, bytes]:
    """The status (or the transport error's name) and the body."""
    headers = {"Authorization": f"Bearer {call.token}"} if call.token else {}
    if call.cookie:
        headers["Cookie"] = call.cookie
    try:
        async with http.request(call.method, base + call.path, json=call.json,
                                params=call.params, headers=headers) as r:
            body = await r.read()
            status: int | str = r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__, b""
    if 200 <= r.status < 300 and call.done is not None:
        call.done()
    return status, body


def client_session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                 timeout=aiohttp.ClientTimeout(total=30))


async def closed_loop(base: str, next_call: Callable[[], Call], connections: int,
                      seconds: float, warmup: float,
                      samples: list[float] | None = None) -> dict[str, Any]:
    """``connections`` clients, each sending its next request as soon as the last one
    is answered; latencies and rps over ``seconds`` after ``warmup``, errors over all.
    The latencies are also added to ``samples`` when given (phases run in rounds)."""
    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    async with client_session(connections) as http:
        begin = time.perf_counter()
        measure_from, end = begin + warmup, begin + warmup + seconds

        async def client() -> None:
            while (started := time.perf_counter()) < end:
                call = next_call()
                status, _ = await send(http, base, call)
                if not (isinstance(status, int) and 200 <= status < 300):
                    errors[f"{call.route}: {status}"] += 1
                if started >= measure_from:
                    times[call.route].append(time.perf_counter() - started)

        await asyncio.gather(*(client() for _ in range(connections)))
    every = [t for ts in times.values() for t in ts]
    if samples is not None:
        samples.extend(every)
    return {"requests": len(every), "rps": len(every) / seconds, **percentiles(every),
            "errors": sum(errors.values()), "error_kinds": dict(errors),
            "routes": {route: {"requests": len(ts), **percentiles(ts)}
                       for route, ts in sorted(times.items())}}


def percentiles(seconds: list[float]) -> dict[str, float | None]:
    """p50 and p99 in ms; None where there are none, or where it falls on an infinity
    (a vacancy that never showed a proposal)."""
    xs = sorted(seconds)
    if not xs:
        return {"p50_ms": None, "p99_ms": None}
    ranked = {f"p{q}_ms": xs[math.ceil(q / 100 * len(xs)) - 1] for q in (50, 99)}
    return {k: v * 1000 if math.isfinite(v) else None for k, v in ranked.items()}


# -- end to end: vacancy posted -> first proposal readable ------------------------------

async def steady_writes(base: str, world: World, rate: float, seconds: float,
                        vacancy_every: int, poll: float, poll_slots: int,
                        pushed: Pushed | None = None) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    found: list[float] = []
    windows: list[float] = []
    writes: list[float] = []  # how long the API took to answer each write
    slots = asyncio.Semaphore(poll_slots)  # polls in flight at once, so polling
    async with client_session(200) as http:  # cannot swamp the API

        async def write(n: int) -> None:
            if n % vacancy_every:
                call = recruiter_registers_worker(world)
                started = time.perf_counter()
                status, _ = await send(http, base, call)
                writes.append(time.perf_counter() - started)
                if status != 202:
                    errors[f"{call.route}: {status}"] += 1
                return
            if pushed is not None:
                heard = await pushed.first_proposal(http, errors, writes)
                found.append(math.inf if heard is None else heard)
                return
            seen = await first_proposal(http, base, world, poll, slots, errors, writes)
            found.append(seen[0] if seen else math.inf)  # never: counts as slowest
            if seen is not None:
                windows.append(seen[1])

        start = time.perf_counter()
        tasks = []
        for n in itertools.count():
            due = start + n / rate
            if due - start >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(write(n)))
        sent_for = time.perf_counter() - start
        await asyncio.gather(*tasks)
    vacancies = len(range(0, len(tasks), vacancy_every))
    return {"rate": rate, "seconds": seconds, "writes": len(tasks),
            "achieved_rate": len(tasks) / sent_for, "vacancies": vacancies,
            "with_proposal": sum(map(math.isfinite, found)), **percentiles(found),
            "poll_ms": poll * 1000, "poll_slots": poll_slots,
            "write_latency": percentiles(writes),
            "poll_window": percentiles(windows),  # by how much the figures may be late
            "errors": sum(errors.values()), "error_kinds": dict(errors)}


async def first_proposal(http: aiohttp.ClientSession, base: str, world: World, poll: float,
                         slots: asyncio.Semaphore, errors: Counter[str], writes: list[float],
                         timeout: float = 30) -> tuple[float, float] | None:
    """(seconds from sending the vacancy to the answer showing its first proposal,
    the window the proposal appeared in: from the last empty poll's send)."""
    post = employer_posts_vacancy(world)
    started = time.perf_counter()
    status, _ = await send(http, base, post)
    writes.append(time.perf_counter() - started)
    if status != 202:
        errors[f"{post.route}: {status}"] += 1
        return None
    assert post.json is not None
    check = Call("GET /vacancies/{id}/matches", "GET",
                 f"/vacancies/{post.json['vacancy_id']}/matches", world.recruiter(),
                 params={"limit": "1"})
    last_empty = started
    while time.perf_counter() - started < timeout:
        await asyncio.sleep(poll)
        async with slots:
            sent = time.perf_counter()
            status, body = await send(http, base, check)
        if status != 200:
            errors[f"{check.route}: {status}"] += 1
        elif json.loads(body)["items"]:
            now = time.perf_counter()
            return now - started, now - last_empty
        last_empty = sent
    errors["no proposal within 30 s"] += 1
    return None


class Pushed:
    """One stream per recruiter (``GET /stream?kind=match``); the vacancies waiting for
    their first proposal, each on the stream of the recruiter it was given to."""

    def __init__(self, base: str, world: World) -> None:
        self.base = base
        self.world = world
        self.waiting: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.errors: Counter[str] = Counter()
        self.events = 0

    async def listen(self, http: aiohttp.ClientSession, token: str,
                     ready: asyncio.Event) -> None:
        try:
            async with http.get(f"{self.base}/stream", params={"kind": "match"},
                                headers={"Authorization": f"Bearer {token}"}) as r:
                if r.status != 200:
                    self.errors[f"GET /stream: {r.status}"] += 1
                    return
                ready.set()
                event: dict[str, str] = {}
                async for raw in r.content:
                    line = raw.decode().rstrip("\r\n")
                    if line:
                        if not line.startswith(":"):
                            name, _, value = line.partition(":")
                            event[name] = value.removeprefix(" ")
                        continue
                    if event.get("event") == "change":
                        self.events += 1
                        self.on_change(token, json.loads(event["data"]))
                    event = {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[f"GET /stream: {type(exc).__name__}"] += 1
        finally:
            ready.set()

    def on_change(self, token: str, data: dict[str, Any]) -> None:
        if data["status"] != "proposed" or "vacancy_id" not in data:
            return
        waiter = self.waiting.pop((token, data["vacancy_id"]), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(time.perf_counter())

    async def first_proposal(self, http: aiohttp.ClientSession, errors: Counter[str],
                             writes: list[float], timeout: float = 30) -> float | None:
        """Seconds from sending the vacancy to its first ``proposed`` event."""
        post = employer_posts_vacancy(self.world)
        assert post.json is not None
        key = (self.world.recruiter(), post.json["vacancy_id"])
        waiter = self.waiting[key] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        status, _ = await send(http, self.base, post)
        writes.append(time.perf_counter() - started)
        if status != 202:
            errors[f"{post.route}: {status}"] += 1
            self.waiting.pop(key, None)
            return None
        try:
            return await asyncio.wait_for(waiter, timeout - (time.perf_counter() - started)) \
                - started
        except TimeoutError:
            self.waiting.pop(key, None)
            errors["no proposal event within 30 s"] += 1
            return None


async def pushed_writes(base: str, world: World, rate: float, seconds: float,
                        vacancy_every: int) -> dict[str, Any]:
    """Phase 3: :func:`steady_writes`' load, each vacancy's first proposal heard on a
    recruiter's stream instead of polled."""
    pushed = Pushed(base, world)
    streams = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
    async with streams:
        readies = [asyncio.Event() for _ in world.recruiters]
        listeners = [asyncio.create_task(pushed.listen(streams, token, ready))
                     for token, ready in zip(world.recruiters, readies, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        try:
            out = await steady_writes(base, world, rate, seconds, vacancy_every, 0, 0,
                                      pushed=pushed)
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
    for kind, n in pushed.errors.items():
        out["error_kinds"][kind] = out["error_kinds"].get(kind, 0) + n
    out["errors"] += sum(pushed.errors.values())
    return {**out, "streams": len(world.recruiters), "events": pushed.events}


async def kafka_round_trip(bootstrap: str, topic: str, rate: float,
                           seconds: float) -> dict[str, Any]:
    """A plain producer sends at ``rate``; a plain consumer, partitions assigned by
    hand, receives; the time from send to receipt per record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:
            await consumer.position(tp)
        count = int(rate * seconds)
        sent: dict[int, float] = {}
        got: dict[int, float] = {}

        async def receive() -> None:
            while len(got) < count:
                batches = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batches.values():
                    for r in records:
                        got[int(r.value)] = now

        receiver = asyncio.create_task(receive())
        start = time.perf_counter()
        for n in range(count):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            sent[n] = time.perf_counter()
            await producer.send(topic, str(n).encode(), key=str(n).encode())
        await asyncio.wait([receiver], timeout=30)  # what is not in by then is lost
        receiver.cancel()
    finally:
        await producer.stop()
        await consumer.stop()
    return {"rate": rate, "records": count, "received": len(got),
            **percentiles([got[n] - sent[n] for n in got])}


# -- the processes ----------------------------------------------------------------------

def serve_bare() -> None:
    """The baseline server: a FastAPI app with a constant route, served by the
    gateway's own ``serve.run`` (so the same uvicorn, processes and settings) in place
    of its app.

    Its other routes help read the ratio (see :data:`READING`): the constant from a
    sync endpoint (so: the cost of FastAPI's thread-pool hop), and the floor of the
    stack, one agreement read by primary key from the bench's database with the
    gateway's engine and answered as the gateway's pydantic model, with none of its
    middleware, routing, authentication or retries, from a sync endpoint (thread
    pool, as the gateway's endpoints run) and from an async one (on the event loop)."""
    from services.gateway import serve

    serve.run(GatewaySettings(), factory="tests.bench.gateway:bare_app")


def bare_app() -> Any:
    """The baseline server's app (:func:`serve_bare`), built in each of its processes."""
    from fastapi import FastAPI

    from services.gateway.agreements import service as agreements
    from services.gateway.agreements.models import AgreementRead
    from services.gateway.database.core import make_engine, make_sessionmaker

    settings = GatewaySettings()
    read_sessions = make_sessionmaker(make_engine(settings.database_url), read_only=True)
    bare = FastAPI()

    @bare.get("/bare")
    async def constant() -> dict[str, str]:
        return {"status": "ok"}

    @bare.get("/sync")
    def constant_in_thread() -> dict[str, str]:
        return {"status": "ok"}

    def one_agreement(agreement_id: str) -> AgreementRead:
        with read_sessions() as session:
            return agreements.read(agreements.get(db_session=session,
                                                  agreement_id=agreement_id))

    bare.get("/floor/{agreement_id}", response_model=AgreementRead)(one_agreement)

    @bare.get("/floor-on-loop/{agreement_id}", response_model=AgreementRead)
    async def floor_on_loop(agreement_id: str) -> AgreementRead:
        return one_agreement(agreement_id)

    return bare


def start_processes(bootstrap: str, prefix: str, tmp: Path, api_workers: int,
                    database: str) -> tuple[System, ServiceProcess]:
    upgrade(database)
    defaults = GatewaySettings.model_fields
    system = System(bootstrap=bootstrap, prefix=prefix, database_url=database,
                    var_dir=tmp / "var", extra_env={  # undo the test-only settings
                        "CIRCULAR_OUTBOX_POLL_SECONDS":
                            str(defaults["outbox_poll_seconds"].default),
                        "CIRCULAR_LIBRARY_LOG_LEVEL": str(defaults["library_log_level"].default),
                        "CIRCULAR_API_WORKERS": str(api_workers)})
    bare_port = free_port()
    bare = ServiceProcess("bare", ["tests.bench.gateway", "--serve-bare"],
                          {"CIRCULAR_GATEWAY_PORT": str(bare_port),
                           "CIRCULAR_VAR_DIR": str(tmp / "bare"),
                           "CIRCULAR_DATABASE_URL": database,
                           "CIRCULAR_API_WORKERS": str(api_workers)},
                          tmp / "var" / "logs" / "bare.log")
    bare.start()
    system.start(*SERVICES)
    wait_for(lambda: _up(f"http://127.0.0.1:{bare_port}/bare"), timeout=60, what="bare server")
    return system, bare


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def cpu_seconds(pid: int) -> float:
    """CPU time of the process, of its children (an API's worker processes, a
    database server's backends) and of its children that ended (the server's)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if stat.parent.name == str(pid):
            total += sum(map(int, fields[11:15]))  # utime, stime, cutime, cstime
        elif int(fields[1]) == pid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_server(url: str) -> int | None:
    """The pid of the PostgreSQL server on this machine that listens on the URL's port,
    if it runs here (a server in a container or elsewhere: None)."""
    port = make_url(url).port
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if args[0].endswith("/postgres") and f"{port}" in args and "-p" in args:
            return int(cmdline.parent.name)
    return None


#: the processes whose CPU a phase reports: the services, or a pid (the database server)
Watched = dict[str, ServiceProcess | int]


def cpu_use(processes: Watched, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a phase; add the cores each process (and this one, the load) used meanwhile."""
    pids: dict[str, int] = {}
    for name, p in processes.items():
        if isinstance(p, int):
            pids[name] = p
        elif p.proc is not None:
            pids[name] = p.proc.pid
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall, own = time.perf_counter(), time.process_time()
    out = run()
    wall = time.perf_counter() - wall
    cores = {name: (cpu_seconds(pid) - before[name]) / wall for name, pid in pids.items()}
    cores["load generator"] = (time.process_time() - own) / wall
    return {**out, "cores": {k: round(v, 2) for k, v in cores.items()}}


def settle(bootstrap: str, prefix: str, api: str, timeout: float = 300) -> float | None:
    """Seconds until the outbox is empty and every consumer group has read all it was
    sent (twice in a row), or None after ``timeout``."""
    groups = [prefix + g for g in (MATCHER_APP, TRACKER_APP, "circular-gateway-projector")]
    started, calm = time.monotonic(), 0
    while time.monotonic() - started < timeout:
        calm = calm + 1 if outbox_backlog(api) == 0 and lag(bootstrap, groups) == 0 else 0
        if calm == 2:
            return time.monotonic() - started
        time.sleep(1)
    return None


@contextmanager
def peak_backlog(bootstrap: str, prefix: str, api: str) -> Iterator[dict[str, float]]:
    """The most that waited at once, sampled every second: outbox rows not yet
    published, records the matcher and the projector had yet to read."""
    peaks = {"outbox": 0.0, "matcher": 0.0, "projector": 0.0}
    groups = {"matcher": prefix + MATCHER_APP, "projector": f"{prefix}circular-gateway-projector"}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1):
            try:
                now = {"outbox": outbox_backlog(api),
                       **{name: lag(bootstrap, [group]) for name, group in groups.items()}}
            except KafkaError:  # a sample missed
                continue
            peaks.update({k: max(peaks[k], v) for k, v in now.items()})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()


def outbox_backlog(api: str) -> float:
    """Outbox rows not yet published (NaN if the API does not answer)."""
    try:
        metrics = httpx.get(f"{api}/metrics", timeout=10).text
    except httpx.HTTPError:
        return float("nan")
    for line in metrics.splitlines():
        if line.startswith("circular_outbox_backlog "):
            return float(line.split()[1])
    return float("nan")


def lag(bootstrap: str, groups: list[str]) -> int:
    """Records behind on the partitions the groups have committed on."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = {tp: o.offset for offsets in admin.list_group_offsets(groups).values()
                     for tp, o in offsets.items()}
        ends = consumer.end_offsets(list(committed))
        return sum(max(0, ends[tp] - offset) for tp, offset in committed.items())
    finally:
        consumer.close()
        admin.close()


# -- the run ----------------------------------------------------------------------------

def run(args: argparse.Namespace, bootstrap: str, prefix: str, tmp: Path,
        database: str) -> dict[str, Any]:
    roundtrip = dataclasses.replace(VACANCIES.prefixed(prefix), name=f"{prefix}bench.roundtrip")
    report = ensure_topics(bootstrap, [*catalogue(prefix), roundtrip])
    assert not report.problems, report.problems
    system, bare = start_processes(bootstrap, prefix, tmp, args.api_workers, database)
    processes: Watched = {**system.processes, "bare": bare}
    server = postgres_server(database) if database.startswith("postgresql") else None
    if server is not None:
        processes["postgresql"] = server
    try:
        started = time.monotonic()
        world = seed(system, args)
        seeded = {"workers": len(world.workers),
                  "vacancies": sum(map(len, world.vacancies.values())),
                  "employers": len(world.employers), "recruiters": len(world.recruiters),
                  "worker_users": len(world.worker_users),
                  "seconds": time.monotonic() - started,
                  "settle_seconds": settle(bootstrap, prefix, system.url)}
        print(f"seeded: {seeded}", flush=True)
        load = measure_load(args, processes, world, f"{system.url}/api/v1",
                            f"http://127.0.0.1:{bare.env['CIRCULAR_GATEWAY_PORT']}")
        load["settle_seconds"] = settle(bootstrap, prefix, system.url)
        kafka = asyncio.run(kafka_round_trip(bootstrap, roundtrip.name, args.rate,
                                             args.seconds))
        print(f"kafka round trip: {kafka}", flush=True)
        with peak_backlog(bootstrap, prefix, system.url) as peaks:
            e2e = cpu_use(processes, lambda: asyncio.run(steady_writes(
                f"{system.url}/api/v1", world, args.rate, args.seconds, args.vacancy_every,
                args.poll_ms / 1000, args.poll_slots)))
        e2e["peak_backlog"] = peaks
        print(f"end to end: {e2e}", flush=True)
        settle(bootstrap, prefix, system.url)
        with peak_backlog(bootstrap, prefix, system.url) as peaks:
            pushed = cpu_use(processes, lambda: asyncio.run(pushed_writes(
                f"{system.url}/api/v1", world, args.rate, args.seconds, args.vacancy_every)))
        pushed["peak_backlog"] = peaks
        print(f"end to end, pushed: {pushed}", flush=True)
        return {"seed": seeded, "load": load,
                "end_to_end": {**e2e, "kafka_round_trip": kafka, "pushed": pushed}}
    except BaseException:
        for name, proc in {**system.processes, "bare": bare}.items():
            print(f"----- {name} log (last 40 lines) -----\n"
                  + "\n".join(proc.log().splitlines()[-40:]), file=sys.stderr)
        raise
    finally:
        bare.stop()
        system.stop()
        shutil.copytree(tmp / "var" / "logs", LOGS, dirs_exist_ok=True)


class Reading(NamedTuple):
    """A phase that only helps read the ratio: one request, again and again."""

    name: str
    path: str
    on_gateway: bool  # else on the bare server (``serve_bare``)
    what: str


READING = [
    Reading("sync", "/sync", False, "the bare constant from a sync endpoint (the cost of "
            "FastAPI's thread-pool hop)"),
    Reading("floor", "/floor/am-de", False, "the stack's floor: one agreement read by "
            "primary key with the gateway's engine and model, no middleware or auth, "
            "from a sync endpoint (thread pool) as the gateway's endpoints run"),
    Reading("floor on the loop", "/floor-on-loop/am-de", False, "the same read from an "
            "async endpoint, on the event loop"),
    Reading("cheapest", "/agreements/am-de", True, "the gateway's cheapest request "
            "alone: `GET /agreements/{id}` by a signed-in recruiter"),
]


def console_session(base: str, username: str, password: str) -> str:
    """A signed-in console session, as a browser holds it: the ``Cookie`` header."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        page = browser.get("/console/sign-in").text
        csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        r = browser.post("/console/sign-in", data={"username": username,
                                                   "password": password, "csrf_token": csrf})
        expect(r, 303)  # signed in: redirected to the page asked for
        return f"circular_console={browser.cookies['circular_console']}"


#: the console phase (issue 14): the recruiter's review queue page, and the API call
#: that returns the same proposals, each alone under the same load
REVIEW_PAGE = "/console/review"
REVIEW_API = "/api/v1/matches"


def measure_console(args: argparse.Namespace, processes: Watched,
                    world: World, base: str) -> dict[str, Any]:
    """The API call and the page in alternating rounds (API, page, API, page, ...) that
    add up to one phase each: how the kernel spreads a round's connections over the
    API processes, and what else the machine does meanwhile, then weigh on both alike
    instead of on whichever ran at a bad moment."""
    calls = {"api": Call("GET /matches?status=proposed (recruiter)", "GET", REVIEW_API,
                         world.recruiter(), params={"status": "proposed", "limit": "200"}),
             "page": Call("GET /console/review (recruiter)", "GET", REVIEW_PAGE,
                          cookie=console_session(base, "counsellor0", PASSWORD))}
    seconds = args.seconds / args.console_rounds
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in calls}
    samples: dict[str, list[float]] = {name: [] for name in calls}

    def phase(name: str) -> Callable[[], dict[str, Any]]:
        return lambda: asyncio.run(closed_loop(base, lambda: calls[name], args.connections,
                                               seconds, args.warmup, samples[name]))

    for _ in range(args.console_rounds):
        for name in calls:
            rounds[name].append(cpu_use(processes, phase(name)))
    out = {name: combined(rounds[name], samples[name], args.seconds) for name in calls}
    print(f"review queue through the API: {summary(out['api'])}", flush=True)
    print(f"review queue page: {summary(out['page'])}", flush=True)
    return {**out, "rounds": args.console_rounds, "ratio": out["page"]["rps"] / out["api"]["rps"],
            "round_ratios": [p["rps"] / a["rps"] for a, p in zip(rounds["api"], rounds["page"],
                                                                  strict=True)]}


def combined(rounds: list[dict[str, Any]], samples: list[float], seconds: float
             ) -> dict[str, Any]:
    """Rounds of one phase as one: requests over the total time, percentiles over all
    latencies, each process's cores averaged over the rounds (of equal length)."""
    routes = rounds[0]["routes"]
    return {"requests": len(samples), "rps": len(samples) / seconds, **percentiles(samples),
            "errors": sum(r["errors"] for r in rounds),
            "error_kinds": dict(sum((Counter(r["error_kinds"]) for r in rounds), Counter())),
            "routes": {route: {"requests": len(samples), **percentiles(samples)}
                       for route in routes},
            "cores": {name: round(sum(r["cores"][name] for r in rounds) / len(rounds), 2)
                      for name in rounds[0]["cores"]}}


def measure_load(args: argparse.Namespace, processes: Watched,
                 world: World, gateway_url: str, bare_url: str) -> dict[str, Any]:
    """The bare endpoint first (the system idle), then the phases of :data:`READING`,
    then the gateway's mixed load, then the console's review queue against the API's
    proposals."""
    def closed(url: str, next_call: Callable[[], Call]) -> Callable[[], dict[str, Any]]:
        return lambda: asyncio.run(closed_loop(url, next_call, args.connections,
                                               args.seconds, args.warmup))

    def constant(call: Call) -> Callable[[], Call]:
        return lambda: call

    bare = cpu_use(processes, closed(bare_url, constant(Call("GET /bare", "GET", "/bare"))))
    print(f"bare: {summary(bare)}", flush=True)
    reading = {}
    for phase in READING:
        url = gateway_url if phase.on_gateway else bare_url
        token = world.recruiter() if phase.on_gateway else None
        out = cpu_use(processes, closed(url, constant(Call(phase.path, "GET", phase.path,
                                                           token))))
        print(f"{phase.name}: {summary(out)}", flush=True)
        reading[phase.name] = {**out, "what": phase.what, "ratio": out["rps"] / bare["rps"]}
    gateway = cpu_use(processes, closed(gateway_url, mixed(world)))
    print(f"gateway: {summary(gateway)}", flush=True)
    console = measure_console(args, processes, world, gateway_url.removesuffix("/api/v1"))
    return {"connections": args.connections, "seconds": args.seconds, "warmup": args.warmup,
            "bare": bare, "gateway": gateway, "ratio": gateway["rps"] / bare["rps"],
            "reading": reading, "console": console}


def summary(phase: dict[str, Any]) -> str:
    return (f"{phase['rps']:.0f} requests/s, p50 {phase['p50_ms']:.1f} ms, "
            f"p99 {phase['p99_ms']:.1f} ms, {phase['errors']} errors, cores {phase['cores']}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.gateway",
                                     description="Gateway benchmark")
    parser.add_argument("--seconds", type=float, default=60, help="of each measured phase")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rate", type=float, default=50, help="writes/s, end to end")
    parser.add_argument("--vacancy-every", type=int, default=5)
    parser.add_argument("--poll-ms", type=float, default=25,
                        help="each pending vacancy's poll interval")
    parser.add_argument("--poll-slots", type=int, default=4, help="polls in flight at most")
    parser.add_argument("--console-rounds", type=int, default=4,
                        help="alternating rounds of the console phase (API, page, ...)")
    parser.add_argument("--workers", type=int, default=600, help="seeded")
    parser.add_argument("--vacancies", type=int, default=40, help="seeded")
    parser.add_argument("--employers", type=int, default=8)
    parser.add_argument("--recruiters", type=int, default=3)
    parser.add_argument("--worker-users", type=int, default=12)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 10 s phases and a smaller world")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", help="a PostgreSQL server to create the database "
                        "on (default: one started for the run)")
    parser.add_argument("--out", help="default: var/bench/gateway.json, on PostgreSQL "
                        "var/bench/gateway-postgresql.json")
    parser.add_argument("--api-workers", type=int, default=GatewaySettings().api_processes(),
                        help="API processes behind its port (CIRCULAR_API_WORKERS), and "
                        "the bare server's (default: the gateway's default here)")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    if parser.parse_args(argv).quick:  # what is given explicitly still wins
        parser.set_defaults(seconds=10, warmup=2, workers=150, vacancies=12, employers=4,
                            recruiters=2, worker_users=4)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.serve_bare:
        serve_bare()
        return 0
    command = " ".join(["python -m tests.bench.gateway", *(sys.argv[1:] if argv is None
                                                            else argv)])
    with (session_broker() as broker,
          tempfile.TemporaryDirectory(prefix="circular-gw-") as tmp,
          database(args.database, Path(tmp) / "circular.db", args.postgres_url,
                   durable=True) as url):
        prefix = f"benchgw{uuid.uuid4().hex[:6]}."
        print(f"prefix: {prefix}", flush=True)
        results = {"command": command.strip(), "broker": broker.kind, "cpus": os.cpu_count(),
                   "api_workers": args.api_workers, "database": args.database,
                   **run(args, broker.bootstrap, prefix, Path(tmp), url)}
    out = args.out or str(BENCH / ("gateway.json" if args.database == "sqlite"
                                   else f"gateway-{args.database}.json"))
    write_results(out, results)
    if args.database == "sqlite":  # the report's row for this many API processes
        Path(out).with_name(f"gateway-api-{args.api_workers}.json").write_text(
            json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
