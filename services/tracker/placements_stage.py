"""Placement shard, keyed by worker: accepted matches, departures, returns and ticks
of one worker meet here (SPEC 3.6). Placements are indexed by the next date they
need a tick for (reminder, overdue, referral, end of cooldown), so a tick takes
only what fell due instead of scanning every placement.

State keys: ``acc:<match>`` (terms of an accepted match not departed yet; deleted
when its placement starts), ``dep:<match>`` (a departure that came before its
acceptance), ``pl:<placement>`` (the placement, with ``due``: the next date it needs a
tick), ``open:<worker>`` (the worker's placements in the order they started: a return
naming no match closes the latest if it is still abroad), ``today:<partition>``,
``ret:<return>`` (how a return registration was settled, so the same registration
again changes nothing).

A placement's record outlives its acceptance: a departure or an acceptance delivered
again finds ``pl:`` and changes nothing, so ``acc:`` need not be kept.

A crash may keep any prefix of a batch's state writes (the stage writes each key once,
in the order the batch first wrote it) and then hands the whole batch over again. So
each record writes the key that says "done" (``pl:`` for a start, ``ret:`` after
``pl:`` for a return) after the keys it guards, and a placement closed by a return
remembers that return's id. ``today:`` is written once per batch, after everything
else (``after_batch``): a crash that kept it kept all the batch did, so a departure
handled again never catches up to a tick that came after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any, cast

from sortedcontainers import SortedList

from eventbus.handlers import Context, HandlerTable, Output, StateTx
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

    prefixes = (PL,)

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
        #: per partition, the latest tick of the batch under way (``today:`` waits
        #: for the end of the batch)
        self.batch_today: dict[int, date] = {}
        #: the stage's handlers; the event types it accepts are this table's (the
        #: stage passes over the rest, most of them proposals on the matches topic,
        #: without decoding them)
        self.handle = HandlerTable({
            mv.MatchAccepted: self._on_accepted,
            pe.DepartureRecorded: self._on_departure,
            pe.ReturnRegistered: self._on_return,
            ClockTicked: self._on_tick,
        })

    @property
    def indexes(self) -> tuple[DueIndex, ...]:
        return (self.due,)

    def _on_accepted(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(mv.MatchAccepted, decoded.event)
        p = ctx.partition
        placement_id = pe.placement_id(event.match_id)
        if tx.get(PL + placement_id) is not None:
            self._forget(tx, event.match_id)
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
        yield from self._start(tx, placement_id, terms, date.fromisoformat(pending["date"]), p)

    def _on_departure(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(pe.DepartureRecorded, decoded.event)
        p = ctx.partition
        placement_id = pe.placement_id(event.match_id)
        if tx.get(PL + placement_id) is not None:
            self._forget(tx, event.match_id)
            return  # departed already: the same departure again changes nothing
        accepted = tx.get(ACC + event.match_id)
        if accepted is None:  # the acceptance has not reached us yet
            tx.set(DEP + event.match_id, {"p": p, "date": event.departure_date.isoformat()})
            return
        terms = Terms(**{k: v for k, v in accepted.items() if k != "p"})
        yield from self._start(tx, placement_id, terms, event.departure_date, p)

    @staticmethod
    def _forget(tx: StateTx, match_id: str) -> None:
        """The acceptance's terms and a waiting departure, once the placement holds
        them (also what a crash, or a tracker of an earlier version, left behind)."""
        for key in (ACC + match_id, DEP + match_id):
            if tx.get(key) is not None:
                tx.delete(key)

    def _today(self, tx: StateTx, partition: int) -> date | None:
        pending = self.batch_today.get(partition)
        if pending is not None:
            return pending
        seen = tx.get(f"{TODAY}{partition}")
        return date.fromisoformat(seen) if seen else None

    def after_batch(self, tx: StateTx, ctx: Context) -> Iterator[Output]:
        """Store the batch's latest tick, as the batch's last write."""
        day = self.batch_today.pop(ctx.partition, None)
        if day is not None:
            tx.set(f"{TODAY}{ctx.partition}", day.isoformat())
        yield from ()

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
        started = self._started(tx, terms.worker_id)
        if placement_id not in started:
            tx.set(OPEN + terms.worker_id, [*started, placement_id])
        due = self._save(tx, placement, partition)  # from here on, started
        self._forget(tx, terms.match_id)
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

    @staticmethod
    def _started(tx: StateTx, worker_id: str) -> list[str]:
        """The worker's placements in the order they started."""
        value = tx.get(OPEN + worker_id)
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)  # str: stored before

    def _returning(self, tx: StateTx, event: pe.ReturnRegistered
                   ) -> tuple[str, Placement] | None:
        """The placement a return registration is for: the one of its match, else the
        worker's latest, or the one this very registration closed already (a crash may
        have kept the worker's list and that placement, but not the later ones)."""
        if event.match_id:
            found = [pe.placement_id(event.match_id)]
        else:
            found = self._started(tx, event.worker_id)[::-1]
        latest = None
        for placement_id in found:
            record = tx.get(PL + placement_id)
            if record is None:
                continue
            if record.get("return_id") == event.return_id:
                return placement_id, records.load(record)
            if latest is None:
                latest = placement_id, record
        return (latest[0], records.load(latest[1])) if latest else None

    def _on_return(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(pe.ReturnRegistered, decoded.event)
        partition = ctx.partition
        if tx.get(RET + event.return_id) is not None:
            return  # this registration was settled already
        found = self._returning(tx, event)
        if found is not None and found[1].return_id == event.return_id:
            # this registration closed it, but a crash kept the placement's write only
            tx.set(RET + event.return_id, {"p": partition, "settled": found[0]})
            return
        if (found is None or found[1].terms.worker_id != event.worker_id
                or (not event.match_id and not found[1].abroad)):  # the latest is closed
            yield from self._unmatched(tx, event, partition, "no open placement of this worker"
                                       + (" for that match" if event.match_id else ""))
            return
        placement_id, before = found
        try:
            placement = register_return(before, event.return_date, event.return_id)
        except ReturnRefused as refused:
            yield from self._unmatched(tx, event, partition, refused.reason)
            return
        due = self._save(tx, placement, partition)
        tx.set(RET + event.return_id, {"p": partition, "settled": placement_id})
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

    def _on_tick(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        day, partition = cast(ClockTicked, decoded.event).date, ctx.partition
        # what fell due by this tick's day; when the tick is not later than today, that
        # is nothing, unless a crash kept ``today:`` but not the placements of a tick
        for key in self.due.due(partition, day):
            yield from self._tick_one(tx, records.load(tx.get(key)), day, partition)
        today = self._today(tx, partition)
        if today is None or day > today:  # the clock never goes backwards
            self.batch_today[partition] = day

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
