"""Matcher benchmark (``make bench``): one matcher worker on a real broker.

1. Throughput: the roster's events are written to the input topics first; the bare
   consumer (tests/bench/baseline.py) reads those same records, then a matcher
   worker starts and works through them (with all its internal fan-out) until its
   consumer group has no lag. Events per second through the matcher, as a ratio
   to the bare consumer's, measured in the same run. Also in the same run: an
   empty faust agent (tests/bench/ceiling.py) on the same records, the most any
   stage built on faust reaches here.
2. Latency: a steady 100 events/s (worker registrations and vacancies) for a
   minute; for each vacancy, the time from its write to its first proposal on
   ``circular.matches`` (p50, p99).
3. Memory: the matcher's peak resident set (VmHWM), per 100,000 workers, above its
   resident set half a second after its start; and above a matcher started on empty
   topics and ready (its runtime, tables and consumer, holding nothing): what the
   workers add, beside what any matcher costs.
4. The steady phase (tests/bench/steady.py): waves of approvals, acceptances and
   returns among registrations, profile changes and vacancies, as fast as the
   matcher takes them; events/s beside the backfill's.
5. Restart after rounds of churn (tests/bench/restart.py).
6. Side by side (tests/bench/scale_out.py): the backfill again through a group of
   matcher workers on the same broker, events/s against one worker's.
7. The pure rules engine: time to find a vacancy's best candidates through the
   market index against the naive full scan, at 10k, 100k and 1M workers.

    python -m tests.bench.matcher [--workers 200000 --vacancies 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from eventbus.admin import ensure_topics
from schemas.codec import decode, encode
from schemas.events import matches as mv
from schemas.events.base import Event
from schemas.events.vacancies import VacancyEvaluated
from schemas.topics import (
    AGREEMENTS,
    EMPLOYERS,
    MATCHES,
    VACANCIES,
    VACANCY_STATUS,
    WORKERS,
    Topic,
    catalogue,
)
from services.matcher.domain.candidates import MarketIndex, naive_best
from services.matcher.domain.views import VacancyView, WorkerView
from tests.bench import restart, scale_out
from tests.bench.baseline import bare_consume, produce
from tests.bench.measure import (
    Record,
    group_lag,
    idle_rss_mib,
    peak_rss_mib,
    records,
    records_written,
    rss_mib,
    service_env,
    wait_for_lag,
    write_results,
)
from tests.bench.roster import Roster
from tests.bench.steady import Steady
from tests.support.brokers import session_broker
from tests.support.processes import ServiceProcess, wait_for

ROOT = Path(__file__).resolve().parents[2]
#: the backfill's wait gives up below this pace (a million-worker roster takes an hour
#: and more at the pace measured at 200,000)
SLOWEST_EPS = 100.0
#: the latency run waits at most this long after sending for the matcher to catch up
DRAIN_SECONDS = 120.0
#: the matcher's stages (agreement router, legality, workers, market): each says
#: "stage recovered" once its partitions are assigned and its indexes rebuilt
READY_STAGES = 4


def roster_batches(roster: Roster, n_workers: int, n_vacancies: int, n_employers: int
                   ) -> list[tuple[Topic, list[Record]]]:
    """The backfill: the roster's agreements, employers, workers and vacancies, as
    records per input topic, in the order they are written."""
    return [
        (AGREEMENTS, records(list(roster.agreements()))),
        (EMPLOYERS, records(list(roster.employers(n_employers)))),
        (WORKERS, records([roster.worker(i) for i in range(n_workers)])),
        (VACANCIES, records([roster.vacancy(i, n_employers) for i in range(n_vacancies)])),
    ]


def static_member(group_instance_id: str) -> dict[str, str]:
    """The matcher as deployed (make up, compose): a stable member of its group; none
    for an empty name."""
    return {"CIRCULAR_KAFKA_GROUP_INSTANCE_ID": group_instance_id} if group_instance_id else {}


def throughput(bootstrap: str, prefix: str, backfill: list[tuple[Topic, list[Record]]],
               var: Path, group_instance_id: str = "") -> dict[str, Any]:
    batches = [(topic.prefixed(prefix).name, recs) for topic, recs in backfill]
    total = sum(len(r) for _, r in batches)
    for topic, recs in batches:
        asyncio.run(produce(bootstrap, topic, recs))
    bare = {}
    for topic, recs in batches[2:]:
        bare[topic] = len(recs) / asyncio.run(bare_consume(bootstrap, topic, len(recs)))
    bare_eps = total / sum(len(r) / bare.get(topic, max(bare.values()))
                           for topic, r in batches)
    env = service_env(bootstrap, prefix, var)
    ceiling_eps = faust_ceiling(env, var, total, [topic for topic, _ in batches])
    # the matcher as deployed (make up, compose): a stable member of its group
    matcher = ServiceProcess("matcher", ["services.matcher"],
                             {**env, **static_member(group_instance_id)},
                             var / "matcher.log").start()
    assert matcher.proc is not None
    group = f"{prefix}circular-matcher"
    inputs = [topic for topic, _ in batches]
    internal = [x.prefixed(prefix).name for x in catalogue()
                if x.name.startswith("circular-matcher.") and not x.name.endswith(".dlq")]
    idle_rss = idle_rss_mib(matcher.proc.pid)
    elapsed = wait_for_lag(bootstrap, group, inputs + internal, matcher,
                           limit=max(3600.0, total / SLOWEST_EPS))
    written = {topic.removeprefix(prefix): n for topic, n in records_written(
        bootstrap, f"{prefix}circular").items() if n and topic not in inputs}
    return {"matcher": matcher, "inputs": inputs, "internal": internal,
            "events": total, "seconds": elapsed,
            "matcher_eps": total / elapsed, "bare_eps": bare_eps,
            "ratio": total / elapsed / bare_eps,
            "faust_ceiling_eps": ceiling_eps, "ceiling_ratio": ceiling_eps / bare_eps,
            "peak_rss_mib": peak_rss_mib(matcher.proc.pid), "idle_rss_mib": idle_rss,
            # what the backfill made the matcher write, per input event: its own
            # topics' records (markets, matches) and its tables' changelogs
            "records_per_event": {t: n / total for t, n in sorted(written.items())}}


def ready_rss_mib(bootstrap: str, var: Path, group_instance_id: str = "") -> float:
    """The resident set of a matcher that started on topics of its own, all empty, and
    is ready (every stage recovered its assigned partitions, then 5 s): what running
    a matcher costs before it holds anything."""
    prefix = f"ready{uuid.uuid4().hex[:6]}."
    report = ensure_topics(bootstrap, catalogue(prefix))
    assert not report.problems, report.problems
    env = {**service_env(bootstrap, prefix, var / "ready", log_level="INFO"),
           **static_member(group_instance_id)}
    matcher = ServiceProcess("matcher", ["services.matcher"], env,
                             var / "ready" / "matcher.log").start()
    assert matcher.proc is not None
    try:
        wait_for(lambda: _ready(matcher), timeout=300.0, what="an empty matcher ready")
        time.sleep(5.0)
        return rss_mib(matcher.proc.pid)
    finally:
        matcher.stop()


def _ready(matcher: ServiceProcess) -> bool:
    if not matcher.alive:
        raise RuntimeError(f"the empty matcher died; see {matcher.log_path}")
    phases = restart.phases(matcher.log_path.read_bytes(), 0.0)
    recovered = {s["stage"] for s in phases.get("stages", ())}
    return len(recovered) >= READY_STAGES


def faust_ceiling(env: dict[str, str], var: Path, total: int, topics: list[str]) -> float:
    """Events/s through an empty faust agent reading the same records (see
    tests/bench/ceiling.py): the most any stage built on faust can reach here."""
    out = var / "ceiling.json"
    proc = ServiceProcess("ceiling", ["tests.bench.ceiling", str(out), str(total), *topics],
                          env, var / "ceiling.log").start()
    deadline = time.monotonic() + 900
    while not out.exists():
        time.sleep(0.5)
        if not proc.alive and not out.exists():
            raise RuntimeError(f"the empty faust agent died; see {proc.log_path}")
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("the empty faust agent did not read the roster in 15 min")
    proc.stop()
    result = json.loads(out.read_text())
    return float(result["events"] / result["seconds"])


def latency(bootstrap: str, prefix: str, roster: Roster, n_employers: int, rate: int,
            seconds: int, first_worker: int, first_vacancy: int, group: str,
            topics: list[str]) -> dict[str, Any]:
    matches = MATCHES.prefixed(prefix).name
    status = VACANCY_STATUS.prefixed(prefix).name
    consumer = KafkaConsumer(matches, status, bootstrap_servers=bootstrap,
                             auto_offset_reset="latest",
                             group_id=f"bench-{uuid.uuid4().hex[:6]}")
    consumer.poll(timeout_ms=2000)  # join, position at the end
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    sent: dict[str, float] = {}
    first_proposal: dict[str, float] = {}
    evaluated: dict[str, float] = {}  # the legality stage's verdict: the first hop
    vacancies = VACANCIES.prefixed(prefix).name
    workers = WORKERS.prefixed(prefix).name
    w, v = first_worker, first_vacancy
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        due = start + n / rate
        while (left := due - time.monotonic()) > 0:  # waits in poll, never spins
            _drain(consumer, first_proposal, evaluated, max(1, int(left * 1000)))
        if n % 10 == 0:
            event: Event = roster.vacancy(v, n_employers)
            topic = vacancies
            v += 1
        else:
            event = roster.worker(w)
            topic = workers
            w += 1
        enc = encode(event, source="/bench")
        producer.send(topic, key=enc.key, value=enc.value, headers=enc.headers)
        if topic == vacancies:
            producer.flush()
            sent[event.vacancy_id] = time.monotonic()  # type: ignore[attr-defined]
        n += 1
    sent_for = time.monotonic() - start
    # whether the matcher kept up: what it had not read when the sending stopped, and
    # how long it took to read the rest (its pace at this roster's full size)
    backlog = group_lag(bootstrap, group, topics)
    caught_up = None
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        _drain(consumer, first_proposal, evaluated, 1000)  # a lag read a second at most
        if caught_up is None and group_lag(bootstrap, group, topics) == 0:
            caught_up = time.monotonic() - start
            deadline = min(deadline, time.monotonic() + 2)
    producer.close()
    consumer.close()
    delays = sorted((first_proposal[k] - sent[k]) * 1000 for k in sent if k in first_proposal)
    hop = sorted((evaluated[k] - sent[k]) * 1000 for k in sent if k in evaluated)
    return {"evaluated_p50_ms": statistics.median(hop) if hop else None,
            "evaluated_p99_ms": _p99(hop),
            "events_per_second": rate, "seconds": seconds, "vacancies": len(sent),
            "workers": w - first_worker, "with_proposal": len(delays),
            "p50_ms": statistics.median(delays) if delays else None,
            "p99_ms": _p99(delays), **_trend(sent, first_proposal, start, sent_for),
            "unread_at_end": backlog,
            "pace_eps": n / caught_up if caught_up else None}


def _trend(sent: dict[str, float], seen: dict[str, float], start: float, seconds: float
           ) -> dict[str, float | None]:
    """The p50 delay of the vacancies sent in the first and in the last third of the
    run: a delay that grows from one to the other is a queue building up (the matcher
    slower than the rate), a flat one is the matcher's own latency."""
    def p50(lo: float, hi: float) -> float | None:
        found = [(seen[k] - t) * 1000 for k, t in sent.items()
                 if k in seen and lo <= t - start < hi]
        return statistics.median(found) if found else None
    return {"first_third_p50_ms": p50(0, seconds / 3),
            "last_third_p50_ms": p50(seconds * 2 / 3, seconds + 1)}


def _p99(values: list[float]) -> float | None:
    return values[min(len(values) - 1, int(len(values) * 0.99))] if values else None


def _drain(consumer: KafkaConsumer, seen: dict[str, float], evaluated: dict[str, float],
           timeout_ms: int) -> None:
    for batch in consumer.poll(timeout_ms=timeout_ms).values():
        now = time.monotonic()
        for r in batch:
            d = decode(r.value, [(k, bytes(x)) for k, x in r.headers])
            if isinstance(d.event, mv.MatchProposed):
                seen.setdefault(d.event.vacancy_id, now)
            elif isinstance(d.event, VacancyEvaluated):
                evaluated.setdefault(d.event.vacancy_id, now)


def rules_engine(sizes: list[int], per_size: int = 60, warmup: int = 300
                 ) -> list[dict[str, Any]]:
    """Time to find a vacancy's best 5 through the market index, against the naive
    full scan, on the same roster. The index makes a column the first time a
    market's search needs it (an occupation's experience, a required skill): the
    first searches of each market (``cold``) pay for that; ``indexed_ms`` is the
    steady state, on vacancies other than the ``warmup`` ones."""
    out = []
    for size in sizes:
        roster = Roster(seed=size)
        agreements = {a.destination_country: a for a in roster.agreements()}
        workers: list[WorkerView] = []
        markets: dict[str, MarketIndex] = {}
        for i in range(size):
            ev = roster.worker(i)
            view = WorkerView.of(ev.worker_id, ev)
            workers.append(view)
            for o in ev.occupations:
                for d in ev.preferred_destinations or agreements:
                    market = mv.market_key(d, o.isco_code)
                    markets.setdefault(market, MarketIndex(market)).upsert(view)
        vacancies = [VacancyView.of(v, agreements[v.destination_country])
                     for v in (roster.vacancy(i, 1000) for i in range(warmup + per_size))]
        cold = _search(markets, vacancies[:warmup])
        indexed = _search(markets, vacancies[warmup:])
        naive_count = max(3, min(per_size, 6_000_000 // size))
        started = time.perf_counter()
        for v in vacancies[warmup:warmup + naive_count]:
            naive_best(workers, v, 5)
        naive = (time.perf_counter() - started) / naive_count
        fallbacks = sum(m.fallbacks for m in markets.values())
        out.append({"workers": size, "indexed_ms": indexed * 1000, "naive_ms": naive * 1000,
                    "cold_ms": cold * 1000, "speedup": naive / indexed,
                    "fallbacks": fallbacks})
        print(f"rules engine at {size}: {indexed * 1000:.2f} ms indexed "
              f"({cold * 1000:.2f} ms for the first {warmup} vacancies), "
              f"{naive * 1000:.1f} ms naive ({naive / indexed:.0f}x)", flush=True)
    return out


def _search(markets: dict[str, MarketIndex], batch: list[VacancyView]) -> float:
    """Seconds per vacancy to find its best 5 through its market's index."""
    started = time.perf_counter()
    for v in batch:
        markets.get(mv.market_key(v.destination_country, v.isco_code), MarketIndex()).best(v, 5)
    return (time.perf_counter() - started) / len(batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Matcher benchmark")
    parser.add_argument("--workers", type=int, default=200_000)
    parser.add_argument("--vacancies", type=int, default=20_000)
    parser.add_argument("--employers", type=int, default=3_000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--engine-sizes", default="10000,100000,1000000")
    parser.add_argument("--restart-after", default="1,5", help="rounds of churn (every "
                        "worker's profile sent again) after which the matcher is killed and "
                        "restarted; empty: no restart phase")
    parser.add_argument("--steady-events", type=int, default=30_000,
                        help="events of the steady phase, in three waves (0: none)")
    parser.add_argument("--scale-out", type=int, default=2, help="matcher workers of the "
                        "side-by-side phase (the backfill again; 0 or 1: none)")
    parser.add_argument("--group-instance-id", default="bench-1", help="the matcher's "
                        "CIRCULAR_KAFKA_GROUP_INSTANCE_ID, as make up and compose set one "
                        "(empty: a new group member at every start)")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "matcher.json"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"roster": {"workers": args.workers, "vacancies": args.vacancies,
                                          "employers": args.employers, "destinations": 30,
                                          "occupations": 60}}
    results["rules_engine"] = rules_engine([int(s) for s in args.engine_sizes.split(",")])
    with session_broker() as broker:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        report = ensure_topics(broker.bootstrap, catalogue(prefix))
        assert not report.problems, report.problems
        var = Path(tempfile.mkdtemp(prefix="circular-bench-"))
        roster = Roster(seed=11)
        backfill = roster_batches(roster, args.workers, args.vacancies, args.employers)
        tp = throughput(broker.bootstrap, prefix, backfill, var, args.group_instance_id)
        matcher = tp.pop("matcher")
        inputs, internal = tp.pop("inputs"), tp.pop("internal")
        results["throughput"] = tp
        print(f"throughput: {tp['matcher_eps']:.0f} events/s through the matcher, "
              f"{tp['bare_eps']:.0f} bare ({tp['ratio']:.3f}), "
              f"{tp['faust_ceiling_eps']:.0f} through an empty faust agent "
              f"({tp['ceiling_ratio']:.3f}); peak RSS "
              f"{tp['peak_rss_mib']:.0f} MiB", flush=True)
        print("records written per input event: " + ", ".join(
            f"{t} {n:.2f}" for t, n in tp["records_per_event"].items()), flush=True)
        results["latency"] = latency(broker.bootstrap, prefix, roster, args.employers,
                                     args.rate, args.seconds, args.workers, args.vacancies,
                                     f"{prefix}circular-matcher", inputs + internal)
        print(f"latency: {results['latency']}", flush=True)
        peak = peak_rss_mib(matcher.proc.pid)
        ready = ready_rss_mib(broker.bootstrap, var, args.group_instance_id)
        results["memory"] = {"peak_rss_mib": peak, "idle_rss_mib": tp["idle_rss_mib"],
                             "per_100k_workers_mib": (peak - tp["idle_rss_mib"])
                             * 100_000 / args.workers,
                             "ready_rss_mib": ready,
                             "per_100k_above_ready_mib": (peak - ready) * 100_000 / args.workers}
        print(f"memory: {results['memory']}", flush=True)
        world = restart.World(
            broker.bootstrap, prefix, roster, args.workers + results["latency"]["workers"],
            args.employers, args.vacancies + results["latency"]["vacancies"], inputs, internal)
        if args.steady_events:
            results["steady"] = Steady(world, matcher, args.steady_events // 3).run()
        after = [int(n) for n in args.restart_after.split(",") if n.strip()]
        if after:
            results["restart"] = {"store": os.environ.get("CIRCULAR_TABLE_STORE", "default"),
                                  "membership": "static" if args.group_instance_id
                                  else "dynamic",
                                  "rounds": restart.rounds(world, matcher, after)}
        matcher.stop()
        if args.scale_out > 1:
            results["scale_out"] = scale_out.run(broker.bootstrap, backfill, args.scale_out,
                                                 var, tp["matcher_eps"])
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())


