"""A stream stage (eventbus.stage.Stage) on fakes of what faust gives it: records
with their topic, partition, offset and group generation, a dict table, a producer
that records what is sent, a consumer that records seeks. The handler stores one key
per tick day and publishes one output per record."""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from faust.types import TP

from eventbus.deadletter import dead_letter_topic
from eventbus.handlers import Output, SecondaryIndex
from eventbus.stage import Stage
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
        self.sent: list[tuple[str, Any, Any]] = []
        self.producer = self
        self.consumer = self
        self.rebalance_on_dead_letter = False
        self.sought: list[tuple[tuple[str, int], int]] = []
        self.assignor = self
        self.flow_control = self
        self.flowing = True
        self.assigned: set[TP] = {TP("ticks", 0)}
        self.log_start: dict[TP, int] = {}

    def assigned_actives(self) -> set[TP]:
        return self.assigned

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        """Where each partition's log begins (0 unless the test says otherwise)."""
        return {tp: self.log_start.get(tp, 0) for tp in tps}

    def is_active(self) -> bool:
        return self.flowing

    async def seek(self, tp: Any, offset: int) -> None:
        self.sought.append(((tp.topic, tp.partition), offset))

    async def send(self, topic: str, key: Any, value: Any, partition: Any, timestamp: Any,
                   headers: Any) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
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
    """The days of the outputs sent, in order."""
    return [json.loads(v)["date"] for topic, _, v in app.sent if topic == "out"]


def state(stage: Stage) -> list[str]:
    return sorted(k for k in stage.table.data if k.startswith("day:"))
