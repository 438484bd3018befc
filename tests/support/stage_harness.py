"""Stage handlers without Kafka: records go in, the handler runs on a dict as its
table with the stage's indexes, writes are committed, outputs come out. The same
semantics as eventbus.stage (indexes follow staged writes), one partition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventbus.handlers import Context, Output, StateTx
from schemas.codec import Decoded, decode, encode
from schemas.events.base import Event


class StageHarness:
    def __init__(self, handler: Callable[..., Any], indexes: tuple[Any, ...] = (),
                 after_batch: Callable[..., Any] | None = None) -> None:
        self.handler = handler
        self.indexes = indexes
        self.after_batch = after_batch
        self.table: dict[str, Any] = {}

    def feed(self, event: Event | Decoded, topic: str = "t", event_id: str | None = None,
             partition: int = 0) -> list[Output]:
        if isinstance(event, Decoded):
            decoded = event
        else:
            enc = encode(event, source="/tests", event_id=event_id)
            decoded = decode(enc.value, enc.headers)
        tx = StateTx(self.table, indexes=self.indexes)
        outputs = list(self.handler(tx, decoded, Context(topic, partition, 0, 6)))
        if self.after_batch is not None:  # a batch of one record
            outputs += self.after_batch(tx, Context(topic, partition, -1, 6))
        for key, value in tx.staged().items():
            if value is None:
                self.table.pop(key, None)
            else:
                self.table[key] = value
        return outputs
