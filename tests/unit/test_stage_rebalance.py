"""Records a worker fetched before a rebalance are not handled by it: the partition
may have moved, and what this worker's table holds of it is gone. Handled anyway,
they would write what an empty state decides, and mark themselves done, into the
changelog the partition's new owner recovers from."""

import asyncio
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from eventbus.deadletter import dead_letter_topic
from eventbus.stage import Output, SecondaryIndex, Stage
from schemas.codec import encode
from schemas.events.clock import ClockTicked

DAY = date(2027, 3, 1)


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]
    generation_id: int


@dataclass
class Record:
    key: bytes
    value: bytes
    message: Message


class Changelog:
    def get_topic_name(self) -> str:
        return "stage-changelog"


@dataclass
class Table:
    data: dict[str, Any] = field(default_factory=dict)
    changelog_topic: Changelog = field(default_factory=Changelog)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class App:
    def __init__(self) -> None:
        self.consumer_generation_id = 2
        self.sent: list[tuple[str, Any]] = []
        self.producer = self
        self.rebalance_on_dead_letter = False

    async def send(self, topic: str, key: Any, value: Any, partition: Any, timestamp: Any,
                   headers: Any) -> asyncio.Future[None]:
        self.sent.append((topic, key))
        if topic == dead_letter_topic("ticks") and self.rebalance_on_dead_letter:
            self.consumer_generation_id += 1  # a rebalance while the send was awaited
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


def record(day: int, offset: int, generation: int, value: bytes | None = None) -> Record:
    enc = encode(ClockTicked(date=DAY + timedelta(days=day), source="admin"), source="/t")
    return Record(enc.key, value if value is not None else enc.value,
                  Message("ticks", 0, offset, list(enc.headers), generation))


def make_stage(app: App) -> tuple[Stage, SecondaryIndex]:
    days = SecondaryIndex("day:", lambda v: [v[:7]])

    def handler(tx: Any, decoded: Any, ctx: Any) -> Any:
        day = decoded.event.date.isoformat()
        tx.set(f"day:{day}", day)
        yield Output("out", decoded.event, f"out-{day}")

    stage = Stage(app=app, name="s", source="/t", topics=("ticks",),  # type: ignore[arg-type]
                  handler=handler, table=Table(), indexes=(days,))  # type: ignore[arg-type]
    return stage, days


def handle(stage: Stage, records: list[Record]) -> None:
    asyncio.run(stage.process_batch(cast(Any, records)))


def published(app: App) -> list[str]:
    return [k.decode() for topic, k in app.sent if topic == "out"]


def state(stage: Stage) -> list[str]:
    return sorted(k for k in stage.table.data if k.startswith("day:"))


def test_records_fetched_before_the_latest_rebalance_are_left_for_their_owner():
    app = App()
    stage, days = make_stage(app)
    handle(stage, [record(0, 10, 1), record(1, 11, 1), record(2, 12, 2)])
    assert state(stage) == ["day:2027-03-03"]
    assert len(published(app)) == 1
    assert days.keys("2027-03") == {"day:2027-03-03"}
    assert stage.stats.stale == 2 and stage.stats.processed == 1
    # delivered again in the current generation, they are handled, not taken as repeats
    handle(stage, [record(0, 10, 2), record(1, 11, 2)])
    assert state(stage) == ["day:2027-03-01", "day:2027-03-02", "day:2027-03-03"]
    assert len(published(app)) == 3


def test_a_batch_a_rebalance_overtook_leaves_nothing_behind():
    app = App()
    stage, days = make_stage(app)
    app.rebalance_on_dead_letter = True
    batch = [record(0, 10, 2), record(1, 11, 2, value=b"not json"), record(2, 12, 2)]
    handle(stage, batch)
    assert state(stage) == [] and published(app) == []
    assert days.keys("2027-03") == set()
    assert not [k for k in stage.table.data if k.startswith("seen:")]
    app.rebalance_on_dead_letter = False
    again = [record(0, 10, 3), record(1, 11, 3, value=b"not json"), record(2, 12, 3)]
    handle(stage, again)
    assert state(stage) == ["day:2027-03-01", "day:2027-03-03"]
    assert len(published(app)) == 2
