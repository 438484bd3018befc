"""Writes ``docs/performance.md`` from the benchmarks' own output
(``var/bench/*.json``), so the figures there are measured, never typed.

    python -m tests.bench.report
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "var" / "bench"
OUT = ROOT / "docs" / "performance.md"


def _load(name: str) -> dict[str, Any] | None:
    path = BENCH / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _n(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def matcher_section(m: dict[str, Any]) -> list[str]:
    r, tp, lat, mem = m["roster"], m["throughput"], m["latency"], m["memory"]
    lines = [
        "## Matcher (`python -m tests.bench.matcher`)", "",
        f"Roster: {r['workers']:,} workers, {r['vacancies']:,} vacancies, "
        f"{r['employers']:,} employers, {r['destinations']} destinations, "
        f"{r['occupations']} occupations (skewed demand).", "",
        "| measure | Circular | baseline (same run) | ratio | goal |",
        "|---|---|---|---|---|",
        f"| events/s through one matcher worker, backfill (the roster registered in bulk, "
        f"then its vacancies) | {_n(tp['matcher_eps'])} | "
        f"{_n(tp['faust_ceiling_eps'])} (an empty faust agent on the same records) | "
        f"{tp['matcher_eps'] / tp['faust_ceiling_eps']:.3f} | >= 0.25 |",
        f"| the same against the bare consumer | {_n(tp['matcher_eps'])} | "
        f"{_n(tp['bare_eps'])} (bare aiokafka `getmany`) | {tp['ratio']:.4f} | |",
        *_written_rows(tp.get("records_per_event")),
        f"| vacancy posted -> first proposal, p50 at {lat['events_per_second']} events/s | "
        f"{_n(lat['p50_ms'])} ms | | | |",
        f"| vacancy posted -> first proposal, p99 | {_n(lat['p99_ms'])} ms | | | < 250 ms |",
        *([f"| of which the first hop, vacancy posted -> its verdict (legality stage), "
           f"p50 / p99 | {_n(lat['evaluated_p50_ms'])} / {_n(lat['evaluated_p99_ms'])} ms "
           f"| | | |"] if lat.get("evaluated_p99_ms") is not None else []),
        f"| vacancies with a proposal during the latency run | {lat['with_proposal']} of "
        f"{lat['vacancies']} | | | |",
        *_kept_up_rows(lat),
        f"| peak memory (RSS) | {_n(mem['peak_rss_mib'])} MiB; "
        f"{_n(mem['per_100k_workers_mib'])} MiB per 100,000 workers | | | <= 250 MiB |",
        *_ready_rows(mem, r["workers"]),
    ]
    lines += _steady_rows(m.get("steady"), tp["faust_ceiling_eps"])
    lines += _scale_out_rows(m.get("scale_out"))
    lines += _restart_rows(m.get("restart"))
    lines += [
        "", "Rules engine, one vacancy's best 5 candidates (pure code, no Kafka):", "",
        "| workers | market index | naive full scan | speed-up | goal |", "|---|---|---|---|---|",
    ]
    for row in m["rules_engine"]:
        goal = ">= 10x" if row["workers"] == 100_000 else ""
        lines.append(f"| {row['workers']:,} | {row['indexed_ms']:.2f} ms | "
                     f"{row['naive_ms']:.1f} ms | {row['speedup']:.0f}x | {goal} |")
    return lines + [""]


def _ready_rows(mem: dict[str, Any], workers: int) -> list[str]:
    """What the workers add, above a matcher that started on empty topics and holds
    nothing (the row above is taken above the process half a second after start)."""
    if mem.get("ready_rss_mib") is None:
        return []
    return [f"| of that, what the workers add: peak above a started matcher holding "
            f"nothing ({_n(mem['ready_rss_mib'])} MiB, on empty topics) | "
            f"{_n(mem['per_100k_above_ready_mib'])} MiB per 100,000 workers "
            f"({_n(mem['peak_rss_mib'] - mem['ready_rss_mib'])} MiB for {workers:,}) "
            f"| | | |"]


def _kept_up_rows(lat: dict[str, Any]) -> list[str]:
    """Whether the matcher kept up with the latency run's rate: a delay growing from
    the first third of the run to the last is a queue, and the pace to no lag says
    what this roster's full size lets the matcher take."""
    if "unread_at_end" not in lat:
        return []
    pace, rate = lat["pace_eps"], lat["events_per_second"]
    return [f"| did it keep up? p50 of the vacancies sent in the first / last third of "
            f"the run; records unread when the sending stopped | "
            f"{_n(lat['first_third_p50_ms'])} / {_n(lat['last_third_p50_ms'])} ms; "
            f"{_n(lat['unread_at_end'])} | | | |",
            f"| the matcher's pace on this mix at the roster's full size: events sent / "
            f"seconds until no lag | {_n(pace)} events/s | {rate} events/s (the rate "
            f"sent) | {'n/a' if pace is None else f'{pace / rate:.2f}'} | |"]


def _written_rows(written: dict[str, float] | None) -> list[str]:
    """What the backfill made the matcher write per input event, by topic."""
    if not written:
        return []
    return ["| records the backfill wrote per input event: " + ", ".join(
        f"`{topic}` {n:.2f}" for topic, n in written.items() if n >= 0.005)
        + " | | | |"]


def _steady_rows(steady: dict[str, Any] | None, ceiling_eps: float) -> list[str]:
    """After the backfill: waves of reviews, responses and returns with registrations,
    profile changes and vacancies around them, each timed to no lag."""
    if not steady:
        return []
    waves = "; ".join(f"{w['wave']} {_n(w['events'])} events ({_n(w['commands'])} of them "
                      f"the wave's commands) in {_n(w['seconds'], 1)} s"
                      for w in steady["waves"])
    return [
        f"| events/s in the steady phase (approvals, acceptances, returns among "
        f"registrations, profile changes and vacancies) | {_n(steady['events_per_second'])} | "
        f"{_n(ceiling_eps)} (the empty faust agent above) | "
        f"{steady['events_per_second'] / ceiling_eps:.3f} | >= 0.25 |",
        f"| the steady phase's waves | {waves} | | | |",
        f"| of the matches approved in the steady phase: accepted, then returned | "
        f"{_n(steady['accepted'])} of {_n(steady['reviews'])} reviewed | | | |",
    ]


def _scale_out_rows(scale: dict[str, Any] | None) -> list[str]:
    """The backfill again, through a group of matcher workers on the same broker."""
    if not scale:
        return []
    peaks = ", ".join(f"{_n(p)}" for p in scale["peak_rss_mib"])
    return [f"| events/s through {scale['workers']} matcher workers (the backfill again, a "
            f"fresh group) | {_n(scale['events_per_second'])} | "
            f"{_n(scale['one_worker_eps'])} (one worker, above) | "
            f"{scale['ratio_to_one']:.2f} | |",
            f"| peak memory (RSS) of each of the {scale['workers']} workers | {peaks} MiB | | | |"]


def _restart_rows(restart: dict[str, Any] | None) -> list[str]:
    """After rounds of churn (every worker's profile sent again), SIGKILL and start:
    seconds until the next proposal, beside the changelog history by then."""
    if not restart:
        return []
    rows = restart["rounds"]
    first = rows[0]
    static = restart.get("membership") == "static"
    member = ", a static group member" if static else ""
    out = []
    for row in rows:
        ratio = (f"{row['seconds_to_first_proposal'] / first['seconds_to_first_proposal']:.2f}"
                 if row is not first and row["seconds_to_first_proposal"]
                 and first["seconds_to_first_proposal"] else "")
        out.append(
            f"| restart after SIGKILL ({restart['store']} store{member}), after "
            f"{row['after_rounds']} round(s) of churn: start -> next proposal | "
            f"{_n(row['seconds_to_first_proposal'], 1)} s | "
            f"{'' if row is first else _n(first['seconds_to_first_proposal'], 1) + ' s'} | "
            f"{ratio} | <= 60 s, not growing |")
        out.append(f"| changelog records written by then (history) | "
                   f"{_n(row['changelog_records_written'])} | | | |")
        out += _phase_row(row.get("phases"), static)
    return out


def _phase_row(phases: dict[str, Any] | None, static: bool = False) -> list[str]:
    """Where a restart's time went, from the restarted worker's log lines."""
    if not phases or "joined" not in phases:
        return []
    stages = ", ".join(f"{s['stage']} {_n(s['keys'])} keys {_n(s['seconds'], 1)} s"
                       for s in phases.get("stages", []))
    joined = ("its partitions handed back" if static else "the dead member dropped")
    return [f"| of which: group joined ({joined}) at "
            f"{_n(phases['joined'], 1)} s; tables recovered at "
            f"{_n(phases.get('recovered', 0), 1)} s; stages' indexes and processed ids "
            f"rebuilt by {_n(phases.get('stages_recovered', 0), 1)} s ({stages}) | | | | |"]


def tracker_section(t: dict[str, Any]) -> list[str]:
    ev, ticks, mem = t["events"], t["ticks"], t["memory"]
    return [
        "## Tracker (`python -m tests.bench.tracker`)", "",
        f"{t['placements']:,} placements (accepted match + departure each).", "",
        "| measure | Circular | baseline (same run) | ratio | goal |", "|---|---|---|---|---|",
        f"| events/s through one tracker worker | {_n(ev['tracker_eps'])} | "
        f"{_n(ev['bare_eps'])} (bare aiokafka `getmany`) | {ev['ratio']:.4f} | |",
        f"| daily ticks processed per second (a year of ticks) | "
        f"{ticks['ticks_per_second']:.1f} | | | |",
        f"| effects of those ticks (reminders, overdue, triggers) | {ticks['effects']:,} "
        f"({_n(ticks['effects_per_second'])}/s) | | | |",
        f"| peak memory (RSS) | {_n(mem['peak_rss_mib'])} MiB"
        + (f"; {_n(mem['per_100k_placements_mib'])} MiB per 100,000 placements above "
           f"the idle process ({_n(mem['idle_rss_mib'])} MiB) | | | <= 250 MiB |"
           if "idle_rss_mib" in mem else " | | | |"),
        *_tracker_restart(t.get("restart")), "",
    ]


def _tracker_restart(r: dict[str, Any] | None) -> list[str]:
    if not r:
        return []
    return [f"| restart after SIGKILL ({r['store']} store): start -> the next departure's "
            f"placement | {_n(r['seconds_to_first_placement'], 1)} s | | | <= 60 s |"]


def _ms(p: dict[str, Any], missing: str = "n/a") -> str:
    shown = (missing if p[k] is None else _n(p[k], 1) for k in ("p50_ms", "p99_ms"))
    return " / ".join(shown) + " ms"


def _errors(kinds: dict[str, int]) -> str:
    return "; ".join(f"{k} x{v}" for k, v in kinds.items()) or "none"


def gateway_section(g: dict[str, Any]) -> list[str]:
    load, e2e, seed = g["load"], g["end_to_end"], g["seed"]
    gw, bare, kafka = load["gateway"], load["bare"], e2e["kafka_round_trip"]
    backlog = e2e["peak_backlog"]
    cores = ", ".join(f"{k} {v:.2f}" for k, v in gw["cores"].items() if v >= 0.01)
    postgres = g.get("database") == "postgresql"
    lines = [
        GATEWAY_ON_POSTGRESQL if postgres else "## Gateway (`python -m tests.bench.gateway`)",
        "", f"Measured with `{g['command']}`: the gateway's api, relay and projector, the "
        f"matcher and the tracker as separate processes, broker: {g['broker']}, "
        + ("PostgreSQL (a server of the run's own, flushing to disk, commits not waiting "
           "for the flush: `synchronous_commit=off`, the durability of SQLite's "
           "`synchronous=NORMAL`). " if postgres else "SQLite. ") +
        f"Seeded over HTTP: {seed['workers']:,} workers, {seed['vacancies']} open vacancies "
        f"of {seed['employers']} verified employers under 3 agreements, "
        f"{seed['recruiters']} recruiters and {seed['worker_users']} workers signed in.", "",
        "| measure | Circular | baseline (same run) | ratio | goal |", "|---|---|---|---|---|",
        f"| requests/s, mixed load of every role, {load['connections']} connections, "
        f"{load['seconds']:.0f} s | {_n(gw['rps'])} | {_n(bare['rps'])} (bare FastAPI "
        f"endpoint, same server and settings) | {load['ratio']:.3f} | >= 0.3 |",
        f"| latency p50 / p99 | {_ms(gw)} | {_ms(bare)} | | |",
        *_reading_rows(load),
        *_capacity_rows(load),
        *_console_rows(load),
        f"| errors (non-2xx, transport) | {gw['errors']} | {bare['errors']} | | 0 |",
        f"| vacancy posted -> first proposal readable, p50 / p99, at {e2e['rate']:.0f} "
        f"writes/s for {e2e['seconds']:.0f} s | {_ms(e2e, '> 30,000')} | {_ms(kafka)} "
        "(Kafka produce -> consume) | | p99 < 1000 ms |",
        f"| vacancies with a proposal within 30 s | {e2e['with_proposal']} of "
        f"{e2e['vacancies']} | | | all |",
        *_pushed_rows(e2e),
        f"| errors during the end-to-end run | {e2e['errors']} | | | 0 |", "",
        f"Errors, mixed load: {_errors(gw['error_kinds'])}. End to end: "
        f"{_errors(e2e['error_kinds'])}.", "",
        f"End to end counts from sending `POST /vacancies` (answered in {_ms(e2e['write_latency'])}"
        " like every write of that run) to the answer of the first `GET "
        "/vacancies/{id}/matches` showing a proposal; a vacancy that shows none within 30 s "
        "counts as slower than all. Each pending vacancy is polled every "
        f"{e2e['poll_ms']:.0f} ms, at most {e2e['poll_slots']} polls in flight; the proposal "
        f"appeared at most {_ms(e2e['poll_window'])} (p50 / p99) before it was seen, by "
        "which the figures may be high.", "",
        f"CPU during the mixed load, in cores of {g['cpus']}: {cores}. Most waiting at once during "
        f"the end-to-end run: {backlog['outbox']:.0f} outbox rows unpublished, "
        f"{backlog['matcher']:.0f} records unread by the matcher, "
        f"{backlog['projector']:.0f} by the projector.", "",
        "| request (role) | requests | p50 / p99 |", "|---|---|---|",
    ]
    for route, r in gw["routes"].items():
        lines.append(f"| `{route}` | {r['requests']:,} | {_ms(r)} |")
    return lines + [""]


def _pushed_rows(e2e: dict[str, Any]) -> list[str]:
    """The same end to end heard through ``GET /stream`` instead of polled (absent
    from runs before 2026-12-05)."""
    if "pushed" not in e2e:
        return []
    p = e2e["pushed"]
    return [f"| the same, pushed: posted -> first `match proposed` event on a recruiter's "
            f"`GET /stream` (one per recruiter, {p['streams']} open, no polling), p50 / p99, "
            f"at {p['rate']:.0f} writes/s for {p['seconds']:.0f} s | {_ms(p, '> 30,000')} | "
            f"{_ms(e2e, '> 30,000')} (polled, above) | | p99 < 1000 ms |",
            f"| vacancies with a proposal event within 30 s; errors; `POST` p50 / p99 | "
            f"{p['with_proposal']} of {p['vacancies']}; {p['errors']}; "
            f"{_ms(p['write_latency'])} | {e2e['with_proposal']} of {e2e['vacancies']}; "
            f"{e2e['errors']}; {_ms(e2e['write_latency'])} (polled) | | all; 0 |"]


def _console_rows(load: dict[str, Any]) -> list[str]:
    """The console's review queue page against the API call returning the same
    proposals (absent from runs before 2026-12-05)."""
    if "console" not in load:
        return []
    c = load["console"]
    return [f"| console: the recruiter's review queue page (`GET /console/review`) | "
            f"{_n(c['page']['rps'])}, p50 / p99 {_ms(c['page'])} | {_n(c['api']['rps'])} "
            f"(`GET /api/v1/matches?status=proposed`, p50 / p99 {_ms(c['api'])}) | "
            f"{c['ratio']:.3f}{_spread(c)} | >= 0.5 |"]


def _spread(console: dict[str, Any]) -> str:
    """The ratio of each alternating round (runs from 2026-12-05 on), to see its spread."""
    ratios = console.get("round_ratios")
    if not ratios:
        return ""
    return f" (rounds: {', '.join(f'{r:.2f}' for r in ratios)})"


def _reading_rows(load: dict[str, Any]) -> list[str]:
    """The phases that only help read the ratio (absent from runs before 2026-12-04)."""
    return [f"| to read the ratio: {r['what']} | {_n(r['rps'])}, p50 / p99 {_ms(r)} | "
            f"{_n(load['bare']['rps'])} | {r['ratio']:.3f} | |"
            for r in load.get("reading", {}).values()]


def _capacity_rows(load: dict[str, Any]) -> list[str]:
    """Issue 16's goals, against the stack's floor on the event loop in the same run:
    the mixed load, the cheapest request, and the p99 of a write under the mixed load
    against the floor's (thread pool, as the issue names it); then per core of the
    API, which the rest of the system shares during the mixed load."""
    reading = load.get("reading", {})
    loop, floor, cheapest = (reading.get(k) for k in ("floor on the loop", "floor", "cheapest"))
    if loop is None or floor is None or cheapest is None:
        return []
    gw = load["gateway"]
    post = gw["routes"].get("POST /vacancies", {}).get("p99_ms")
    rows = [f"| capacity: mixed load against the floor on the loop | {_n(gw['rps'])} | "
            f"{_n(loop['rps'])} | {gw['rps'] / loop['rps']:.3f} | >= 0.8 |",
            f"| capacity: the cheapest request against the floor on the loop | "
            f"{_n(cheapest['rps'])} | {_n(loop['rps'])} | {cheapest['rps'] / loop['rps']:.3f} "
            "| >= 0.9 |"]
    if post is not None and floor["p99_ms"]:
        rows.append(f"| capacity: `POST /vacancies` p99 under the mixed load against the "
                    f"floor's p99 | {_n(post, 1)} ms | {_n(floor['p99_ms'], 1)} ms | "
                    f"{post / floor['p99_ms']:.1f}x | <= 3x |")
    api_cores, loop_cores = gw["cores"].get("api", 0), loop["cores"].get("bare", 0)
    if api_cores and loop_cores:
        mixed_per_core, loop_per_core = gw["rps"] / api_cores, loop["rps"] / loop_cores
        rows.append(f"| capacity, per core of the API process(es): mixed load (API at "
                    f"{api_cores:.2f} cores; the relay, projector, matcher, tracker, broker"
                    + (", database server" if "postgresql" in gw["cores"] else "")
                    + " and load generator share the machine) against the floor on the loop "
                    f"(at "
                    f"{loop_cores:.2f} cores) | {_n(mixed_per_core)} | {_n(loop_per_core)} | "
                    f"{mixed_per_core / loop_per_core:.3f} | |")
    return rows


def api_processes_section() -> list[str]:
    """One row per number of API processes (``--api-workers N``), from the latest
    gateway run with each (``var/bench/gateway-api-N.json``); a number with no run
    here keeps its row from the report as it stands, marked so."""
    runs = sorted((json.loads(path.read_text()) for path in BENCH.glob("gateway-api-*.json")),
                  key=lambda g: g["api_workers"])
    kept = {n: row for n, row in previous_process_rows().items()
            if n not in {g["api_workers"] for g in runs}}
    if not runs and not kept:
        return []
    lines = [f"{PROCESSES} (`--api-workers`)", "",
             "Each row from its own run of the gateway benchmark, the bare server with as "
             "many processes.", "",
             "| API processes | mixed load, requests/s (bare) | ratio | p50 / p99 | "
             "`POST /vacancies` p99 | cheapest request/s | floor on the loop, requests/s "
             "| mixed / floor on the loop | end to end p50 / p99 | API cores | command |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in runs:
        load, e2e = g["load"], g["end_to_end"]
        gw = load["gateway"]
        post = gw["routes"].get("POST /vacancies", {}).get("p99_ms")
        cheapest = load.get("reading", {}).get("cheapest", {}).get("rps")
        loop = load.get("reading", {}).get("floor on the loop", {}).get("rps")
        on_loop = f"{_n(loop)} | {gw['rps'] / loop:.3f}" if loop else "n/a | n/a"
        lines.append(
            f"| {g['api_workers']} | {_n(gw['rps'])} ({_n(load['bare']['rps'])}) | "
            f"{load['ratio']:.3f} | {_ms(gw)} | {_n(post, 1)} ms | {_n(cheapest)} | "
            f"{on_loop} | {_ms(e2e, '> 30,000')} | {gw['cores'].get('api', 0):.2f} | "
            f"`{g['command']}` |")
    head = 6  # the heading, the sentence, the table's header and its rule
    rows = {int(line.split("|")[1]): line for line in lines[head:]} | kept
    return lines[:head] + [rows[n] for n in sorted(rows)] + [""]


def previous_process_rows() -> dict[int, str]:
    """The rows of the API processes' table in the report as it stands, by number of
    processes, each marked as kept from an earlier run."""
    if not OUT.exists():
        return {}
    text = OUT.read_text()
    if PROCESSES not in text:
        return {}
    rows = {}
    for line in text.split(PROCESSES, 1)[1].splitlines():
        cells = line.split("|")
        number = cells[1].split()[0] if len(cells) > 2 and cells[1].split() else ""
        if number.isdigit():
            mark = f" {KEPT_ROW}" if KEPT_ROW not in cells[1] else ""
            rows[int(number)] = "|".join([cells[0], f"{cells[1].rstrip()}{mark} ", *cells[2:]])
    return rows


def previous_sections() -> dict[str, list[str]]:
    """The sections of the report as it stands, by the first word of their heading: a
    benchmark not run this time keeps its last measured section (with a line saying
    so), rather than vanishing from the report."""
    if not OUT.exists():
        return {}
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in OUT.read_text().splitlines():
        if line.startswith(PROCESSES):  # written anew from its own outputs
            current = None
            continue
        if line.startswith("## "):
            name = line[3:].split(" (")[0]
            current = sections.setdefault(name, [line, "", KEPT])
            continue
        if current is not None and line != KEPT and not (current[-1] == "" and line == ""):
            current.append(line)
    return {k: v if v[-1] == "" else [*v, ""] for k, v in sections.items()}


PROCESSES = "### Gateway: API processes"
GATEWAY_ON_POSTGRESQL = ("## Gateway on PostgreSQL "
                         "(`python -m tests.bench.gateway --database postgresql`)")
KEPT = "*Kept from the previous report: this benchmark was not run again this time.*"
KEPT_ROW = "(an earlier run)"


def render() -> str:
    lines = ["# Performance", "",
             "Generated by `python -m tests.bench.report` from the output of `make bench` "
             "(`var/bench/*.json`); do not edit by hand.", "",
             f"Written {datetime.now(UTC):%Y-%m-%d} on {platform.machine()} "
             f"({platform.python_implementation()} {platform.python_version()}), "
             "one worker per service, the broker from jars on the same machine.", ""]
    matcher, tracker, gateway = _load("matcher"), _load("tracker"), _load("gateway")
    on_postgresql = _load("gateway-postgresql")
    before = previous_sections()
    for name, output, section in (("Matcher", matcher, matcher_section),
                                  ("Tracker", tracker, tracker_section),
                                  ("Gateway", gateway, gateway_section)):
        if output:
            lines += section(output)
        elif name in before:
            lines += before[name]
    lines += api_processes_section()
    postgresql = (gateway_section(on_postgresql) if on_postgresql
                  else before.get("Gateway on PostgreSQL", []))
    if postgresql:
        lines += ([""] if lines[-1] else []) + postgresql
    if not (matcher or tracker or gateway):
        lines.append("No benchmark output yet: run `make bench`.")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
