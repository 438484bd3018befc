"""Placement shard, keyed by worker: accepted matches, departures, returns and ticks
of one worker meet here (SPEC 3.6). Placements are indexed by the next date they
need a tick for (reminder, overdue, referral, end of cooldown), so a tick takes
only what fell due instead of scanning every placement.

State keys: ``acc:<match>`` (terms of an accepted match), ``dep:<match>`` (a departure
that came before its acceptance), ``pl:<placement>``, ``open:<worker>`` (the worker's
placement still abroad), ``today:<partition>``, ``ret:<return>`` (how a return
registration was settled, so the same registration again changes nothing).
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


class DueIndex:
    """Index: placements by the next date they need a tick, per partition."""

    def __init__(self) -> None:
        self.by_partition: dict[int, SortedList] = {}

    def clear(self) -> None:
        self.by_partition.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if not key.startswith(PL):
            return
        for record, add in ((old, False), (new, True)):
            if record is None:
                continue
            due = next_due(records.load(record))
            if due is None:
                continue
            entries = self.by_partition.setdefault(record["p"], SortedList())
            (entries.add if add else entries.discard)((due.isoformat(), key))

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
            terms = Terms(match_id=event.match_id, worker_id=event.worker_id,
                          vacancy_id=event.vacancy_id, employer_id=event.employer_id,
                          agreement_id=event.agreement_id,
                          destination_country=event.destination_country,
                          isco_code=event.isco_code, contract_months=event.contract_months,
                          return_grace_days=event.return_grace_days,
                          reentry_cooldown_months=event.reentry_cooldown_months)
            tx.set(ACC + event.match_id, {"p": p, **terms.__dict__})
            pending = tx.get(DEP + event.match_id)
            if pending is not None:
                tx.delete(DEP + event.match_id)
                yield from self._start(tx, terms, date.fromisoformat(pending["date"]), p)
        elif isinstance(event, pe.DepartureRecorded):
            accepted = tx.get(ACC + event.match_id)
            if accepted is None:  # the acceptance has not reached us yet
                tx.set(DEP + event.match_id, {"p": p, "date": event.departure_date.isoformat()})
                return
            terms = Terms(**{k: v for k, v in accepted.items() if k != "p"})
            yield from self._start(tx, terms, event.departure_date, p)
        elif isinstance(event, pe.ReturnRegistered):
            yield from self._on_return(tx, event, p)
        elif isinstance(event, ClockTicked):
            yield from self._on_tick(tx, event.date, p)

    def _today(self, tx: StateTx, partition: int) -> date | None:
        seen = tx.get(f"{TODAY}{partition}")
        return date.fromisoformat(seen) if seen else None

    def _save(self, tx: StateTx, placement: Placement, partition: int) -> None:
        tx.set(PL + placement.placement_id, {"p": partition, **records.dump(placement)})

    def _start(self, tx: StateTx, terms: Terms, departure: date, partition: int
               ) -> Iterator[Output]:
        placement_id = pe.placement_id(terms.match_id)
        if tx.get(PL + placement_id) is not None:
            return  # departed already: the same departure again changes nothing
        placement = depart(placement_id, terms, departure)
        self._save(tx, placement, partition)
        tx.set(OPEN + terms.worker_id, placement_id)
        yield Output(self.placements_topic, pe.PlacementStarted(
            placement_id=placement_id, match_id=terms.match_id, worker_id=terms.worker_id,
            vacancy_id=terms.vacancy_id, employer_id=terms.employer_id,
            agreement_id=terms.agreement_id, destination_country=terms.destination_country,
            isco_code=terms.isco_code, departure_date=departure,
            expected_return_date=placement.expected_return_date),
            derived_event_id(placement_id, "started"))
        today = self._today(tx, partition)
        if today is not None:  # the clock may already be past some of its dates
            yield from self._tick_one(tx, PL + placement_id, today, partition)

    def _on_return(self, tx: StateTx, event: pe.ReturnRegistered, partition: int
                   ) -> Iterator[Output]:
        if tx.get(RET + event.return_id) is not None:
            return  # this registration was settled already
        placement_id = (pe.placement_id(event.match_id) if event.match_id
                        else tx.get(OPEN + event.worker_id))
        record = tx.get(PL + placement_id) if placement_id else None
        if record is None or record["terms"]["worker_id"] != event.worker_id:
            tx.set(RET + event.return_id, {"p": partition, "settled": "unmatched"})
            yield self._unmatched(event, "no open placement of this worker"
                                  + (" for that match" if event.match_id else ""))
            return
        before = records.load(record)
        try:
            placement = register_return(before, event.return_date)
        except ReturnRefused as refused:
            tx.set(RET + event.return_id, {"p": partition, "settled": "unmatched"})
            yield self._unmatched(event, refused.reason)
            return
        tx.set(RET + event.return_id, {"p": partition, "settled": placement_id})
        self._save(tx, placement, partition)
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
            yield self._fire(placement, spec)
        today = self._today(tx, partition)
        if today is not None:
            yield from self._tick_one(tx, PL + placement_id, today, partition)

    def _unmatched(self, event: pe.ReturnRegistered, reason: str) -> Output:
        return Output(self.placements_topic, pe.ReturnUnmatched(
            return_id=event.return_id, worker_id=event.worker_id,
            return_date=event.return_date, reason=reason),
            derived_event_id(event.return_id, "unmatched"))

    def _on_tick(self, tx: StateTx, day: date, partition: int) -> Iterator[Output]:
        today = self._today(tx, partition)
        if today is not None and day <= today:
            return  # the clock never goes backwards
        tx.set(f"{TODAY}{partition}", day.isoformat())
        for key in self.due.due(partition, day):
            yield from self._tick_one(tx, key, day, partition)

    def _tick_one(self, tx: StateTx, key: str, today: date, partition: int
                  ) -> Iterator[Output]:
        before = records.load(tx.get(key))
        placement, effects = on_tick(before, today)
        if not effects:
            return
        self._save(tx, placement, partition)
        terms = placement.terms
        expected = placement.expected_return_date
        for effect in effects:
            if effect.kind == "reminder":
                yield Output(self.placements_topic, pe.ReturnReminderDue(
                    placement_id=placement.placement_id, worker_id=terms.worker_id,
                    expected_return_date=expected, remind_on=reminder_on(expected)),
                    derived_event_id(placement.placement_id, "reminder"))
            elif effect.kind == "overdue":
                yield Output(self.placements_topic, pe.PlacementOverdue(
                    placement_id=placement.placement_id, worker_id=terms.worker_id,
                    expected_return_date=expected, overdue_since=effect.on),
                    derived_event_id(placement.placement_id, "overdue"))
                yield self._fire(placement, triggers.on_overdue(expected, effect.on))
            elif effect.kind == "long_overdue":
                yield self._fire(placement, triggers.on_long_overdue(
                    expected, terms.return_grace_days, effect.on))
            elif placement.return_date is not None:
                yield self._fire(placement, triggers.on_reentry(placement.return_date,
                                                                effect.on))

    def _fire(self, placement: Placement, spec: triggers.TriggerSpec) -> Output:
        worker_id = placement.terms.worker_id
        trigger_id = te.trigger_id(worker_id, placement.placement_id, spec.kind.value,
                                   spec.cause)
        return Output(self.triggers_topic, te.TriggerFired(
            trigger_id=trigger_id, worker_id=worker_id, placement_id=placement.placement_id,
            kind=spec.kind, cause=spec.cause, reason=spec.reason, due_date=spec.due_date),
            derived_event_id(trigger_id, "fired"))
