"""Reads a run back the way an outside client would: every record of every topic in
the run's namespace (plain kafka-python, from the start), and the gateway's read
models (plain SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import create_engine, text

from eventbus.deadletter import reason_of
from schemas.topics import INTERNAL, PUBLIC, dead_letters
from tests.faults.verifier import Observed
from tests.support.kafka import Record, read_all

#: event types the matcher and tracker publish (constants of the code: no user input)
EFFECT_TYPES = sorted({e.type for t in PUBLIC if set(t.producers) & {"matcher", "tracker"}
                       for e in t.events})

#: the read models a user sees, each row reduced to what must not differ between runs
STATE_QUERIES = {
    "vacancies": "SELECT id, verdict, violations, positions_filled, closed FROM vacancies",
    "matches": "SELECT id, status, score, outcome_reason FROM matches",
    "placements": "SELECT id, status, departure_date, expected_return_date, return_date, "
                  "overdue_since FROM placements",
    "returns": "SELECT id, status, match_id FROM returns",
    "triggers": "SELECT id, kind, placement_id, due_date, status FROM triggers",
    "quota_usage": "SELECT agreement_id || '/' || isco_code || '/' || year, used "
                   "FROM quota_usage",
    # what the matcher and tracker put on workers' timelines (the gateway's own
    # events there follow the HTTP requests, which a client may repeat)
    "timeline": "SELECT worker_id, count(*) FROM timeline WHERE event_type IN "  # noqa: S608
                "(" + ", ".join(f"'{t}'" for t in EFFECT_TYPES) + ") GROUP BY worker_id",
}


@dataclass
class Readback:
    observed: list[Observed]
    undecodable: int
    dead_letters: list[Record]


def read_topics(bootstrap: str, prefix: str) -> Readback:
    names = {t.prefixed(prefix).name: t.internal for t in PUBLIC + INTERNAL}
    records = read_all(bootstrap, sorted(names), settle=2.0, timeout=300)
    observed, bad = [], 0
    for r in records:
        headers = {k: v.decode(errors="replace") for k, v in r.headers.items()}
        try:
            payload = orjson.loads(r.value or b"")
            event_id, type_ = headers["ce_id"], headers["ce_type"]
        except (orjson.JSONDecodeError, KeyError):
            bad += 1  # a malformed input the harness wrote itself
            continue
        if not isinstance(payload, dict):
            bad += 1
            continue
        observed.append(Observed(topic=r.topic, partition=r.partition, offset=r.offset,
                                 event_id=event_id, type=type_,
                                 cause=headers.get("ce_causationid"), payload=payload,
                                 public=not names[r.topic]))
    dlq = [t.prefixed(prefix).name for t in dead_letters()]
    return Readback(observed, bad, read_all(bootstrap, dlq, settle=1.0, timeout=120))


def dead_letter_reasons(records: list[Record]) -> list[str]:
    return [reason_of(list(r.headers.items())) or "" for r in records]


def read_state(database_url: str) -> dict[str, dict[Any, Any]]:
    engine = create_engine(database_url)
    state: dict[str, dict[Any, Any]] = {}
    try:
        with engine.connect() as conn:
            for table, sql in STATE_QUERIES.items():
                rows = conn.execute(text(sql)).all()
                state[table] = {row[0]: tuple(_plain(v) for v in row[1:]) for row in rows}
    finally:
        engine.dispose()
    return state


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return tuple(sorted(map(str, value)))
    if isinstance(value, str) and value.startswith("["):
        return tuple(sorted(map(str, orjson.loads(value))))
    return str(value) if value is not None and not isinstance(value, int | bool) else value
