"""Worker router, keyed by worker: keeps what matching knows of each worker and sends
it to every labour market the worker belongs to (its occupations x its preferred
destinations, or every destination with an agreement when it listed none).

It is also where a worker's acceptances are arbitrated: an acceptance goes on to
its market only if the worker holds no other accepted or pending acceptance, so a
worker never holds two, whatever order the markets answer in. Matches whose
placement ended (``ended``) never make the worker busy again, even when their
acceptance is delivered again after the return.

State keys: ``wkr:<worker>`` and ``dst:<partition>`` (destinations with an
agreement, copied per partition from the agreement broadcast).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from typing import Any, cast

from kafka.partitioner.default import murmur2

from eventbus.handlers import Context, HandlerTable, Output, SecondaryIndex, StateTx
from schemas.codec import Decoded
from schemas.envelope import derived_event_id
from schemas.events import agreements as ag
from schemas.events import matches as mv
from schemas.events import placements as pl
from schemas.events import triggers as tr
from schemas.events import workers as wk
from schemas.events.market import AcceptanceRequest, MarketWorker, WorkerStanding
from schemas.events.matches import market_key

WKR, DST = "wkr:", "dst:"
PLACEHOLDER_MARKET = "XX-0000"  # replaced by each market's name before sending
ANYWHERE = "anywhere"


def _open_to_anywhere(record: dict[str, Any]) -> list[str]:
    profile = record.get("profile")
    if profile and not profile["preferred_destinations"] and not record.get("erased"):
        return [f"{record['p']}:{ANYWHERE}"]
    return []


def new_record(partition: int) -> dict[str, Any]:
    return {"p": partition, "profile": None, "erased": False, "busy_with": None,
            "reserved": None, "reentry_from": None, "returned_on_time": False,
            "rehire": [], "ended": [], "markets": {}, "version": 0}


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) gives ``key``: where the
    market's other records (vacancies, reviews) land."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class WorkerRouter:
    """Handles each record at once; the fan-out to markets waits for the end of the
    batch (:meth:`after_batch`), so a worker changed many times in one batch (say, by
    thirty new destinations) is sent out once, as it ends up."""

    def __init__(self, market_topic: str, partitions: int) -> None:
        self.market_topic = market_topic
        self.partitions = partitions
        self.open_to_anywhere = SecondaryIndex(WKR, _open_to_anywhere)
        self._dirty: dict[int, dict[str, bool]] = {}
        #: each market's partition, worked out once (murmur2 in Python, for every
        #: market of every worker sent out, was 3% of a national backfill's time)
        self._partitions: dict[str, int] = {}
        #: the stage's handlers; the event types it accepts are this table's (the
        #: stage passes over the rest of its topics, most of them the matcher's own
        #: proposals, without decoding them)
        self.handle = HandlerTable({
            ag.AgreementRecorded: self._on_agreement,
            wk.WorkerRegistered: self._on_profile,
            wk.WorkerProfileUpdated: self._on_profile,
            wk.WorkerErased: self._on_erased,
            mv.MatchResponded: self._on_response,
            mv.MatchAccepted: self._on_accepted,
            mv.MatchAcceptanceRefused: self._on_acceptance_refused,
            pl.PlacementReturned: self._on_return,
            tr.TriggerFired: self._on_trigger,
        })

    @property
    def indexes(self) -> tuple[SecondaryIndex, ...]:
        return (self.open_to_anywhere,)

    @staticmethod
    def _record(tx: StateTx, worker_id: str, ctx: Context) -> tuple[str, dict[str, Any]]:
        key = WKR + worker_id
        return key, dict(tx.get(key) or new_record(ctx.partition))

    def _changed(self, tx: StateTx, key: str, record: dict[str, Any], ctx: Context,
                 force: bool = False) -> Iterator[Output]:
        """Store the worker; its markets hear of it at the end of the batch."""
        tx.set(key, record)
        self._mark(ctx.partition, key, force)
        yield from ()

    def _on_agreement(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(ag.AgreementRecorded, decoded.event)
        yield from self._on_destination(tx, event.destination_country, ctx.partition)

    def _on_profile(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(wk.WorkerRegistered | wk.WorkerProfileUpdated, decoded.event)
        key, record = self._record(tx, event.worker_id, ctx)
        record["profile"] = wk.WorkerProfile.model_validate(
            event.model_dump(include=set(wk.WorkerProfile.model_fields))
        ).model_dump(mode="json")
        yield from self._changed(tx, key, record, ctx)

    def _on_erased(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(wk.WorkerErased, decoded.event)
        key, record = self._record(tx, event.worker_id, ctx)
        record["erased"] = True
        yield from self._changed(tx, key, record, ctx)

    def _on_accepted(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(mv.MatchAccepted, decoded.event)
        key, record = self._record(tx, event.worker_id, ctx)
        if event.match_id not in record.get("ended", ()):
            record["busy_with"] = event.match_id
        if record["reserved"] == event.match_id:
            record["reserved"] = None
        yield from self._changed(tx, key, record, ctx)

    def _on_acceptance_refused(self, tx: StateTx, decoded: Decoded, ctx: Context
                               ) -> Iterator[Output]:
        event = cast(mv.MatchAcceptanceRefused, decoded.event)
        key, record = self._record(tx, event.worker_id, ctx)
        if record["reserved"] == event.match_id:
            record["reserved"] = None
        tx.set(key, record)  # what markets know of the worker did not change
        yield from ()

    def _on_trigger(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(tr.TriggerFired, decoded.event)
        if event.kind != tr.TriggerKind.REENTRY_ELIGIBLE:
            return
        key, record = self._record(tx, event.worker_id, ctx)
        # the cooldown ended: markets look at the worker again
        yield from self._changed(tx, key, record, ctx, force=True)

    def _mark(self, partition: int, key: str, force: bool = False) -> None:
        dirty = self._dirty.setdefault(partition, {})
        dirty[key] = dirty.get(key, False) or force

    def after_batch(self, tx: StateTx, ctx: Context) -> Iterator[Output]:
        """Fan out every worker the batch changed, once."""
        dirty = self._dirty.get(ctx.partition, {})
        for key in sorted(dirty):
            record = tx.get(key)
            if record is not None:
                yield from self._fan_out(tx, key, dict(record), ctx.partition,
                                         force=dirty[key])
        dirty.clear()

    def _on_return(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(pl.PlacementReturned, decoded.event)
        key, record = self._record(tx, event.worker_id, ctx)
        if record["busy_with"] in (event.match_id, None):
            record["busy_with"] = None
        if event.match_id not in record.get("ended", ()):
            record["ended"] = sorted([*record.get("ended", ()), event.match_id])
        previous = record["reentry_from"]
        if previous is None or event.reentry_from.isoformat() > previous:
            record["reentry_from"] = event.reentry_from.isoformat()
        if event.on_time:
            record["returned_on_time"] = True
            if event.employer_id not in record["rehire"]:
                record["rehire"] = sorted([*record["rehire"], event.employer_id])
        yield from self._changed(tx, key, record, ctx)

    def _on_response(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event = cast(mv.MatchResponded, decoded.event)
        key, record = self._record(tx, event.worker_id, ctx)
        cause = decoded.envelope.id
        free = True
        if event.decision is mv.Decision.ACCEPT:
            holds = {record["busy_with"], record["reserved"]} - {None, event.match_id}
            free = not holds and not record["erased"]
            # a repeat of an acceptance already made reserves nothing: the market
            # ignores it, so nothing would come back to release the reservation
            done = (event.match_id == record["busy_with"]
                    or event.match_id in record.get("ended", ()))
            if free and not done:
                record["reserved"] = event.match_id
        tx.set(key, record)
        yield Output(self.market_topic, AcceptanceRequest(
            market=event.market, match_id=event.match_id, vacancy_id=event.vacancy_id,
            worker_id=event.worker_id, decision=event.decision, worker_free=free),
            derived_event_id(cause, "acceptance-request"))

    def _on_destination(self, tx: StateTx, destination: str, partition: int
                        ) -> Iterator[Output]:
        key = f"{DST}{partition}"
        known = list(tx.get(key) or [])
        if destination in known:
            return
        tx.set(key, sorted([*known, destination]))
        for wkey in self.open_to_anywhere.keys(f"{partition}:{ANYWHERE}"):
            self._mark(partition, wkey)
        yield from ()

    def markets_of(self, tx: StateTx, record: dict[str, Any], partition: int) -> set[str]:
        profile = record["profile"]
        if profile is None or record["erased"]:
            return set()
        destinations = profile["preferred_destinations"] or tx.get(f"{DST}{partition}") or []
        return {market_key(d, o["isco_code"]) for d in destinations
                for o in profile["occupations"]}

    def _fan_out(self, tx: StateTx, key: str, record: dict[str, Any], partition: int,
                 force: bool = False) -> Iterator[Output]:
        """Send the worker to each of its markets where what the market knows changed;
        tell markets it left that it left. The message is the same for every market
        but for the market's name, so it is built and signed once, and sent once per
        partition with the markets of that partition it concerns."""
        worker_id = key.removeprefix(WKR)
        wanted = self.markets_of(tx, record, partition)
        sent: dict[str, str] = dict(record["markets"])
        messages = {True: self._message(record, worker_id, member=True)}
        if set(sent) - wanted:  # to the markets it left (a newcomer left none)
            messages[False] = self._message(record, worker_id, member=False)
        signatures = {member: _signature(message) for member, message in messages.items()}
        version = record["version"] + 1
        groups: dict[tuple[int, bool], list[str]] = {}
        for market in sorted(wanted | set(sent)):
            is_member = market in wanted
            if sent.get(market) == signatures[is_member] and not force:
                continue
            groups.setdefault((self._partition(market), is_member), []).append(market)
            if is_member:
                sent[market] = signatures[True]
            else:
                sent.pop(market, None)
        outputs = [
            Output(self.market_topic, messages[is_member].model_copy(
                update={"market": markets[0], "markets": markets}),
                derived_event_id(worker_id, "market-worker", ",".join(markets), str(version)),
                partition=target)
            for (target, is_member), markets in sorted(groups.items())
        ]
        record["markets"], record["version"] = sent, version
        tx.set(key, record)
        yield from outputs

    def _partition(self, market: str) -> int:
        found = self._partitions.get(market)
        if found is None:
            found = self._partitions[market] = partition_of(market, self.partitions)
        return found

    @staticmethod
    def _message(record: dict[str, Any], worker_id: str, member: bool) -> MarketWorker:
        if record["erased"]:
            standing = WorkerStanding.ERASED
        elif not member:
            standing = WorkerStanding.LEFT
        elif record["busy_with"] is not None:
            standing = WorkerStanding.BUSY
        else:
            standing = WorkerStanding.FREE
        keep = standing in (WorkerStanding.FREE, WorkerStanding.BUSY)
        return MarketWorker(
            market=PLACEHOLDER_MARKET, worker_id=worker_id, standing=standing,
            profile=wk.WorkerProfile.model_validate(record["profile"]) if keep else None,
            busy_with=record["busy_with"] if keep else None,
            reentry_from=date.fromisoformat(record["reentry_from"])
            if keep and record["reentry_from"] else None,
            returned_on_time=record["returned_on_time"] if keep else False,
            rehire_employers=record["rehire"] if keep else [])


def _signature(message: MarketWorker) -> str:
    payload = message.model_dump_json(exclude={"market"})
    return hashlib.sha1(payload.encode(), usedforsecurity=False).hexdigest()[:16]
