"""The tracker's handlers wired as on Kafka (one partition), outputs collected."""

from __future__ import annotations

from collections import deque

from schemas import topics as t
from schemas.codec import Decoded, decode, encode
from schemas.events.base import Event
from services.tracker.clock_stage import ClockStage
from services.tracker.placements_stage import PlacementShard
from tests.support.stage_harness import StageHarness


class TrackerHarness:
    def __init__(self) -> None:
        self.shard = PlacementShard(t.PLACEMENTS.name, t.TRIGGERS.name)
        self.clock = StageHarness(ClockStage(t.TRACKER_TICKS.name, 1).handle)
        self.placements = StageHarness(self.shard.handle, self.shard.indexes)
        self.published: list[Decoded] = []

    def send(self, event: Event, *, event_id: str | None = None) -> list[Decoded]:
        enc = encode(event, source="/tests", event_id=event_id)
        decoded = decode(enc.value, enc.headers)
        before = len(self.published)
        queue = deque([("clock" if event.type == "circular.clock.ticked" else "placements",
                        decoded)])
        while queue:
            stage, item = queue.popleft()
            for out in (self.clock if stage == "clock" else self.placements).feed(item):
                routed = decode(*_encoded(out))
                if out.topic == t.TRACKER_TICKS.name:
                    queue.append(("placements", routed))
                else:
                    self.published.append(routed)
        return self.published[before:]

    def kinds(self, decoded: list[Decoded]) -> list[str]:
        out = []
        for d in decoded:
            kind = getattr(d.event, "kind", None)
            out.append(f"trigger:{kind.value}" if kind else d.event.type.split(".", 1)[1])
        return out


def _encoded(out):  # type: ignore[no-untyped-def]
    enc = encode(out.event, source="/tracker", event_id=out.event_id)
    return enc.value, enc.headers
