"""What a stage's handler sees and returns: the state as a transaction
(:class:`StateTx`), where the record came from (:class:`Context`), the events to
publish (:class:`Output`), and the in-memory indexes a stage keeps current from the
table (:class:`SecondaryIndex`, :class:`Index`). Pure: no Kafka, no faust."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from eventbus.positions import POSITION
from schemas.codec import Decoded
from schemas.events.base import Event

T = TypeVar("T")

SEEN = "seen:"
OUTBOX = "out:"
DELETED = object()


@dataclass(frozen=True)
class Output:
    """An event a handler wants published. ``event_id`` must be deterministic: the
    same decision, made again after a crash, must carry the same id."""

    topic: str
    event: Event
    event_id: str
    partition: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class Context:
    topic: str
    partition: int
    offset: int
    partitions: int


class Indexes:
    """A stage's indexes, each handed only the keys it may follow: an index with a
    ``prefixes`` attribute (the key prefixes it follows) is skipped for a key under
    none of them; one without it gets every key. Which indexes a key goes to is found
    once per key prefix (the text up to its first colon), so a key no index follows
    (the stage's processed-id markers, outbox entries and positions) costs no call,
    and a match's record goes only to the indexes of matches."""

    ROUTES_KEPT = 256  # distinct key prefixes remembered (a stage has a handful)

    def __init__(self, indexes: Iterable[Any] = ()) -> None:
        self.all = tuple(indexes)
        self._routes: dict[str, tuple[Any, ...]] = {}

    def of(self, key: str) -> tuple[Any, ...]:
        head, colon, _ = key.partition(":")
        if not colon:
            return self.all
        head += colon
        routed = self._routes.get(head)
        if routed is None:
            routed = tuple(ix for ix in self.all if _may_follow(ix, head))
            if len(self._routes) < self.ROUTES_KEPT:
                self._routes[head] = routed
        return routed

    def apply(self, key: str, old: Any, new: Any) -> None:
        for index in self.of(key):
            index.apply(key, old, new)

    @property
    def prefixes(self) -> tuple[str, ...] | None:
        """Every key prefix some index follows, or None when an index follows every
        key (it declares no ``prefixes``)."""
        found: list[str] = []
        for index in self.all:
            declared = getattr(index, "prefixes", None)
            if declared is None:
                return None
            found.extend(declared)
        return covering(found)

    def clear(self) -> None:
        for index in self.all:
            index.clear()

    def __bool__(self) -> bool:
        return bool(self.all)


def covering(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The fewest of ``prefixes`` that begin every key any of them begins, sorted (a
    prefix that begins with another kept one is dropped: its keys are read with it)."""
    kept: list[str] = []
    for prefix in sorted(set(prefixes)):
        if not kept or not prefix.startswith(kept[-1]):
            kept.append(prefix)
    return tuple(kept)


def _may_follow(index: Any, head: str) -> bool:
    """Whether ``index`` may follow a key that begins with ``head``."""
    prefixes = getattr(index, "prefixes", None)
    return prefixes is None or any(p.startswith(head) or head.startswith(p)
                                   for p in prefixes)


class StateTx:
    """The table as a handler sees it: reads see the writes staged before them (in
    this record, then in the batch), which reach the table only on commit. The
    stage's indexes follow staged writes at once (so a later record of the batch
    finds what an earlier one added); a record's :meth:`rollback` undoes them."""

    def __init__(self, table: Any, parent: StateTx | None = None,
                 indexes: Indexes | tuple[Any, ...] = ()) -> None:
        self._table = table
        self._parent = parent
        self._indexes = indexes if isinstance(indexes, Indexes) else Indexes(indexes)
        self._writes: dict[str, Any] = {}
        self._undo: list[tuple[str, Any, Any]] = []

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._writes:
            value = self._writes[key]
            return default if value is DELETED else value
        if self._parent is not None:
            return self._parent.get(key, default)
        return self._table.get(key, default)

    def __contains__(self, key: str) -> bool:
        return self.get(key, DELETED) is not DELETED

    def set(self, key: str, value: Any) -> None:
        if key.startswith((SEEN, OUTBOX, POSITION)):
            raise ValueError(f"{key!r}: prefix reserved for the stage")
        self._stage(key, value)

    def delete(self, key: str) -> None:
        self._stage(key, DELETED)

    def _stage(self, key: str, value: Any) -> None:
        old = self.get(key)
        new = None if value is DELETED else value
        self._indexes.apply(key, old, new)
        self._undo.append((key, old, new))
        self._writes[key] = value

    def child(self) -> StateTx:
        return StateTx(self._table, self, self._indexes)

    def merge(self, child: StateTx) -> None:
        self._writes.update(child._writes)
        self._undo.extend(child._undo)

    def rollback(self) -> None:
        for key, old, new in reversed(self._undo):
            self._indexes.apply(key, new, old)
        self._undo.clear()
        self._writes.clear()

    def size(self) -> int:
        """How many keys this transaction writes."""
        return len(self._writes)

    def staged(self) -> dict[str, Any]:
        """Keys written in this transaction (deleted ones map to None)."""
        return {k: None if v is DELETED else v for k, v in self._writes.items()}

    def writes(self) -> Iterator[tuple[str, Any]]:
        """The keys this transaction changes, with their new value (DELETED): not a
        write of the value the table holds, nor the delete of a key it does not hold
        (a key made and deleted again in one batch, such as a proposal withdrawn in
        the batch that made it, costs no changelog record)."""
        for key, value in self._writes.items():
            held = self._table.get(key, DELETED)
            if value is DELETED:
                if held is not DELETED:
                    yield key, value
            elif held != value:
                yield key, value


Handler = Callable[[StateTx, Decoded, Context], Iterable[Output]]


class HandlerTable:
    """One stage's handlers, by the event class each acts on. It is the stage's
    handler (a record is handed to the entry of its event's class; no entry, nothing
    to do) and the one source of the event types the stage accepts
    (:attr:`accepts`): a type gets an entry or is passed over, so no list kept by
    hand beside the handlers can drop an event they handle."""

    def __init__(self, table: Mapping[type[Event], Handler]) -> None:
        self.table = dict(table)

    @property
    def accepts(self) -> frozenset[str]:
        return frozenset(kind.type for kind in self.table)

    def __call__(self, tx: StateTx, decoded: Decoded, ctx: Context) -> Iterable[Output]:
        entry = self.table.get(type(decoded.event))
        return () if entry is None else entry(tx, decoded, ctx)
#: run once per partition at the end of each batch, for work a handler deferred
AfterBatch = Callable[[StateTx, Context], Iterable[Output]]


class Parsed(Generic[T]):
    """Index: what ``parse`` makes of each record under ``prefix`` that was asked for
    (an agreement's terms, a vacancy's view), following the records: a write of one
    (or its rollback) drops its parse, so a parse held is always the one the record
    stored now gives, and a record read again is not parsed again. A record ``parse``
    makes None of (a closed vacancy) is not held."""

    def __init__(self, prefix: str, parse: Callable[[Any], T | None]) -> None:
        self.prefix = prefix
        self.prefixes = (prefix,)
        self._parse = parse
        self._held: dict[str, T] = {}

    def __contains__(self, key: str) -> bool:
        """Whether a parse of the record under ``key`` is held."""
        return key in self._held

    def clear(self) -> None:
        self._held.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if key.startswith(self.prefix):
            self._held.pop(key, None)

    def get(self, tx: StateTx, key: str) -> T | None:
        """The parse of the record under ``key`` (None: no record, or parsed to None)."""
        held = self._held.get(key)
        if held is not None:
            return held
        record = tx.get(key)
        return None if record is None else self.of(key, record)

    def of(self, key: str, record: Any) -> T | None:
        """The parse of ``record``, the record stored under ``key`` now."""
        held = self._held.get(key)
        if held is None:
            held = self._parse(record)
            if held is not None:
                self._held[key] = held
        return held


class SecondaryIndex:
    """An in-memory index over the table's values under one key prefix, e.g. the
    vacancies of each destination. Never stored: the stage keeps it current on
    every write and rebuilds it from the table after recovery.

    A term with one key holds the key itself, a set only from the second on: most
    terms of a national roster have one (a worker's matches in a market), and a set
    of one costs 216 bytes where the reference costs 8."""

    def __init__(self, prefix: str, field: Callable[[Any], Iterable[str]]) -> None:
        self.prefix = prefix
        self.prefixes = (prefix,)
        self.field = field
        self._keys: dict[str, str | set[str]] = {}

    def clear(self) -> None:
        self._keys.clear()

    def apply(self, key: str, old: Any, new: Any) -> None:
        if not key.startswith(self.prefix):
            return
        if old is not None:
            for term in self.field(old):
                self._remove(term, key)
        if new is not None:
            for term in self.field(new):
                self._add(term, key)

    def _add(self, term: str, key: str) -> None:
        bucket = self._keys.get(term)
        if bucket is None:
            self._keys[term] = key
        elif isinstance(bucket, str):
            if bucket != key:
                self._keys[term] = {bucket, key}
        else:
            bucket.add(key)

    def _remove(self, term: str, key: str) -> None:
        bucket = self._keys.get(term)
        if bucket is None:
            return
        if isinstance(bucket, str):
            if bucket == key:
                del self._keys[term]
            return
        bucket.discard(key)
        if len(bucket) == 1:
            (self._keys[term],) = bucket
        elif not bucket:
            del self._keys[term]

    def keys(self, term: str) -> set[str]:
        bucket = self._keys.get(term)
        if bucket is None:
            return set()
        return {bucket} if isinstance(bucket, str) else set(bucket)


class Index:
    """Anything the stage keeps current from the table: ``apply`` on every write,
    ``clear`` and re-``apply`` of every item after recovery. ``prefixes``: the key
    prefixes it follows (see :class:`Indexes`); without it, every key."""

    prefixes: tuple[str, ...]

    def apply(self, key: str, old: Any, new: Any) -> None:  # pragma: no cover - protocol
        raise NotImplementedError

    def clear(self) -> None:  # pragma: no cover - protocol
        raise NotImplementedError
