"""Roster rows -> the body of POST /workers (services/gateway/workers/roster.py): cell
formats, field errors per column that never quote a cell, and the file checks that
refuse a file before anything is written."""

import io

import pytest

from services.gateway.errors import Unprocessable
from services.gateway.workers.roster import (
    COLUMNS,
    RowInvalid,
    check_file,
    header_of,
    parse_row,
)

GOOD = {"worker_id": "am-0001", "full_name": "Anahit Petrosyan", "date_of_birth": "1990-05-17",
        "passport_number": " AM0000001", "citizenship": "AM", "phone": "+374 00 000001",
        "email": "anahit@example.org", "region": "Shirak", "occupations": "6111:4; 7112:2",
        "skills": "Tractor;pruning", "languages": "hy:C2;de:B1",
        "preferred_destinations": "DE;PL", "available_from": "2027-01-15",
        "consent_matching": "yes"}


def problems(**changes):
    with pytest.raises(RowInvalid) as info:
        parse_row({**GOOD, **changes})
    return info.value.problems


def test_a_good_row_is_the_body_post_workers_takes():
    worker = parse_row(GOOD)
    assert worker.worker_id == "am-0001" and worker.passport_number == "AM0000001"
    assert [(o.isco_code, o.experience_years) for o in worker.occupations] == [
        ("6111", 4), ("7112", 2)]
    assert worker.skills == ["tractor", "pruning"]
    assert [(x.language, x.level.value) for x in worker.languages] == [("hy", "C2"), ("de", "B1")]
    assert worker.preferred_destinations == ["DE", "PL"]
    assert worker.consent_matching is True and worker.username is None


def test_empty_optional_cells_are_left_out_and_lists_may_be_empty():
    worker = parse_row({**GOOD, "worker_id": "", "phone": " ", "email": "", "region": "",
                        "occupations": "", "skills": "", "languages": "",
                        "preferred_destinations": "", "consent_matching": "No"})
    assert worker.worker_id is None and worker.phone is None and worker.email is None
    assert worker.occupations == [] and worker.languages == [] and not worker.consent_matching
    # columns the header left out read as empty cells
    assert parse_row({k: GOOD[k] for k in ("full_name", "date_of_birth", "passport_number",
                                           "citizenship", "available_from",
                                           "consent_matching")}).skills == []


@pytest.mark.parametrize("changes, field", [
    ({"full_name": ""}, "full_name"),
    ({"date_of_birth": "17.05.1990"}, "date_of_birth"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({"passport_number": "A1"}, "passport_number"),
    ({"citizenship": "XX"}, "citizenship"),
    ({"phone": "call me"}, "phone"),
    ({"email": "anahit<at>example"}, "email"),
    ({"occupations": "6111"}, "occupations"),
    ({"occupations": "9999:2"}, "occupations"),
    ({"occupations": "6111:many"}, "occupations"),
    ({"occupations": "6111:2;6111:3"}, "occupations"),
    ({"languages": "de:B9"}, "languages"),
    ({"languages": "de:B1;de:A2"}, "languages"),
    ({"preferred_destinations": "DE;XX"}, "preferred_destinations"),
    ({"available_from": "1999-01-01"}, "available_from"),
    ({"consent_matching": "maybe"}, "consent_matching"),
    ({"consent_matching": ""}, "consent_matching"),
    ({"worker_id": "has spaces"}, "worker_id"),
])
def test_a_bad_cell_is_reported_on_its_column_without_its_value(changes, field):
    found = problems(**changes)
    assert field in [f for f, _ in found], found
    for _, message in found:
        for value in changes.values():
            if value:
                assert value not in message


def test_every_bad_cell_of_a_row_is_reported():
    found = problems(full_name="", citizenship="XX", occupations="6111", consent_matching="?")
    assert {f for f, _ in found} >= {"full_name", "citizenship", "occupations",
                                     "consent_matching"}


def test_item_errors_name_the_item():
    [(field, message)] = problems(occupations="6111:4;9999:1")
    assert field == "occupations" and message.startswith("item 2 (isco_code)")


def test_the_header_is_checked_without_quoting_it():
    assert header_of([" Full_Name", "date_of_birth", "passport_number", "citizenship",
                      "available_from", "consent_matching"])[0] == "full_name"
    with pytest.raises(Unprocessable) as info:
        header_of(["Anahit Petrosyan", "full_name", "full_name", "citizenship"])
    messages = [e.message for e in info.value.errors]
    assert "column 1 of the header is not a known column" in messages
    assert "column 3 of the header repeats another column" in messages
    assert "the header lacks the column passport_number" in messages
    assert not any("Anahit" in m for m in messages)
    assert {e.field for e in info.value.errors} == {"body.file"}


def csv_bytes(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def test_check_file_counts_rows_and_accepts_a_byte_order_mark():
    header = ",".join(COLUMNS)
    assert check_file(csv_bytes(f"{header}\n1,2\n\n3,4\n", "utf-8-sig")) == (list(COLUMNS), 3)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\n\n", "empty"),
    ("full_name,date_of_birth\nAnahit,1990-01-01\n".encode("utf-16"), "UTF-8"),
    ("full_name\nÄ\n".encode("latin-1"), "UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "UTF-8"),
])
def test_check_file_refuses_what_is_not_a_utf8_csv(content, message):
    with pytest.raises(Unprocessable) as info:
        check_file(io.BytesIO(content))
    assert message in info.value.message


def test_check_file_refuses_broken_quotes_and_nul_with_the_row():
    header = ",".join(COLUMNS)
    with pytest.raises(Unprocessable) as info:
        check_file(csv_bytes(f'{header}\nok\n"a"b,c\n'))
    assert "Row 3" in info.value.message
    with pytest.raises(Unprocessable) as info:
        check_file(csv_bytes(f"{header}\nok\nx\x00y\n"))
    assert "Row 3" in info.value.message
