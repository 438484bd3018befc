"""The workers' garbage-collector policy (eventbus/collector.py): what survives a full
collection is frozen, so later ones walk only what is new; a reference cycle among
frozen objects is freed once the collector thaws them, every ``thaw_seconds``."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from eventbus import collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def clock() -> Iterator[list[float]]:
    now = [0.0]
    policy = collector.Collector(thaw_seconds=60.0, clock=lambda: now[0])
    policy.start()
    try:
        yield now
    finally:
        policy.stop()


def test_thresholds_are_raised_and_restored():
    before = gc.get_threshold()
    policy = collector.Collector()
    policy.start()
    assert gc.get_threshold() == (collector.YOUNG, collector.MIDDLE, collector.FULL_AFTER)
    policy.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_what_survives_a_full_collection_is_frozen(clock):
    kept = [Node() for _ in range(100)]
    gc.collect()
    assert gc.get_freeze_count() >= len(kept)
    # a frozen object is still freed when its last reference goes
    probe = weakref.ref(kept[0])
    del kept
    assert probe() is None


def test_a_frozen_cycle_is_freed_once_the_collector_thaws(clock):
    unreachable = cycle()  # only weakly referenced, never frozen
    gc.collect()
    assert unreachable() is None  # freed as usual
    holder = [Node()]
    holder[0].other = Node()
    holder[0].other.other = holder[0]
    frozen = weakref.ref(holder[0])
    gc.collect()  # survives (``holder`` refers to it), so it is frozen
    holder.clear()
    gc.collect()
    assert frozen() is not None  # a cycle of frozen objects waits for the thaw
    clock[0] = 61.0
    gc.collect()
    assert frozen() is None
