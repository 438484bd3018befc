"""Codes are checked against real code lists, and errors never echo the value."""

import pytest
from pydantic import TypeAdapter, ValidationError

from schemas.codes import (
    CefrLevel,
    CountryCode,
    CurrencyCode,
    IscoCode,
    LanguageCode,
    isco_unit_groups,
)


@pytest.mark.parametrize(("kind", "good", "bad"), [
    (CountryCode, ["AM", "DE", "KR", "PH"], ["XX", "am", "ARM", "", "ZZ"]),
    (CurrencyCode, ["EUR", "AMD", "KRW"], ["EUX", "eur", "EU", "XYZ1"]),
    (LanguageCode, ["hy", "de", "en", "ru"], ["xx", "HY", "eng", "q"]),
    (IscoCode, ["6111", "9211", "7112"], ["0000", "611", "61111", "6a11", "9999"]),
])
def test_codes_accept_real_codes_and_refuse_others(kind, good, bad):
    adapter = TypeAdapter(kind)
    for value in good:
        assert adapter.validate_python(value) == value
    for value in bad:
        with pytest.raises(ValidationError) as info:
            adapter.validate_python(value)
        assert all(repr(value) not in e["msg"] for e in info.value.errors())


def test_isco_table_has_the_published_unit_groups():
    groups = isco_unit_groups()
    assert len(groups) == 436
    assert groups["6111"] == "Field crop and vegetable growers"


def test_cefr_levels_are_ordered():
    ranks = [lvl.rank for lvl in (CefrLevel.A1, CefrLevel.A2, CefrLevel.B1, CefrLevel.B2,
                                  CefrLevel.C1, CefrLevel.C2)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 6
