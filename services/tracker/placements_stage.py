"""Placement shard, keyed by worker: accepted matches, departures, returns and ticks
of one worker meet here (SPEC 3.6). Placements are indexed by the next date they
need a tick for (reminder, overdue, referral, end of cooldown), so a tick takes
only what fell due instead of scanning every placement.

State keys: ``acc:<match>`` (terms of an accepted match not departed yet; deleted
when its placement starts), ``dep:<match>`` (a departure that came before its
acceptance), ``pl:<placement>`` (the placement, with ``due``: the next date it needs a
tick), ``open:<worker>`` (the worker's placement still abroad), ``today:<partition>``,
``ret:<return>`` (how a return registration was settled, so the same registration
again changes nothing).

A placement's record outlives its acceptance: a departure or an acceptance delivered
again finds ``pl:`` and changes nothing, so ``acc:`` need not be kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sortedcontainers import SortedList

from eventbus.stage import Context, Output, StateTx
from schemas.codec import Decoded
from schemas.envelope import derived_event_id
from schemas.events import matches as mv
from schemas.events import placements as pe
from schemas.events import triggers as te
from schemas.events.clock import ClockTicked
from services.tracker import records
from services.tracker.domain import triggers
from services.tracker.domain.dates import Timing, reminder_on
from services.tracker.domain.placement import (
    Placement,
    ReturnRefused,
    Terms,
    depart,
    next_due,
    on_tick,
    register_return,
)

ACC, DEP, PL, OPEN, TODAY, RET = "acc:", "dep:", "pl:", "open:", "today:", "ret:"
DUE = "due"  # in a placement's record: the next date it needs a tick


def due_of(record: dict[str, Any]) -> str | None:
    """The next date (ISO) a stored placement needs a tick; records saved before the
    date was stored with them are loaded to compute it."""
    if DUE in record:
        due: str | None = record[DUE]
        return due
    found = next_due(records.load(record))
    return found.isoformat() if found else None


class DueIndex:
    """Index: placements by the next date they need a tick, per partition."""

    def __init__(self) -> None:
        self.by_partition: dict[int, SortedList] = {}

    def clear(self) -> None:
        self.by_partition.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if not key.startswith(PL):
            return
        if old is not None:
            due = due_of(old)
            if due is not None:
                entries = self.by_partition.get(old["p"])
                if entries is not None:
                    entries.discard((due, key))
        if new is not None:
            due = due_of(new)
            if due is not None:
                self.by_partition.setdefault(new["p"], SortedList()).add((due, key))

    def due(self, partition: int, today: date) -> list[str]:
        entries = self.by_partition.get(partition)
        if not entries:
            return []
        return [key for _, key in entries.irange(maximum=(today.isoformat(), "\uffff"))]


class PlacementShard:
    def __init__(self, placements_topic: str, triggers_topic: str) -> None:
        self.placements_topic = placements_topic
        self.triggers_topic = triggers_topic
        self.due = DueIndex()

    @property
    def indexes(self) -> tuple[DueIndex, ...]:
        return (self.due,)

    def handle(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = decoded.event
        p = ctx.partition
        if isinstance(event, mv.MatchAccepted):
            placement_id = pe.placement_id(event.match_id)
            if tx.get(PL + placement_id) is not None:
                return  # the acceptance again, after its placement started
            terms = Terms(match_id=event.match_id, worker_id=event.worker_id,
                          vacancy_id=event.vacancy_id, employer_id=event.employer_id,
                          agreement_id=event.agreement_id,
                          destination_country=event.destination_country,
                          isco_code=event.isco_code, contract_months=event.contract_months,
                          return_grace_days=event.return_grace_days,
                          reentry_cooldown_months=event.reentry_cooldown_months)
            pending = tx.get(DEP + event.match_id)
            if pending is None:
                tx.set(ACC + event.match_id, {"p": p, **records.dump_terms(terms)})
                return
            tx.delete(DEP + event.match_id)
            yield from self._start(tx, placement_id, terms, date.fromisoformat(pending["date"]),
                                   p)
        elif isinstance(event, pe.DepartureRecorded):
            placement_id = pe.placement_id(event.match_id)
            if tx.get(PL + placement_id) is not None:
                # departed already: the same departure again changes nothing (and
                # forgets the terms a tracker of an earlier version kept)
                if tx.get(ACC + event.match_id) is not None:
                    tx.delete(ACC + event.match_id)
                return
            accepted = tx.get(ACC + event.match_id)
            if accepted is None:  # the acceptance has not reached us yet
                tx.set(DEP + event.match_id, {"p": p, "date": event.departure_date.isoformat()})
                return
            tx.delete(ACC + event.match_id)  # the placement keeps the terms
            terms = Terms(**{k: v for k, v in accepted.items() if k != "p"})
            yield from self._start(tx, placement_id, terms, event.departure_date, p)
        elif isinstance(event, pe.ReturnRegistered):
            yield from self._on_return(tx, event, p)
        elif isinstance(event, ClockTicked):
            yield from self._on_tick(tx, event.date, p)

    def _today(self, tx: StateTx, partition: int) -> date | None:
        seen = tx.get(f"{TODAY}{partition}")
        return date.fromisoformat(seen) if seen else None

    def _save(self, tx: StateTx, placement: Placement, partition: int) -> date | None:
        """Store the placement with the next date it needs a tick, and return that date."""
        due = next_due(placement)
        tx.set(PL + placement.placement_id, {"p": partition, DUE: due.isoformat() if due
                                             else None, **records.dump(placement)})
        return due

    def _start(self, tx: StateTx, placement_id: str, terms: Terms, departure: date,
               partition: int) -> Iterator[Output]:
        """Start the placement (the caller found none under ``placement_id``)."""
        placement = depart(placement_id, terms, departure)
        due = self._save(tx, placement, partition)
        tx.set(OPEN + terms.worker_id, placement_id)
        yield Output(self.placements_topic, pe.PlacementStarted(
            placement_id=placement_id, match_id=terms.match_id, worker_id=terms.worker_id,
            vacancy_id=terms.vacancy_id, employer_id=terms.employer_id,
            agreement_id=terms.agreement_id, destination_country=terms.destination_country,
            isco_code=terms.isco_code, departure_date=departure,
            expected_return_date=placement.expected_return_date),
            derived_event_id(placement_id, "started"))
        yield from self._catch_up(tx, placement, due, partition)

    def _catch_up(self, tx: StateTx, placement: Placement, due: date | None, partition: int
                  ) -> Iterator[Output]:
        """The clock may already be past some of a placement's dates."""
        if due is None:
            return
        today = self._today(tx, partition)
        if today is not None and due <= today:
            yield from self._tick_one(tx, placement, today, partition)

    def _on_return(self, tx: StateTx, event: pe.ReturnRegistered, partition: int
                   ) -> Iterator[Output]:
        if tx.get(RET + event.return_id) is not None:
            return  # this registration was settled already
        placement_id = (pe.placement_id(event.match_id) if event.match_id
                        else tx.get(OPEN + event.worker_id))
        record = tx.get(PL + placement_id) if placement_id else None
        if record is None or record["terms"]["worker_id"] != event.worker_id:
            yield from self._unmatched(tx, event, partition, "no open placement of this worker"
                                       + (" for that match" if event.match_id else ""))
            return
        before = records.load(record)
        try:
            placement = register_return(before, event.return_date)
        except ReturnRefused as refused:
            yield from self._unmatched(tx, event, partition, refused.reason)
            return
        tx.set(RET + event.return_id, {"p": partition, "settled": placement_id})
        due = self._save(tx, placement, partition)
        if tx.get(OPEN + event.worker_id) == placement_id:
            tx.delete(OPEN + event.worker_id)
        terms = placement.terms
        assert placement.return_timing is not None and placement.reentry_from is not None
        yield Output(self.placements_topic, pe.PlacementReturned(
            placement_id=placement_id, match_id=terms.match_id, worker_id=terms.worker_id,
            employer_id=terms.employer_id, agreement_id=terms.agreement_id,
            return_id=event.return_id, return_date=event.return_date,
            expected_return_date=placement.expected_return_date,
            on_time=placement.return_timing is Timing.ON_TIME,
            early=placement.return_timing is Timing.EARLY,
            reentry_from=placement.reentry_from),
            derived_event_id(placement_id, "returned"))
        for spec in triggers.on_return(event, placement.expected_return_date,
                                       placement.return_timing):
            yield self._fire(terms.worker_id, placement_id, spec)
        yield from self._catch_up(tx, placement, due, partition)

    def _unmatched(self, tx: StateTx, event: pe.ReturnRegistered, partition: int,
                   reason: str) -> Iterator[Output]:
        """A return registration that closes no placement is kept and reported, and
        still gets the triggers of every return (of no placement)."""
        tx.set(RET + event.return_id, {"p": partition, "settled": "unmatched"})
        yield Output(self.placements_topic, pe.ReturnUnmatched(
            return_id=event.return_id, worker_id=event.worker_id,
            return_date=event.return_date, reason=reason),
            derived_event_id(event.return_id, "unmatched"))
        for spec in triggers.on_any_return(event):
            yield self._fire(event.worker_id, None, spec)

    def _on_tick(self, tx: StateTx, day: date, partition: int) -> Iterator[Output]:
        today = self._today(tx, partition)
        if today is not None and day <= today:
            return  # the clock never goes backwards
        tx.set(f"{TODAY}{partition}", day.isoformat())
        for key in self.due.due(partition, day):
            yield from self._tick_one(tx, records.load(tx.get(key)), day, partition)

    def _tick_one(self, tx: StateTx, before: Placement, today: date, partition: int
                  ) -> Iterator[Output]:
        placement, effects = on_tick(before, today)
        if not effects:
            return
        self._save(tx, placement, partition)
        terms = placement.terms
        worker_id, placement_id = terms.worker_id, placement.placement_id
        expected = placement.expected_return_date
        for effect in effects:
            if effect.kind == "reminder":
                yield Output(self.placements_topic, pe.ReturnReminderDue(
                    placement_id=placement_id, worker_id=worker_id,
                    expected_return_date=expected, remind_on=reminder_on(expected)),
                    derived_event_id(placement_id, "reminder"))
            elif effect.kind == "overdue":
                yield Output(self.placements_topic, pe.PlacementOverdue(
                    placement_id=placement_id, worker_id=worker_id,
                    expected_return_date=expected, overdue_since=effect.on),
                    derived_event_id(placement_id, "overdue"))
                yield self._fire(worker_id, placement_id,
                                 triggers.on_overdue(expected, effect.on))
            elif effect.kind == "long_overdue":
                yield self._fire(worker_id, placement_id, triggers.on_long_overdue(
                    expected, terms.return_grace_days, effect.on))
            elif placement.return_date is not None:
                yield self._fire(worker_id, placement_id,
                                 triggers.on_reentry(placement.return_date, effect.on))

    def _fire(self, worker_id: str, placement_id: str | None, spec: triggers.TriggerSpec
              ) -> Output:
        trigger_id = te.trigger_id(worker_id, placement_id, spec.kind.value, spec.cause)
        return Output(self.triggers_topic, te.TriggerFired(
            trigger_id=trigger_id, worker_id=worker_id, placement_id=placement_id,
            kind=spec.kind, cause=spec.cause, reason=spec.reason, due_date=spec.due_date),
            derived_event_id(trigger_id, "fired"))
