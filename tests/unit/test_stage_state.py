"""The stage's per-record view of state and its derived indexes."""

from hypothesis import given
from hypothesis import strategies as st

from eventbus.handlers import DELETED, Indexes, Parsed, SecondaryIndex, StateTx, covering


class FakeTable(dict):
    """Only what StateTx reads: ``get``."""


def test_reads_see_own_writes_and_deletes():
    table = FakeTable({"a": 1, "b": 2})
    tx = StateTx(table)
    tx.set("a", 10)
    tx.delete("b")
    tx.set("c", 3)
    assert tx.get("a") == 10 and tx.get("b") is None and tx.get("c") == 3
    assert "b" not in tx and "c" in tx
    assert table == {"a": 1, "b": 2}  # nothing reaches the table before commit


def test_unchanged_values_are_not_written_again():
    tx = StateTx(FakeTable({"a": {"x": 1}}))
    tx.set("a", {"x": 1})
    tx.set("b", 2)
    assert dict(tx.writes()) == {"b": 2}


def test_a_key_made_and_deleted_in_one_transaction_is_not_written():
    tx = StateTx(FakeTable({"a": 1}))
    tx.set("b", 2)
    tx.delete("b")  # made and gone again: the table never held it
    tx.delete("a")  # held: its delete is a write
    tx.delete("c")  # never there
    assert dict(tx.writes()) == {"a": DELETED}
    assert tx.staged() == {"b": None, "a": None, "c": None}


def test_reserved_prefixes_are_refused():
    tx = StateTx(FakeTable())
    for key in ("seen:1", "out:1"):
        try:
            tx.set(key, 1)
        except ValueError:
            continue
        raise AssertionError(key)


def test_secondary_index_follows_writes():
    idx = SecondaryIndex("vac:", lambda v: [v["dest"]])
    idx.apply("vac:1", None, {"dest": "DE"})
    idx.apply("vac:2", None, {"dest": "DE"})
    idx.apply("emp:1", None, {"dest": "DE"})
    assert idx.keys("DE") == {"vac:1", "vac:2"}
    idx.apply("vac:1", {"dest": "DE"}, {"dest": "KR"})
    idx.apply("vac:2", {"dest": "DE"}, None)
    assert idx.keys("DE") == set() and idx.keys("KR") == {"vac:1"}


@given(st.lists(st.tuples(st.sampled_from(["vac:1", "vac:2", "vac:3", "emp:1"]),
                          st.none() | st.sets(st.sampled_from("ABC"), max_size=3)),
                max_size=40))
def test_secondary_index_holds_what_the_table_holds(writes):
    """Whatever the writes (one key or many per term, a term emptied and filled again,
    a key written twice with the same terms), each term names exactly the keys whose
    current value has it."""
    idx = SecondaryIndex("vac:", lambda v: sorted(v))
    table: dict[str, set[str]] = {}
    for key, value in writes:
        idx.apply(key, table.get(key), value)
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    for term in "ABC":
        assert idx.keys(term) == {k for k, v in table.items()
                                  if k.startswith("vac:") and term in v}


def test_a_record_sees_the_batch_before_it_and_a_failed_one_leaves_nothing():
    table = FakeTable({"a": 1})
    batch = StateTx(table)
    first = batch.child()
    first.set("a", 2)
    batch.merge(first)
    second = batch.child()
    assert second.get("a") == 2
    second.set("b", 3)  # this record's handler then raises: its child is dropped
    third = batch.child()
    assert third.get("b") is None
    third.delete("a")
    batch.merge(third)
    assert dict(batch.writes()) != {} and batch.staged() == {"a": None}


def test_indexes_follow_staged_writes_and_a_rollback_undoes_them():
    idx = SecondaryIndex("vac:", lambda v: [v["dest"]])
    batch = StateTx(FakeTable(), indexes=(idx,))
    ok = batch.child()
    ok.set("vac:1", {"dest": "DE"})
    batch.merge(ok)
    assert idx.keys("DE") == {"vac:1"}
    failed = batch.child()
    failed.set("vac:2", {"dest": "DE"})
    failed.set("vac:1", {"dest": "KR"})
    assert idx.keys("DE") == {"vac:2"} and idx.keys("KR") == {"vac:1"}
    failed.rollback()
    assert idx.keys("DE") == {"vac:1"} and idx.keys("KR") == set()


def test_outbox_entries_stay_small_however_many_outputs_a_batch_has():
    from eventbus.stage import OUTBOX_CHUNK_BYTES, Stage, _PartitionBatch

    batch = _PartitionBatch(StateTx(FakeTable()), ids=["first"],
                            records=[{"value": "x" * 10_000, "headers": [["ce_id", "i"]]}
                                     for _ in range(400)])
    chunks = list(Stage._chunks(3, batch))
    assert len(chunks) > 1
    assert [key for key, _ in chunks][:2] == ["out:3:first:0", "out:3:first:1"]
    assert sum(len(records) for _, records in chunks) == 400
    for _, records in chunks:
        assert sum(len(r["value"]) for r in records) <= OUTBOX_CHUNK_BYTES


class _Seen:
    def __init__(self, prefixes=None):
        if prefixes is not None:
            self.prefixes = prefixes
        self.keys = []

    def apply(self, key, old, new):
        self.keys.append(key)

    def clear(self):
        self.keys.clear()


def test_an_index_is_handed_the_keys_under_its_prefixes_and_every_key_without_them():
    market, board, deep, every = (_Seen(("m:",)), _Seen(("m:", "vac:")),
                                  _Seen(("vac:open:",)), _Seen())
    tx = StateTx(FakeTable(), indexes=(market, board, deep, every))
    for key in ("m:1", "mx:1", "vac:open:2", "vac:3", "seen:0:a", "m", "vac:open:2"):
        tx.set(key, {"v": 1}) if not key.startswith("seen:") else tx._stage(key, 1)
    # a key without a colon goes to every index (which looks at it itself)
    assert market.keys == ["m:1", "m"]
    assert board.keys == ["m:1", "vac:open:2", "vac:3", "m", "vac:open:2"]
    assert deep.keys == ["vac:open:2", "vac:3", "m", "vac:open:2"]
    assert every.keys == ["m:1", "mx:1", "vac:open:2", "vac:3", "seen:0:a", "m", "vac:open:2"]
    tx.rollback()  # undone in reverse, to the same indexes
    assert market.keys == ["m:1", "m", "m", "m:1"]


def test_the_prefixes_a_recovery_reads_are_the_fewest_covering_every_index():
    """The key prefixes some index follows, a prefix inside another read with it; an
    index that follows every key makes a recovery read every key."""
    assert Indexes((_Seen(("vac:", "m:")), _Seen(("m:",)), _Seen(("vac:open:", "wrk:"))
                    )).prefixes == ("m:", "vac:", "wrk:")
    assert Indexes(()).prefixes == ()
    assert Indexes((_Seen(("m:",)), _Seen())).prefixes is None
    assert covering(["a", "ab", "b", "a:", "ba", "c"]) == ("a", "b", "c")
    assert covering(["m:", "mw:", "m"]) == ("m",)


def test_a_parse_is_made_once_and_always_the_one_the_stored_record_gives():
    parses: list[dict] = []

    def parse(record: dict) -> str | None:
        parses.append(record)
        return None if record["closed"] else f"terms {record['rev']}"

    parsed = Parsed("vac:", parse)
    table = FakeTable({"vac:a": {"rev": 1, "closed": False}, "vac:b": {"rev": 1, "closed": True}})
    tx = StateTx(table, indexes=(parsed,))
    assert parsed.get(tx, "vac:a") == parsed.get(tx, "vac:a") == "terms 1"
    assert len(parses) == 1  # read again: not parsed again
    tx.set("vac:a", {"rev": 2, "closed": False})  # a write drops the parse
    assert parsed.get(tx, "vac:a") == "terms 2"
    tx.rollback()  # and so does its rollback: the stored record again
    assert parsed.get(tx, "vac:a") == "terms 1"
    assert parsed.get(tx, "vac:b") is None and parsed.get(tx, "vac:c") is None
    before = len(parses)
    assert parsed.get(tx, "vac:b") is None
    assert len(parses) == before + 1  # parsed to None: not held
    parsed.clear()  # a recovery: nothing held survives it
    assert parsed.get(tx, "vac:a") == "terms 1" and len(parses) == before + 2
