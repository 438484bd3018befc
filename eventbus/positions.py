"""Where each stage has got to in each of its input partitions: the offset of the next
record it must handle. A stage writes it to its table's changelog with the state that
handling made (``pos:<partition>``, after the processed ids), so the position and the
state survive a crash together, like the tracking record pyeventsourcing's
``Follower.process_event`` commits with its new state.

The position, not faust's committed offset, is what a stage goes by:

* a record before it was handled already (delivered again): it is passed over;
* a partition the stage never handled a record of has its log start as position
  (read after each recovery), so its first record cannot be passed over;
* a record after it means records in between never reached the stage (faust drops
  records around rebalances and recoveries; see ``eventbus/faustapp.py``): it is not
  handled, and the partition is fetched again from the position, so records are
  handled in order, each once;
* after a recovery the consumer seeks each partition to the lowest position of the
  stages reading it when faust's commit went past it.

A gap that stays after the partition was fetched again for ``GIVE_UP_SECONDS`` is a
real hole in the log (records deleted by retention before they were read); it is
logged and passed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

log = logging.getLogger(__name__)

POSITION = "pos:"
GIVE_UP_SECONDS = 60.0
SEEK_EVERY_SECONDS = 1.0
_ATTRIBUTE = "_circular_positions"

Key = tuple[str, int]  # topic, partition


class Positions:
    """Every stage's positions in one app (what the consumer seeks to)."""

    def __init__(self) -> None:
        self._stages: dict[str, dict[Key, int]] = {}

    def replace(self, stage: str, found: dict[Key, int]) -> None:
        self._stages[stage] = dict(found)

    def update(self, stage: str, key: Key, offset: int) -> None:
        self._stages.setdefault(stage, {})[key] = offset

    def low(self, topic: str, partition: int) -> int | None:
        found = [p[(topic, partition)] for p in self._stages.values()
                 if (topic, partition) in p]
        return min(found) if found else None


def of(app: Any) -> Positions:
    """The app's registry, made the first time it is asked for."""
    found = getattr(app, _ATTRIBUTE, None)
    if found is None:
        found = Positions()
        setattr(app, _ATTRIBUTE, found)
    return found


class Verdict(Enum):
    HANDLE = "handle"
    REPEAT = "repeat"  # handled before
    GAP = "gap"  # records before it have not reached the stage


@dataclass
class Cursor:
    """One stage's positions and the gaps it is waiting to see filled."""

    stage: str
    registry: Positions
    committed: dict[Key, int] = field(default_factory=dict)
    _gaps: dict[Key, tuple[int, float, float]] = field(default_factory=dict)

    def check(self, key: Key, offset: int, staged: int | None) -> tuple[Verdict, int | None]:
        """What to do with the record at ``offset``; ``staged`` is the position the
        batch under way reached in that partition, if any. Returns the verdict and,
        for a gap, the offset to fetch the partition again from (None: not yet)."""
        expected = staged if staged is not None else self.committed.get(key)
        if expected is None or offset == expected:
            self._gaps.pop(key, None)
            return Verdict.HANDLE, None
        if offset < expected:
            return Verdict.REPEAT, None
        now = time.monotonic()
        waited, since, sought = self._gaps.get(key, (expected, now, 0.0))
        if waited != expected:
            since, sought = now, 0.0
        if now - since > GIVE_UP_SECONDS:
            log.warning("records missing from the log were passed over", extra={
                "stage": self.stage, "topic": key[0], "partition": key[1],
                "from_offset": expected, "to_offset": offset})
            self._gaps.pop(key, None)
            return Verdict.HANDLE, None
        seek = now - sought >= SEEK_EVERY_SECONDS
        self._gaps[key] = (expected, since, now if seek else sought)
        return Verdict.GAP, expected if seek else None

    def commit(self, partition: int, reached: dict[str, int]) -> dict[str, Any]:
        """Record the batch's positions; returns the ``pos:`` value to write: every
        position of the partition (the ones it had since the recovery read them)."""
        for topic, offset in reached.items():
            self.committed[(topic, partition)] = offset
            self.registry.update(self.stage, (topic, partition), offset)
        return {"p": partition, "next": {topic: offset for (topic, p), offset
                                         in self.committed.items() if p == partition}}

    def start(self, key: Key, offset: int) -> None:
        """Where a partition the stage never handled a record of begins (its log start
        offset): its first record must be that one, not the first that happens to
        arrive (faust drops records fetched before a rebalance, and the next may come
        from further on)."""
        if key not in self.committed:
            self.committed[key] = offset
            self.registry.update(self.stage, key, offset)

    def recover(self, stored: dict[int, dict[str, Any]]) -> None:
        """After a recovery: the positions of the partitions now assigned, as the
        table has them."""
        self.committed = {(topic, partition): int(offset)
                          for partition, value in stored.items()
                          for topic, offset in value.get("next", {}).items()}
        self._gaps.clear()
        self.registry.replace(self.stage, self.committed)
