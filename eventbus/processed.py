"""The event ids a stage processed, per partition, for as long as it suppresses a
duplicate (the same event published again, at another offset), in little memory.

A stage holds one id for every record it handled in that window: at national scale
millions. An id as its ``"<partition>:<uuid>"`` string with a time stamp cost about
220 bytes; here a canonical UUID (every id Circular makes: ``uuid4`` at the gateway,
``uuid5`` for derived events) is one integer, the UUID's 128 bits with the partition
below them, about 90 bytes with its place in the set and its batch's list. Any other
id is kept as the string (another producer's ids are never taken for one of ours:
the integer form is used only for the UUID's exact canonical spelling).

Expiry goes by batch, as the stage writes its processed-id markers: every batch's
keys are kept in order with the marker's time and key, and :meth:`ProcessedIds.expire`
gives back the markers older than a cutoff after forgetting their ids.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Iterator

Key = int | str

#: partitions are numbered below this (Kafka's practical limit is far lower)
PARTITION_BITS = 16


def key(partition: int, event_id: str) -> Key:
    """The set's key for ``event_id`` handled in ``partition``."""
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return f"{partition}:{event_id}"
    if str(parsed) != event_id:  # another spelling of a UUID: kept as it is
        return f"{partition}:{event_id}"
    return parsed.int << PARTITION_BITS | partition


class ProcessedIds:
    def __init__(self) -> None:
        self._keys: set[Key] = set()
        self._batches: deque[tuple[float, str, int, list[Key]]] = deque()

    def __contains__(self, k: Key) -> bool:
        return k in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, k: Key) -> None:
        self._keys.add(k)

    def discard(self, k: Key) -> None:
        self._keys.discard(k)

    def batch(self, t: float, marker: str, partition: int, keys: Iterable[Key]) -> None:
        """A batch's marker (written at ``t``) and the keys of its ids, kept until it
        expires; its keys are added."""
        kept = list(keys)
        self._keys.update(kept)
        self._batches.append((t, marker, partition, kept))

    def expire(self, cutoff: float) -> Iterator[tuple[str, int]]:
        """Forget the batches written before ``cutoff``; yields each one's marker key
        and partition (for the stage to delete the marker)."""
        while self._batches and self._batches[0][0] < cutoff:
            _, marker, partition, keys = self._batches.popleft()
            self._keys.difference_update(keys)
            yield marker, partition

    def clear(self) -> None:
        self._keys.clear()
        self._batches.clear()
