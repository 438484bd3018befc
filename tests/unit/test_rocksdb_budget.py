"""The RocksDB databases of a worker share one memory budget
(eventbus/rocksdb_budget.py): what one database's memtables and blocks take is
counted against the same cache and write buffer manager as every other's."""

import time
from pathlib import Path

from eventbus.rocksdb_budget import PER_DATABASE, Budget, BudgetedOptions

DATABASES = 12


def fill(db: object, n: int) -> None:
    for i in range(n):
        db[f"key-{i}".encode()] = b"x" * 200  # type: ignore[index]


def test_databases_of_a_process_share_the_write_buffers_and_the_cache(tmp_path: Path):
    budget = Budget(cache_bytes=8 * 1024 * 1024, write_buffer_bytes=16 * 1024 * 1024)
    options = BudgetedOptions(budget, **PER_DATABASE, use_rocksdict=True)
    first = options.open(tmp_path / "first")
    fill(first, 2_000)
    after_first = budget.write_buffers.get_usage()
    second = options.open(tmp_path / "second")
    fill(second, 2_000)
    assert after_first > 0
    assert budget.write_buffers.get_usage() > after_first  # both counted in one manager
    for db in (first, second):
        db.flush()
        assert db[b"key-7"] == b"x" * 200  # read back through the shared cache
    assert budget.cache.get_usage() > 0
    first.close()
    second.close()


def flushed_after_writes(path: Path, write_buffer_bytes: int, wait_for: int) -> int:
    """Table files written to disk once every database had about 1.4 MiB written,
    under one database's own 2 MiB memtable (nothing is flushed for that alone)."""
    budget = Budget(cache_bytes=1024 * 1024, write_buffer_bytes=write_buffer_bytes)
    options = BudgetedOptions(budget, **PER_DATABASE, use_rocksdict=True)
    dbs = [options.open(path / f"db{n}") for n in range(DATABASES)]
    for db in dbs:
        fill(db, 6_000)
    files = 0
    for _ in range(100 if wait_for > 1 else 10):  # flushes finish in RocksDB's background threads
        files = len(list(path.glob("db*/*.sst")))
        if files >= wait_for:
            break
        time.sleep(0.1)
    for db in dbs:
        assert db[b"key-5999"] == b"x" * 200
        db.close()
    return files


def test_the_budget_holds_whatever_the_number_of_databases(tmp_path: Path):
    # writing into a database while all memtables together pass the budget flushes
    # that one's, so RocksDB holds about the budget and not a memtable per database
    assert flushed_after_writes(tmp_path / "small", 2 * 1024 * 1024,
                                wait_for=DATABASES // 2) >= DATABASES // 2
    # the same writes with a budget that holds them all: nothing flushed (a second is
    # ample for a flush: the ones above took well under it)
    assert flushed_after_writes(tmp_path / "large", 256 * 1024 * 1024,
                                wait_for=1) == 0
