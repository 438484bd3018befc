"""The placement handler converges after a crash, whatever the crash kept.

The stage (eventbus/stage.py) handles records in batches; it writes a batch's outputs
(outbox), then its state writes, each key once in the order the batch first wrote it,
then the processed ids. A crash may keep any prefix of those state writes; the whole
batch is then handled again on top of them. Here a batch's writes are cut after every
possible prefix: the outputs (by event id, with their contents) and the state reached
must be those of a run without the crash.
"""

from datetime import date, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from eventbus.handlers import Context, StateTx
from schemas import topics as t
from schemas.codec import Decoded, decode, encode
from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events.base import Event
from schemas.events.clock import ClockTicked
from services.tracker.placements_stage import PlacementShard

DAY0 = date(2027, 1, 1)
MATCHES = {"m0": "w0", "m1": "w1", "m2": "w0", "m3": "w2"}


def accepted(match: str) -> Event:
    return mv.MatchAccepted(match_id=match, vacancy_id="v1", worker_id=MATCHES[match],
                            employer_id="e1", agreement_id="am-de", destination_country="DE",
                            isco_code="6111", contract_months=2, return_grace_days=5,
                            reentry_cooldown_months=1)


def departed(match: str, day: int) -> Event:
    return pe.DepartureRecorded(match_id=match, worker_id=MATCHES[match],
                                departure_date=DAY0 + timedelta(days=day), recorded_by="u1")


def returned(number: int, worker: str, match: str | None, day: int) -> Event:
    return pe.ReturnRegistered(return_id=f"r{number}", worker_id=worker, match_id=match,
                               return_date=DAY0 + timedelta(days=day),
                               intentions=["local_job"] if number % 2 else [],
                               early_return_reason="employer_abuse" if number % 3 else None)


def tick(day: int) -> Event:
    return ClockTicked(date=DAY0 + timedelta(days=day), source="admin")


days = st.integers(0, 200)
events = st.one_of(
    st.builds(accepted, st.sampled_from(sorted(MATCHES))),
    st.builds(departed, st.sampled_from(sorted(MATCHES)), days),
    st.builds(returned, st.integers(0, 5), st.sampled_from(["w0", "w1", "w2"]),
              st.none() | st.sampled_from(sorted(MATCHES)), days),
    st.builds(tick, days),
)


@st.composite
def stories(draw: st.DrawFn) -> list[Event]:
    """Placements from acceptance to return, with ticks, in any order."""
    found: list[Event] = []
    for match in draw(st.lists(st.sampled_from(sorted(MATCHES)), min_size=1, max_size=3,
                               unique=True)):
        left = draw(days)
        found += [accepted(match), departed(match, left)]
        if draw(st.booleans()):
            found.append(returned(draw(st.integers(0, 5)), MATCHES[match],
                                  draw(st.sampled_from([None, match])),
                                  left + draw(st.integers(0, 120))))
    found += [tick(d) for d in draw(st.lists(st.integers(0, 300), max_size=4))]
    return draw(st.permutations(found))


def decoded(event: Event) -> Decoded:
    enc = encode(event, source="/tests")
    return decode(enc.value, enc.headers)


class Shard:
    """One partition of the placement stage: a table, the handler, its index."""

    def __init__(self) -> None:
        self.handler = PlacementShard(t.PLACEMENTS.name, t.TRIGGERS.name)
        self.table: dict[str, Any] = {}
        self.published: dict[str, str] = {}  # event id -> value

    def run(self, batch: list[Decoded], keep: int | None = None) -> int:
        """Handle a batch as the stage does; with ``keep``, crash after that many of
        its state writes. Returns how many state writes the batch made."""
        tx = StateTx(self.table, indexes=self.handler.indexes)
        for record in batch:
            child = tx.child()
            for out in self.handler.handle(child, record, Context("t", 0, 0, 6)):
                value = out.event.model_dump_json()
                assert self.published.setdefault(out.event_id, value) == value, out
            tx.merge(child)
        child = tx.child()  # the batch's deferred work, as the stage runs it
        for out in self.handler.after_batch(child, Context("t", 0, -1, 6)):
            raise AssertionError(f"after_batch published {out}")
        tx.merge(child)
        writes = list(tx.staged().items())  # each key once, in first-written order
        for key, value in writes[:keep]:
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value
        if keep is not None:  # recovery: the index is rebuilt from the table
            self.handler.due.clear()
            for key, value in self.table.items():
                self.handler.due.apply(key, None, value)
        return len(writes)


def batches_of(records: list[Decoded], sizes: list[int]) -> list[list[Decoded]]:
    out, at = [], 0
    for size in sizes:
        if at < len(records):
            out.append(records[at:at + size])
            at += size
    if at < len(records):
        out.append(records[at:])
    return out


@settings(max_examples=400, deadline=None)
@given(inputs=st.lists(events, min_size=1, max_size=14) | stories(),
       sizes=st.lists(st.integers(1, 6), min_size=1, max_size=8),
       crash_in=st.integers(0, 20), keep=st.integers(0, 40))
# a crash that kept the tick of a batch but not the departure before it: handled again,
# the departure must not catch up to that tick (it would fire overdue for a placement
# the batch closes before the tick)
@example(inputs=[accepted("m0"), tick(10), departed("m0", 0), returned(1, "w0", None, 5),
                 tick(100)], sizes=[1, 4], crash_in=1, keep=1)
# a crash after the first of a return's two writes: the placement it closes must be
# written before the marker that says the return was settled
@example(inputs=[accepted("m0"), departed("m0", 0), returned(1, "w0", "m0", 5)],
         sizes=[2, 1], crash_in=1, keep=1)
def test_a_crash_anywhere_in_a_batch_changes_nothing_in_the_end(inputs, sizes, crash_in,
                                                                 keep):
    records = [decoded(e) for e in inputs]
    batches = batches_of(records, sizes)
    crash_in %= len(batches)
    clean, crashed = Shard(), Shard()
    for n, batch in enumerate(batches):
        clean.run(batch)
        if n == crash_in:
            # the crash may come after any prefix of the batch's state writes: none,
            # some, or all of them (``keep`` picks one of the total + 1 prefixes)
            total = crashed_writes(batch, crashed)
            cut = keep % (total + 1)
            before = dict(crashed.table)
            written = crashed.run(batch, keep=cut)
            assert written == total  # the prefixes counted are the batch's real writes
            kept = {k for k in set(before) | set(crashed.table)
                    if before.get(k) != crashed.table.get(k)}
            assert len(kept) <= cut  # and no more than the prefix reached the table
            crashed.run(batch)  # handed over again
        else:
            crashed.run(batch)
    assert crashed.published == clean.published  # every output, once, the same content
    assert crashed.table == clean.table


def crashed_writes(batch: list[Decoded], shard: Shard) -> int:
    """How many state writes the batch makes on the shard's state (a dry run)."""
    probe = Shard()
    probe.table = {k: v for k, v in shard.table.items()}
    for key, value in probe.table.items():
        probe.handler.due.apply(key, None, value)
    return probe.run(batch)
