"""The verifier: pure code, no Kafka, no database.

An *effect* is something a user can see that an input caused: a verdict on a
vacancy, a proposal, a withdrawal, a placement's start or return, a trigger. On the
wire each is an event on a public topic; its *identity* says what it is without
event ids (``("circular.match.withdrawn", match_id, "consent_withdrawn", 2)`` is the
second withdrawal of that match for that reason). The same event id read twice is a
redelivery, which consumers drop by id: counted, not a fault. The same effect under
two ids is a duplicate: a user would see it twice.

Inputs are identified the same way (type, entity, content), so runs whose inputs
got fresh ids from the gateway still compare. The verifier compares a run with the
reference run of the same workload without faults:

- lost: an input or an effect of the reference that the run does not have;
- duplicated: an effect the run produced more often than the reference did, or a
  created entity (agreement, employer, vacancy, worker) published under two ids;
- unexpected: an effect of a kind the reference never produced at all;
- state: rows of the gateway's read models that differ from the reference's.

It joins every input to the effects it caused (following causation ids through
internal topics) and counts the inputs whose effects all arrived exactly once.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

Key = tuple[Any, ...]
#: inputs that create an entity: published once, whatever the client retried
CREATES = ("circular.agreement.recorded", "circular.employer.registered",
           "circular.vacancy.posted", "circular.worker.registered",
           "circular.departure.recorded", "circular.return.registered")


@dataclass(frozen=True)
class Observed:
    """One record read back from a topic."""

    topic: str
    partition: int
    offset: int
    event_id: str
    type: str
    cause: str | None
    payload: Mapping[str, Any]
    public: bool = True


def identity(o: Observed) -> Key | None:
    """What an effect says happened, without ids or occurrence; None for records that
    are not user-visible effects (internal re-keying, broadcasts)."""
    p, t = o.payload, o.type
    if not o.public:
        return None
    if t == "circular.vacancy.evaluated":
        return (t, p["vacancy_id"], p["status"], tuple(sorted(p.get("violations") or ())))
    if t == "circular.vacancy.positions-changed":
        return (t, p["vacancy_id"], p["positions_filled"])
    if t == "circular.quota.usage-changed":
        return (t, p["agreement_id"], p["isco_code"], p["year"], p["used"])
    if t.startswith("circular.match.") and "match_id" in p and "decision" not in p:
        return (t, p["match_id"], p.get("reason"))
    if t.startswith("circular.placement.") or t == "circular.return.reminder-due":
        return (t, p["placement_id"])
    if t == "circular.return.unmatched":
        return (t, p["return_id"])
    if t == "circular.trigger.fired":
        return (t, p["trigger_id"], p["kind"], p["due_date"])
    return None


def input_identity(o: Observed) -> Key:
    """An input by what it says: type, entity and a digest of its content."""
    digest = hashlib.blake2b(orjson.dumps(o.payload, option=orjson.OPT_SORT_KEYS),
                             digest_size=8).hexdigest()
    entity = next((o.payload[f] for f in ("vacancy_id", "worker_id", "employer_id",
                                          "agreement_id", "match_id", "date")
                   if f in o.payload), None)
    return (o.type, entity, digest[:16])


@dataclass
class Effects:
    """One run read back: each effect (identity + occurrence number) with the input
    it traces back to, and the inputs with the ids they were published under."""

    roots: dict[Key, Key | None] = field(default_factory=dict)
    inputs: dict[Key, set[str]] = field(default_factory=lambda: defaultdict(set))
    redelivered: int = 0
    records: int = 0


def effects(observed: Iterable[Observed], is_input: set[str] | None = None,
            input_topics: set[str] | None = None) -> Effects:
    """``is_input``: the ids of the inputs (workloads published by the harness); or
    ``input_topics``: every record there is an input (written by the gateway)."""
    out = Effects()
    ordered = sorted(observed, key=lambda o: (o.topic, o.partition, o.offset))
    causes: dict[str, str | None] = {}
    input_of: dict[str, Key] = {}
    for o in ordered:
        causes.setdefault(o.event_id, o.cause)
        if (is_input is not None and o.event_id in is_input) or \
                (input_topics is not None and o.topic in input_topics):
            key = input_identity(o)
            input_of[o.event_id] = key
            out.inputs[key].add(o.event_id)
    seen: set[tuple[str, str]] = set()
    occurrences: Counter[Key] = Counter()
    for o in ordered:
        out.records += 1
        if (o.topic, o.event_id) in seen:
            out.redelivered += o.public  # broadcasts repeat an id on purpose
            continue
        seen.add((o.topic, o.event_id))
        what = None if o.event_id in input_of else identity(o)
        if what is None:
            continue
        occurrences[what] += 1
        key = (*what, occurrences[what])
        out.roots[key] = _root(o.cause, causes, input_of)
    return out


def _root(cause: str | None, causes: Mapping[str, str | None],
          input_of: Mapping[str, Key]) -> Key | None:
    for _ in range(20):
        if cause is None:
            return None
        if cause in input_of:
            return input_of[cause]
        cause = causes.get(cause)
    return None


@dataclass
class Verdict:
    inputs: int
    inputs_joined: int
    expected: int
    produced: int
    lost: int
    duplicated: int
    unexpected: int
    redelivered: int
    state_rows: int
    state_diff: int
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.lost == self.duplicated == self.unexpected == self.state_diff == 0
                and self.inputs_joined == self.inputs)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"ok": self.ok}


def verify(reference: Effects, run: Effects,
           reference_state: Mapping[str, Mapping[Any, Any]],
           state: Mapping[str, Mapping[Any, Any]]) -> Verdict:
    """Compare ``run`` with ``reference`` input by input, effect by effect, row by row."""
    ref_keys, run_keys = set(reference.roots), set(run.roots)
    lost = ref_keys - run_keys
    extra = run_keys - ref_keys
    ref_kinds = {k[:-1] for k in ref_keys}
    duplicated = {k for k in extra if k[:-1] in ref_kinds}
    unexpected = extra - duplicated
    lost_inputs = set(reference.inputs) - set(run.inputs)
    doubled_inputs = {k for k, ids in run.inputs.items() if k[0] in CREATES and len(ids) > 1}
    broken = ({reference.roots[k] for k in lost} | {run.roots[k] for k in extra}
              | lost_inputs | doubled_inputs)
    everything = set(reference.inputs) | set(run.inputs)
    rows, diff, examples = _compare_state(reference_state, state)
    for label, keys in (("lost input", lost_inputs), ("lost", lost),
                        ("input published twice", doubled_inputs),
                        ("duplicated", duplicated), ("unexpected", unexpected)):
        examples += [f"{label}: {k}" for k in sorted(keys, key=repr)[:3]]
    return Verdict(inputs=len(everything), inputs_joined=len(everything - broken),
                   expected=len(ref_keys), produced=len(run_keys),
                   lost=len(lost) + len(lost_inputs),
                   duplicated=len(duplicated) + len(doubled_inputs),
                   unexpected=len(unexpected), redelivered=run.redelivered,
                   state_rows=rows, state_diff=diff, examples=examples[:12])


def _compare_state(reference: Mapping[str, Mapping[Any, Any]],
                   state: Mapping[str, Mapping[Any, Any]]) -> tuple[int, int, list[str]]:
    rows = diff = 0
    examples: list[str] = []
    for table in sorted(set(reference) | set(state)):
        ref, got = reference.get(table, {}), state.get(table, {})
        for pk in set(ref) | set(got):
            rows += 1
            if ref.get(pk) != got.get(pk):
                diff += 1
                if len(examples) < 4:
                    examples.append(f"{table} {pk}: reference {ref.get(pk)!r}, "
                                    f"run {got.get(pk)!r}")
    return rows, diff, examples
