"""faust's offset bookkeeping as our stream processors run it: an offset acked twice
(a record handed over again after a recovery's seek) or below the committed one must
not hold commits back (robinhood/faust#625)."""

from collections import defaultdict

from intervaltree import IntervalTree

from eventbus.faustapp import Consumer


def consumer(committed, acked):
    c = Consumer.__new__(Consumer)  # only the bookkeeping, no connection
    c._acked, c._acked_index = defaultdict(list), defaultdict(set)
    c._gap, c._committed_offset = defaultdict(IntervalTree), defaultdict(lambda: None)
    c._committed_offset["tp"] = committed
    c._acked["tp"] = list(acked)
    c._acked_index["tp"] = set(acked)
    return c


def test_repeated_and_old_offsets_do_not_hold_commits_back():
    c = consumer(55, [54, 55, 55, 56, 56, 57, 58])
    assert c._new_offset("tp") == 59
    assert c._acked["tp"] == [] and c._acked_index["tp"] == set()


def test_a_real_gap_still_stops_the_commit_where_it_is():
    c = consumer(10, [10, 11, 13, 14])  # 12 not done yet
    assert c._new_offset("tp") == 12
    assert c._acked["tp"] == [13, 14]


def test_nothing_new_is_nothing_to_commit():
    assert consumer(10, [])._new_offset("tp") is None
