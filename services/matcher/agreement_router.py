"""Copies every agreement event to every partition of the broadcast topic: each
legality shard (keyed by employer) needs all agreements of its vacancies'
destinations, and re-evaluates its own vacancies when one changes."""

from __future__ import annotations

from collections.abc import Iterator

from eventbus.handlers import Context, HandlerTable, Output, StateTx
from schemas.codec import Decoded
from schemas.envelope import derived_event_id
from schemas.events import agreements as ag


class AgreementRouter:
    def __init__(self, broadcast_topic: str, partitions: int) -> None:
        self.broadcast_topic = broadcast_topic
        self.partitions = partitions
        self.handle = HandlerTable({kind: self._broadcast for kind in (
            ag.AgreementRecorded, ag.AgreementSuspended, ag.AgreementResumed)})

    def _broadcast(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterator[Output]:
        event_id = derived_event_id(decoded.envelope.id, "broadcast")
        for partition in range(self.partitions):
            yield Output(self.broadcast_topic, decoded.event, event_id, partition=partition)
