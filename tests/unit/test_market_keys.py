"""Labour-market keys (destination + occupation) are built and taken apart by the
shared contract's functions only (schemas.events.matches)."""

import re
from pathlib import Path

import pytest

from schemas.events.matches import market_key, split_market

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("destination", "isco"), [("DE", "6111"), ("KR", "7212"),
                                                   ("AE", "9333")])
def test_a_market_key_splits_into_what_built_it(destination, isco):
    assert market_key(destination, isco) == f"{destination}-{isco}"
    assert split_market(market_key(destination, isco)) == (destination, isco)


@pytest.mark.parametrize("bad", ["DE6111", "-6111", "DE-", ""])
def test_what_is_not_a_market_key_is_refused(bad):
    with pytest.raises(ValueError, match="not a market key"):
        split_market(bad)


#: a market key made by hand: a destination and an occupation joined by "-", or a
#: key split at "-" (the forms found before the functions were used everywhere)
HAND_MADE = re.compile(r"""\{[^{}]*(destination|\bd)[^{}]*\}-\{[^{}]*isco[^{}]*\}"""
                       r"""|market\.(r?split|partition)\(""")


def test_no_module_builds_or_splits_a_market_key_by_hand():
    found = []
    for folder in ("services", "eventbus", "tests/unit", "tests/support", "tests/bench",
                   "tests/faults", "tests/integration"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if HAND_MADE.search(line) and path.name != Path(__file__).name:
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
