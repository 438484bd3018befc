"""One memory budget for all the RocksDB databases of a worker process.

A matcher worker opens 24 databases (4 tables x 6 partitions), a tracker 7. With an
LRU block cache and memtables per database (faust builds them so), what RocksDB may
hold grows with the number of databases: 2 x 2 MiB memtables and a 4 MiB cache each
came to up to 192 MiB for a matcher, most of it for databases that are small or idle.
So the databases of a process share one block cache (data, index and filter blocks
charged to it) and one write buffer manager, which flushes the largest memtable when
all of them together pass its size: whatever the number of databases, RocksDB holds
about :data:`CACHE_BYTES` + :data:`WRITE_BUFFER_BYTES`, and a busy database may use
what the idle ones do not.

faust 0.15.3 has no app setting for any of this: its ``RocksDBOptions`` builds each
database's options, so :class:`BudgetedOptions` replaces the part that is per
database. Created when the first table store opens (never at import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import rocksdict
from faust.stores.rocksdb import RocksDBOptions

#: each database's own limits, under the shared budget: faust's defaults (64 MiB write
#: buffers x 3, a 2 GiB block cache and 90% of the process's file limit, each per
#: database) would let 24 databases reach tens of GiB
PER_DATABASE: dict[str, Any] = {
    "write_buffer_size": 2 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 8 * 1024 * 1024,
    "max_open_files": 64,
}
CACHE_BYTES = 32 * 1024 * 1024
WRITE_BUFFER_BYTES = 24 * 1024 * 1024


@dataclass
class Budget:
    """The cache and the write buffer manager every database of the process shares."""

    cache_bytes: int = CACHE_BYTES
    write_buffer_bytes: int = WRITE_BUFFER_BYTES
    cache: Any = field(init=False)
    write_buffers: Any = field(init=False)

    def __post_init__(self) -> None:
        self.cache = rocksdict.Cache(self.cache_bytes)
        # no stall: a write waits for nothing, the largest memtable is flushed instead
        self.write_buffers = rocksdict.WriteBufferManager(self.write_buffer_bytes, False)


class BudgetedOptions(RocksDBOptions):
    """faust's options for one database, with the process's shared budget."""

    def __init__(self, budget: Budget, **options: Any) -> None:
        super().__init__(**options)
        self.budget = budget

    def as_options(self) -> Any:
        options = super().as_options()
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(self.budget.cache)
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(self.budget.write_buffers)
        return options
