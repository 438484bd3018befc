"""What a chunk of events changes in the read models, gathered in memory and written
with a few Core statements: the projector's unit of work.

Projections are functions of ``(fold, decoded)`` that read and change rows through
a :class:`Fold`:

* **stateful rows** (:meth:`Fold.get` / :meth:`Fold.put`): read (in bulk when the
  keys were announced with :meth:`Fold.want`, else one by one), changed in memory as
  the chunk's events say in order, then written once: an ``INSERT`` of the rows
  that were not there, an ``UPDATE`` of only the columns that changed of the others
  (so a column the API writes meanwhile is left alone, as the ORM would);
* **blind writes** (:meth:`Fold.upsert`, :meth:`Fold.insert_missing`), for read
  models that are plain upserts of what an event says (matches, quota usage, the
  timeline, triggers): no read; all the writes of a chunk to one key become one row
  of one ``INSERT ... ON CONFLICT`` statement per shape of row.

A model is written either way, never both. What a client may want to hear about
(a match proposed, a vacancy decided...) is noted with :meth:`Fold.changed`: a row
of the change feed (``changes``, what ``GET /stream`` sends), written in the same
transaction. Each event's changes are staged and
kept only if its projection returns (:meth:`Fold.event`): a projection that raises
leaves nothing behind, so no savepoint is needed to drop one event of a chunk.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable, Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from schemas.codec import Decoded
from services.gateway.database.core import Base, utcnow
from services.gateway.stream.models import Change, ChangeKind
from services.gateway.workers.models import Worker, WorkerStatus

Row = dict[str, Any]
#: a projection: folds one decoded event into the read models through a Fold
Projection = Callable[["Fold", Decoded], None]
Key = Any  # a primary key's value; a tuple for a key of several columns
#: keys per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
IN_CHUNK = 500


@dataclass
class Blind:
    """The writes of a chunk to one key of a blindly written model: the row to insert
    if the key is new, the columns to set if it exists (``None``: leave it)."""

    insert: Row
    update: Row | None
    on: tuple[str, ...]  # the conflict target: the primary key or a unique column


@dataclass
class _Stage:
    rows: dict[tuple[type[Base], Key], Row | None] = field(default_factory=dict)
    blind: list[tuple[type[Base], Key, str, Row, Row | None, tuple[str, ...]]] = field(
        default_factory=list)
    changes: list[Row] = field(default_factory=list)


def table_of(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


@functools.cache
def primary_key(model: type[Base]) -> tuple[str, ...]:
    return tuple(c.name for c in table_of(model).primary_key.columns)


def key_of(model: type[Base], row: Mapping[Any, Any], on: tuple[str, ...] | None = None) -> Key:
    names = on or primary_key(model)
    return row[names[0]] if len(names) == 1 else tuple(row[n] for n in names)


@functools.cache
def _upsert_statement(model: type[Base], dialect: str, on: tuple[str, ...],
                      setting: tuple[str, ...] | None) -> Executable:
    """``INSERT ... ON CONFLICT (on) DO NOTHING``, or ``DO UPDATE SET`` the columns
    ``setting`` to the values the row would have been inserted with; built once per
    shape (building the dialect's construct costs more than running it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table_of(model))
    if setting is None:
        return stmt.on_conflict_do_nothing(index_elements=list(on))
    return stmt.on_conflict_do_update(index_elements=list(on),
                                      set_={c: stmt.excluded[c] for c in setting})


@functools.cache
def _update_statement(model: type[Base]) -> Executable:
    """``UPDATE ... WHERE`` the primary key is ``k_<column>``; SET what the rows name."""
    table = table_of(model)
    return update(table).where(*[c == bindparam(f"k_{c.name}")
                                 for c in table.primary_key.columns])


class Fold:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        #: rows as read from the database (None: absent), by model and key
        self._read: dict[type[Base], dict[Key, Row | None]] = {}
        #: rows as the applied events left them
        self._rows: dict[tuple[type[Base], Key], Row | None] = {}
        self._blind: dict[type[Base], dict[Key, Blind]] = {}
        self._wanted: dict[type[Base], set[Key]] = {}
        self._erased: dict[str, bool] = {}
        self._stateful: set[type[Base]] = set()
        self._stage: _Stage | None = None
        self._changes: list[Row] = []

    # -- one event at a time ----------------------------------------------------------

    @contextmanager
    def event(self) -> Iterator[None]:
        """The changes made inside are kept only if the block ends without an error."""
        assert self._stage is None
        self._stage = _Stage()
        try:
            yield
            stage = self._stage
        finally:
            self._stage = None
        self._rows.update(stage.rows)
        self._changes.extend(stage.changes)
        for model, key, kind, values, on_insert, on in stage.blind:
            self._merge_blind(model, key, kind, values, on_insert, on)

    # -- stateful rows ----------------------------------------------------------------

    def want(self, model: type[Base], keys: Iterable[Key]) -> None:
        """Read these rows with the next :meth:`get` of the model, in one statement."""
        known = self._read.get(model, {})
        self._wanted.setdefault(model, set()).update(k for k in keys if k not in known)

    def get(self, model: type[Base], key: Key) -> Row | None:
        """The row as the events so far left it (a copy to change and :meth:`put`
        back), or None when there is none."""
        assert model not in self._blind, f"{model.__name__} is written blindly"
        self._stateful.add(model)
        if self._stage is not None and (model, key) in self._stage.rows:
            row = self._stage.rows[(model, key)]
        elif (model, key) in self._rows:
            row = self._rows[(model, key)]
        else:
            read = self._read.get(model)
            row = read[key] if read is not None and key in read else self._load(model, key)
        return None if row is None else dict(row)

    def put(self, model: type[Base], row: Row) -> None:
        """The row's new state: inserted if it was not there, else its changed columns
        updated."""
        assert self._stage is not None, "put() outside Fold.event()"
        key = key_of(model, row)
        if (model, key) not in self._rows and key not in self._read.get(model, {}):
            self._load(model, key)  # to know whether it is an insert or an update
        self._stateful.add(model)
        self._stage.rows[(model, key)] = dict(row)

    def _load(self, model: type[Base], key: Key) -> Row | None:
        read = self._read.setdefault(model, {})
        if key not in read:
            keys = self._wanted.pop(model, set()) | {key}
            read.update(self._select(model, keys))
        return read[key]

    def _select(self, model: type[Base], keys: Collection[Key]) -> dict[Key, Row | None]:
        """The rows of these keys as the database has them now (None: absent)."""
        rows: dict[Key, Row | None] = dict.fromkeys(keys)
        table = table_of(model)
        pk = list(table.primary_key.columns)
        for part in in_chunks(sorted(keys, key=repr), IN_CHUNK):
            where = (pk[0].in_(part) if len(pk) == 1
                     else tuple_(*pk).in_([tuple(k) for k in part]))
            for found in self.session.execute(select(table).where(where)).mappings():
                rows[key_of(model, found)] = dict(found)
        return rows

    def still_as_read(self) -> bool:
        """Whether every row and erasure this fold read is still as it was read: run
        under the write lock, it says whether a fold made before taking the lock may
        be written as it is."""
        if any(self._select(model, list(read)) != read for model, read in self._read.items()):
            return False
        erased = {w for w, is_erased in self._erased.items() if is_erased}
        return self._erased_among(list(self._erased)) == erased

    # -- blind writes -----------------------------------------------------------------

    def upsert(self, model: type[Base], values: Row, *, on_insert: Row | None = None) -> None:
        """Set ``values`` on the row, creating it (with ``on_insert`` too, and the
        model's defaults) if it is not there."""
        self._blind_op(model, "upsert", values, on_insert or {}, None)

    def insert_missing(self, model: type[Base], values: Row,
                       on: tuple[str, ...] | None = None) -> None:
        """Insert the row unless one with the same key (or unique ``on`` columns) is
        there; an existing row is left as it is."""
        self._blind_op(model, "insert", values, None, on)

    def _blind_op(self, model: type[Base], kind: str, values: Row, on_insert: Row | None,
                  on: tuple[str, ...] | None) -> None:
        assert self._stage is not None, "blind writes outside Fold.event()"
        assert model not in self._stateful, f"{model.__name__} is read and written back"
        names = on or primary_key(model)
        self._blind.setdefault(model, {})
        self._stage.blind.append((model, key_of(model, values, names), kind, dict(values),
                                  on_insert, names))

    def _merge_blind(self, model: type[Base], key: Key, kind: str, values: Row,
                     on_insert: Row | None, on: tuple[str, ...]) -> None:
        writes = self._blind.setdefault(model, {})
        seen = writes.get(key)
        if kind == "insert":
            if seen is None:
                writes[key] = Blind(insert=values, update=None, on=on)
            return
        setting = {c: v for c, v in values.items() if c not in on}
        if seen is None:
            writes[key] = Blind(insert={**(on_insert or {}), **values}, update=setting, on=on)
        else:  # the row either as the earlier writes inserted it, or as they updated it
            seen.insert.update(values)
            seen.update = {**(seen.update or {}), **setting}

    # -- the change feed ------------------------------------------------------------

    def changed(self, kind: ChangeKind, entity_id: str, status: str, *,
                vacancy_id: str | None = None, employer_id: str | None = None,
                worker_id: str | None = None) -> None:
        """Note a change for the stream: ids and a status only. ``employer_id`` /
        ``worker_id``: the party (besides staff) whose reads show the entity."""
        assert self._stage is not None, "changed() outside Fold.event()"
        self._stage.changes.append({
            "kind": kind.value, "entity_id": entity_id, "status": status,
            "vacancy_id": vacancy_id, "employer_id": employer_id, "worker_id": worker_id})

    # -- workers ----------------------------------------------------------------------

    def want_workers(self, worker_ids: Collection[str]) -> None:
        """Read whether these workers are erased, in one statement."""
        new = [w for w in worker_ids if w not in self._erased]
        self._erased.update(dict.fromkeys(new, False))
        self._erased.update(dict.fromkeys(self._erased_among(new), True))

    def _erased_among(self, worker_ids: list[str]) -> set[str]:
        erased: set[str] = set()
        for part in in_chunks(worker_ids, IN_CHUNK):
            erased.update(self.session.scalars(
                select(Worker.id).where(Worker.id.in_(part),
                                        Worker.status == WorkerStatus.ERASED.value)))
        return erased

    def erased(self, worker_id: str) -> bool:
        if worker_id not in self._erased:
            self.want_workers([worker_id])
        return self._erased[worker_id]

    # -- writing ----------------------------------------------------------------------

    def write(self) -> None:
        """Write what the applied events changed: a few statements per model."""
        self._write_rows()
        for model, writes in self._blind.items():
            self._write_blind(model, list(writes.values()))
        if self._changes:  # in the order the events came (ids follow it)
            now = utcnow()
            self.session.execute(table_of(Change).insert(),
                                 [{**c, "created_at": now} for c in self._changes])

    def _write_rows(self) -> None:
        inserts: dict[tuple[type[Base], tuple[str, ...]], list[Row]] = {}
        updates: dict[tuple[type[Base], tuple[str, ...]], list[Row]] = {}
        for (model, key), row in self._rows.items():
            if row is None:
                continue
            before = self._read.get(model, {}).get(key)
            if before is None:
                inserts.setdefault((model, tuple(sorted(row))), []).append(row)
                continue
            changed = tuple(sorted(c for c, v in row.items() if before.get(c) != v))
            if changed:
                pk = {f"k_{c}": before[c] for c in primary_key(model)}
                updates.setdefault((model, changed), []).append(
                    {**pk, **{c: row[c] for c in changed}})
        for (model, _), rows in inserts.items():
            self.session.execute(table_of(model).insert(), rows)
        for (model, _), rows in updates.items():  # SET: the columns the rows name
            self.session.execute(_update_statement(model), rows)

    def _write_blind(self, model: type[Base], writes: list[Blind]) -> None:
        table = table_of(model)
        stamped = [c.name for c in table.columns if c.onupdate is not None]
        now = utcnow()
        groups: dict[tuple[tuple[str, ...], tuple[str, ...] | None, tuple[str, ...]],
                     list[Row]] = {}
        for w in writes:
            row = w.insert
            setting = None
            if w.update is not None:
                row = {**row, **{c: now for c in stamped if c not in w.update}}
                setting = tuple(sorted({*w.update, *stamped}))
            groups.setdefault((tuple(sorted(row)), setting, w.on), []).append(row)
        for (_, setting, on), rows in groups.items():
            self.session.execute(_upsert_statement(model, self.dialect, on, setting), rows)


def in_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
