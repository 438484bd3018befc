"""The event ids a stage processed, per partition, for as long as it suppresses a
duplicate (the same event published again, at another offset), in little memory.

A stage holds one id for every record it handled in that window: at national scale
millions. A canonical UUID (every id Circular makes: ``uuid4`` at the gateway,
``uuid5`` for derived events) is one integer key, the UUID's 128 bits with the
partition below them; any other id is kept as its ``"<partition>:<uuid>"`` string
(another producer's ids are never taken for one of ours: the integer form is used
only for the UUID's exact canonical spelling).

Layout. Keys being handled and those of the latest committed batches are in a set,
as Python integers (about 90 bytes an id with the set's slot and the batch's list).
Once the committed batches there hold ``seal_at`` keys, their integer keys are
sealed: moved into four numpy columns sorted by the UUID's high half, ``hi`` and
``lo`` (uint64), ``part`` (uint16) and ``seq`` (int64, the batch's number), 26 bytes
an id; the new run is sorted and merged in with ``searchsorted`` and ``insert``, a
column at a time. Keys not yet committed are never sealed (a rebalance may discard
them), and string keys stay in the set until their batch expires. A lookup tries
the set (0.09 us), then a binary search on ``hi`` (1.5 us, hit or miss, with a
million sealed). For 1,000,000 UUID keys committed in batches of 100 (tracemalloc,
the batches' markers included): 88 bytes an id before, 29 now (46 at the peak, while
the last run is merged).

Expiry goes by batch, as the stage writes its processed-id markers: every batch's
marker is kept in order with its time, and :meth:`ProcessedIds.expire` gives back the
markers older than a cutoff after forgetting their ids; the sealed columns drop the
entries of the batches it expires with one mask. The columns hold a batch number,
not the batch's time as planned: expiry takes batches in the order they came (the
first one not older than the cutoff stops it), which a mask on times would not
follow when a batch comes with an earlier time than the one before it.

The behaviour is that of a plain set with the batches' key lists, also when a key
is added again while held (a stage without dedup does that): a sealed key that is
discarded, or that another batch's expiry removes, is noted in ``_dead`` while its
entry waits for its own batch's expiry. What differs: ``len()`` counts the keys both
in the set and sealed (9 ms with 15,000 keys in the set and a million sealed; the
stage does not ask it), an expiry that drops sealed entries looks for them in the
set the same way (16 ms then), and ``expire`` forgets all the batches it yields
when it yields the first.
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeGuard

import numpy as np
import numpy.typing as npt

Key = int | str

#: partitions are numbered below this (Kafka's practical limit is far lower)
PARTITION_BITS = 16
#: keys of committed batches kept in the set before they are sealed
SEAL_AT = 65_536

_SEALABLE = 1 << (128 + PARTITION_BITS)  # integer keys below this are a UUID and a partition
_HI = 64 + PARTITION_BITS
_LOW = (1 << 64) - 1
_PART = (1 << PARTITION_BITS) - 1
_RAW = np.dtype([("hi", ">u8"), ("lo", ">u8"), ("part", ">u2")])  # a key's 18 bytes


def key(partition: int, event_id: str) -> Key:
    """The set's key for ``event_id`` handled in ``partition``."""
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return f"{partition}:{event_id}"
    if str(parsed) != event_id:  # another spelling of a UUID: kept as it is
        return f"{partition}:{event_id}"
    return parsed.int << PARTITION_BITS | partition


#: a canonical UUID's text: hex digits but at these places, hyphens
_HYPHENS = (8, 13, 18, 23)
_DIGITS = np.array([c for c in range(36) if c not in _HYPHENS])
_HEX = np.zeros(256, np.bool_)  # the bytes that are a lower-case hex digit
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = True


def _uuid_halves(ids: list[str]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64],
                                          npt.NDArray[np.uint64]]:
    """Which of ``ids`` :func:`key` keeps as an integer (a UUID spelled as ``str(uuid)``
    spells it), and those ones' high and low halves: :func:`key` for many at once."""
    maybe = np.fromiter(map(len, ids), np.int64, len(ids)) == 36
    which = np.flatnonzero(maybe)
    some = ids if len(which) == len(ids) else [ids[i] for i in which]
    joined = "".join(some)
    if not joined.isascii():
        ascii_ = np.fromiter(map(str.isascii, some), np.bool_, len(some))
        maybe[which[~ascii_]] = False
        which = which[ascii_]
        joined = "".join(itertools.compress(some, ascii_))
    if not len(which):
        return maybe, np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    text = np.frombuffer(joined.encode("ascii"), np.uint8).reshape(-1, 36)
    digits = text[:, _DIGITS]
    good = (text[:, _HYPHENS] == ord("-")).all(axis=1) & _HEX[digits].all(axis=1)
    maybe[which[~good]] = False
    halves = np.frombuffer(bytes.fromhex(digits[good].tobytes().decode("ascii")),
                           ">u8").reshape(-1, 2)
    return maybe, halves[:, 0].astype(np.uint64), halves[:, 1].astype(np.uint64)


def _sealable(k: Key) -> TypeGuard[int]:
    return isinstance(k, int) and 0 <= k < _SEALABLE


@dataclass
class _Columns:
    """Integer keys split in columns, sorted by ``hi`` (an entry a key and batch)."""

    hi: npt.NDArray[np.uint64]
    lo: npt.NDArray[np.uint64]
    part: npt.NDArray[np.uint16]
    seq: npt.NDArray[np.int64]

    @classmethod
    def of(cls, keys: list[int], seqs: list[int] | None = None) -> _Columns:
        """``keys`` (of the batches numbered ``seqs``) in their order."""
        raw = np.frombuffer(b"".join([k.to_bytes(18, "big") for k in keys]), _RAW)
        seq = np.zeros(len(keys), np.int64) if seqs is None else np.array(seqs, np.int64)
        return cls(raw["hi"].astype(np.uint64), raw["lo"].astype(np.uint64),
                   raw["part"].astype(np.uint16), seq)

    def sorted(self) -> _Columns:
        return self.take(np.lexsort((self.part, self.lo, self.hi)))

    def __len__(self) -> int:
        return len(self.hi)

    def has(self, k: int) -> bool:
        hi = np.uint64(k >> _HI)
        i = int(self.hi.searchsorted(hi))
        lo, part = k >> PARTITION_BITS & _LOW, k & _PART
        while i < len(self.hi) and self.hi[i] == hi:  # rarely more than one
            if self.lo[i] == lo and self.part[i] == part:
                return True
            i += 1
        return False

    def find(self, other: _Columns) -> npt.NDArray[np.bool_]:
        """Which of ``other``'s entries have their key here."""
        start = self.hi.searchsorted(other.hi, "left")
        count = self.hi.searchsorted(other.hi, "right") - start
        found = np.zeros(len(other), np.bool_)
        for d in range(int(count.max(initial=0))):
            at = np.flatnonzero(count > d)
            i = start[at] + d
            found[at] |= (self.lo[i] == other.lo[at]) & (self.part[i] == other.part[at])
        return found

    def merge(self, run: _Columns) -> None:
        """Insert the (sorted) ``run``, a column at a time: each old one is freed
        before the next is copied."""
        at = self.hi.searchsorted(run.hi)
        self.hi = np.insert(self.hi, at, run.hi)
        self.lo = np.insert(self.lo, at, run.lo)
        self.part = np.insert(self.part, at, run.part)
        self.seq = np.insert(self.seq, at, run.seq)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Keep the entries of ``mask``, a column at a time as :meth:`merge`."""
        self.hi = self.hi[mask]
        self.lo = self.lo[mask]
        self.part = self.part[mask]
        self.seq = self.seq[mask]

    def take(self, which: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> _Columns:
        return _Columns(self.hi[which], self.lo[which], self.part[which], self.seq[which])

    def keys(self) -> list[int]:
        return [int(h) << _HI | int(lo) << PARTITION_BITS | int(p)
                for h, lo, p in zip(self.hi, self.lo, self.part, strict=True)]

    def distinct(self, ordered: bool = False) -> int:
        """How many keys (``ordered``: the entries are sorted already)."""
        if not len(self):
            return 0
        at = self if ordered else self.sorted()
        return 1 + int(((at.hi[1:] != at.hi[:-1]) | (at.lo[1:] != at.lo[:-1])
                        | (at.part[1:] != at.part[:-1])).sum())


class ProcessedIds:
    def __init__(self, *, seal_at: int = SEAL_AT) -> None:
        self._seal_at = seal_at
        self._seq = 0  # the batches' numbers, in the order they commit
        self._recent: set[Key] = set()
        self._markers: deque[tuple[float, str, int, int]] = deque()  # t, marker, p, seq
        self._unsealed: deque[tuple[int, list[Key]]] = deque()  # committed, keys in the set
        self._unsealed_keys = 0
        self._kept: deque[tuple[int, list[Key]]] = deque()  # sealed batches' other keys
        self._sealed = _Columns.of([])
        self._surplus = 0  # sealed entries beyond one a key (a key in two batches)
        self._dead: set[int] = set()  # sealed keys not held; never in the set

    def __contains__(self, k: Key) -> bool:
        if k in self._recent:
            return True
        return (_sealable(k) and len(self._sealed) > 0 and self._sealed.has(k)
                and k not in self._dead)

    def __len__(self) -> int:
        if not len(self._sealed):
            return len(self._recent)
        both = self._sealed.find(_Columns.of([k for k in self._recent if _sealable(k)]))
        return (len(self._recent) + len(self._sealed) - self._surplus - len(self._dead)
                - int(both.sum()))

    def add(self, k: Key) -> None:
        self._recent.add(k)
        if self._dead and isinstance(k, int):
            self._dead.discard(k)

    def discard(self, k: Key) -> None:
        self._recent.discard(k)
        if _sealable(k) and len(self._sealed) > 0 and self._sealed.has(k):
            self._dead.add(k)

    def batch(self, t: float, marker: str, partition: int, keys: Iterable[Key]) -> None:
        """A batch's marker (written at ``t``) and the keys of its ids, kept until it
        expires; its keys are added."""
        kept = list(keys)
        self._recent.update(kept)
        if self._dead:
            self._dead.difference_update(kept)
        self._seq += 1
        self._markers.append((t, marker, partition, self._seq))
        self._unsealed.append((self._seq, kept))
        self._unsealed_keys += len(kept)
        if self._unsealed_keys >= self._seal_at:
            self._seal()

    def recover(self, read: Recovery) -> None:
        """Into an empty set: the batches a recovery read back from their markers,
        in the order they were written (time, then marker), as :meth:`batch` for each
        of them, with every UUID key sealed at once (a restart reads millions)."""
        assert not self._markers and not self._recent and not len(self._sealed)
        read.key_read()
        batches = read.batches
        order = sorted(range(len(batches)), key=lambda b: batches[b][:2])
        seq_of = np.empty(len(batches), np.int64)
        seq_of[order] = np.arange(self._seq + 1, self._seq + len(batches) + 1)
        self._seq += len(batches)
        for b in order:
            t, marker, partition, _ = batches[b]
            self._markers.append((t, marker, partition, int(seq_of[b])))
        parts = np.array([b[2] for b in batches], np.uint16)
        at = np.concatenate([np.zeros(0, np.int64), *read.at])
        run = _Columns(np.concatenate([np.zeros(0, np.uint64), *read.hi]),
                       np.concatenate([np.zeros(0, np.uint64), *read.lo]),
                       parts[at], seq_of[at]).sorted()
        self._surplus = len(run) - run.distinct(ordered=True)
        self._sealed = run
        others: dict[int, list[Key]] = {}
        for b, event_id in read.others:
            others.setdefault(int(seq_of[b]), []).append(key(int(parts[b]), event_id))
        for n, kept in sorted(others.items()):
            self._kept.append((n, kept))
            self._recent.update(kept)

    def _seal(self) -> None:
        """Move the integer keys of the committed batches in the set to the columns."""
        ints: list[int] = []
        seqs: list[int] = []
        for seq, keys in self._unsealed:
            sealable = [k for k in keys if _sealable(k)]
            ints += sealable
            seqs += [seq] * len(sealable)
            if len(sealable) < len(keys):
                self._kept.append((seq, [k for k in keys if not _sealable(k)]))
        self._unsealed.clear()
        self._unsealed_keys = 0
        # not held: discarded, or removed by another batch's expiry (no dedup)
        dead = [k for k in ints if k not in self._recent and k not in self]
        run = _Columns.of(ints, seqs).sorted()
        self._surplus += len(run) - run.take(~self._sealed.find(run)).distinct(ordered=True)
        self._sealed.merge(run)
        self._recent.difference_update(ints)
        self._dead.update(dead)

    def expire(self, cutoff: float) -> Iterator[tuple[str, int]]:
        """Forget the batches written before ``cutoff``; yields each one's marker key
        and partition (for the stage to delete the marker)."""
        count = sum(1 for _ in itertools.takewhile(lambda m: m[0] < cutoff, self._markers))
        if count:
            self._forget_through(self._markers[count - 1][3])
        for _ in range(count):
            _, marker, partition, _ = self._markers.popleft()
            yield marker, partition

    def _forget_through(self, last: int) -> None:
        """Forget the keys of the batches numbered up to ``last``."""
        while self._kept and self._kept[0][0] <= last:
            self._recent.difference_update(self._kept.popleft()[1])
        while self._unsealed and self._unsealed[0][0] <= last:
            keys = self._unsealed.popleft()[1]
            self._unsealed_keys -= len(keys)
            self._recent.difference_update(keys)  # then every sealed batch goes too
        keep = self._sealed.seq > last
        if keep.all():
            return
        gone = self._sealed.take(~keep)
        self._sealed.keep(keep)
        recent = [k for k in self._recent if _sealable(k)]  # added again once sealed
        if recent:
            self._recent.difference_update(
                itertools.compress(recent, gone.find(_Columns.of(recent))))
        if self._surplus:  # also in a later batch: not held, kept for that one's expiry
            self._dead.update(gone.take(self._sealed.find(gone)).keys())
            self._surplus = len(self._sealed) - self._sealed.distinct()
        if self._dead:
            self._dead = {k for k in self._dead if self._sealed.has(k)}

    def clear(self) -> None:
        self._recent.clear()
        self._markers.clear()
        self._unsealed.clear()
        self._unsealed_keys = 0
        self._kept.clear()
        self._sealed = _Columns.of([])
        self._surplus = 0
        self._dead.clear()


class Recovery:
    """The batches a recovery reads back from their markers (in any order), for
    :meth:`ProcessedIds.recover`. Their ids are keyed as they come, a chunk of
    :data:`CHUNK` ids at a time: a restart reads millions of ids (all batches of the
    retention window), which held as text at once took hundreds of MiB."""

    CHUNK = 65_536

    def __init__(self) -> None:
        self.batches: list[tuple[float, str, int, int]] = []  # t, marker, p, ids
        self.hi: list[npt.NDArray[np.uint64]] = []  # the UUID keys' halves, by chunk
        self.lo: list[npt.NDArray[np.uint64]] = []
        self.at: list[npt.NDArray[np.int64]] = []  # and the batch each is of
        self.others: list[tuple[int, str]] = []  # batch, id: ids kept as text
        self._ids: list[str] = []  # ids of the batches from ``_first`` on, not keyed yet
        self._first = 0

    def add(self, t: float, marker: str, partition: int, ids: list[str]) -> None:
        self.batches.append((t, marker, partition, len(ids)))
        self._ids += ids
        if len(self._ids) >= self.CHUNK:
            self.key_read()

    def key_read(self) -> None:
        """Key the ids read since the last time."""
        counts = np.array([b[3] for b in self.batches[self._first:]], np.int64)
        at = np.repeat(np.arange(self._first, len(self.batches)), counts)
        sealable, hi, lo = _uuid_halves(self._ids)
        self.hi.append(hi)
        self.lo.append(lo)
        self.at.append(at[sealable])
        self.others += [(int(at[i]), self._ids[i]) for i in np.flatnonzero(~sealable)]
        self._ids = []
        self._first = len(self.batches)
