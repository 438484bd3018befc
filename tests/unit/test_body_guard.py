from services.gateway.ops.guard import nesting_depth


def test_nesting_depth_counts_structure_not_strings():
    assert nesting_depth(b'{"a": [1, {"b": 2}]}') == 3
    assert nesting_depth(b'{"a": "[[[[{{{{"}') == 1
    assert nesting_depth(b'{"a": "\\"[[["}') == 1
    assert nesting_depth(b"[" * 1000 + b"]" * 1000) == 1000
    assert nesting_depth(b"") == 0


def test_utf8_is_checked_strictly():
    from services.gateway.ops.guard import _is_utf8

    assert _is_utf8('{"name": "Անահիտ"}'.encode())
    assert not _is_utf8(b'{"name": "\xff"}')
    assert not _is_utf8('{"name": "Ä"}'.encode("latin-1"))
