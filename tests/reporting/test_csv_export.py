import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from reporting.csv_export import ROWS_PER_CHUNK, csv_cell, csv_chunks


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(\"http://x.example\")", "'=HYPERLINK(\"http://x.example\")"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        ("a=b", "a=b"),
    ],
)
def test_text_that_a_spreadsheet_would_run_as_a_formula_is_quoted(value, cell):
    assert csv_cell(value) == cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (dt.datetime(2026, 11, 23, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2026-11-23T10:30:00Z"),
        (dt.datetime(2026, 11, 23, 10, 0, 0, 250000, tzinfo=dt.UTC), "2026-11-23T10:00:00.250000Z"),
        (dt.date(2026, 11, 23), "2026-11-23"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.0000001"), "0.0000001"),
        (Decimal("-5.50"), "-5.50"),
        (True, "true"),
        (None, ""),
        (7, "7"),
        ({"sub1": "=cmd", "a": 1}, '{"a": 1, "sub1": "=cmd"}'),
        ({"b": "-x"}, '{"b": "-x"}'),
    ],
)
def test_values_are_written_in_one_plain_format(value, cell):
    assert csv_cell(value) == cell


def test_json_cells_that_start_with_a_trigger_are_quoted_too():
    assert csv_cell(["=cmd"]) == '["=cmd"]'
    assert csv_cell("=1") == "'=1"


def test_chunks_join_to_one_valid_file_with_a_header_and_optional_bom():
    rows = [(n, f"name {n}", "line\nbreak, \"quoted\"") for n in range(ROWS_PER_CHUNK * 2 + 3)]

    chunks = list(csv_chunks(["id", "name", "note"], rows, bom=True))

    assert len(chunks) == 3
    text = "".join(chunks)
    assert text.startswith("\ufeffid,name,note\r\n")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed[0] == ["id", "name", "note"]
    assert parsed[-1] == [str(len(rows) - 1), f"name {len(rows) - 1}", "line\nbreak, \"quoted\""]
    assert len(parsed) == len(rows) + 1


def test_without_bom_the_file_starts_with_the_header():
    assert "".join(csv_chunks(["a"], [])) == "a\r\n"
