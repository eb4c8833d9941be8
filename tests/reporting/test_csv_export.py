"""The CSV writer: the format of each kind of cell, the formula guard, the BOM, chunks and the query behind them."""

import contextlib
import csv
import datetime as dt
import io
import json
from decimal import Decimal

import psycopg2
import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event, EventType
from reporting.csv_export import ROWS_PER_CHUNK, csv_cell, csv_chunks
from reporting.exports import (
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    Column,
    deliveries_matching,
    events_matching,
    table_chunks,
)
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.services import child_database_url, require_postgres
from tests.support.spreadsheet import formula_cells, harmless_cells

MOMENT = dt.datetime(2026, 11, 20, 12, 30, 5, tzinfo=dt.UTC)

# Text a CSV writer or a spreadsheet can trip over, and what the file holds for it.
AWKWARD = {
    'say "hi", then\nleave': 'say "hi", then\nleave',
    '=HYPERLINK("http://x.example")': '\'=HYPERLINK("http://x.example")',
    "+1": "'+1",
    "-2+3": "'-2+3",
    "@SUM(A1)": "'@SUM(A1)",
    "\tcmd": "'\tcmd",
    "\r\nCRLF inside": "'\r\nCRLF inside",
    "ünïcödé ✓ 😀": "ünïcödé ✓ 😀",
    "back\\slash \\. \\N": "back\\slash \\. \\N",
    ",": ",",
    "": "",
    " =1+1": "' =1+1",
    "\u3000\uff1dcmd": "'\u3000\uff1dcmd",
    "\u202e=1": "'\u202e=1",
    "a=b": "a=b",
}


def _export(queryset, columns, **kwargs) -> list[dict[str, str]]:
    text = "".join(table_chunks(queryset, columns, **kwargs))
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=HYPERLINK(\"http://x.example\")", "'=HYPERLINK(\"http://x.example\")"),
        ("-2+3", "'-2+3"),
        ("plain", "plain"),
        (dt.datetime(2026, 11, 23, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))), "2026-11-23T10:30:00Z"),
        (dt.datetime(2026, 11, 23, 10, 0, 0, 250000, tzinfo=dt.UTC), "2026-11-23T10:00:00.250000Z"),
        (dt.date(2026, 11, 23), "2026-11-23"),
        (Decimal("1E+2"), "100"),
        (Decimal("0.0000001"), "0.0000001"),
        (Decimal("-5.50"), "-5.50"),
        (True, "true"),
        (None, ""),
        (7, "7"),
    ],
)
def test_statistics_values_are_written_in_one_plain_format(value, cell):
    assert csv_cell(value) == cell


def test_chunks_join_to_one_valid_file_with_a_header_and_optional_bom():
    rows = [(n, f"name {n}", "line\nbreak, \"quoted\"") for n in range(ROWS_PER_CHUNK * 2 + 3)]

    chunks = list(csv_chunks(["id", "name", "note"], rows, bom=True))

    assert len(chunks) == 3
    text = "".join(chunks)
    assert text.startswith("\ufeffid,name,note\r\n")
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert parsed[0] == ["id", "name", "note"]
    assert parsed[-1] == [str(len(rows) - 1), f"name {len(rows) - 1}", "line\nbreak, \"quoted\""]
    assert len(parsed) == len(rows) + 1


def test_without_bom_the_file_starts_with_the_header():
    assert "".join(csv_chunks(["a"], [])) == "a\r\n"


@pytest.mark.django_db
def test_event_cells_keep_awkward_text_and_quote_formulas():
    for n, text in enumerate(AWKWARD):
        EventFactory(event_id=f"e-{n}", click_id=text, occurred_at=MOMENT,
                     partner=PartnerFactory(slug=f"p-{n}", name=text))

    rows = _export(events_matching({}), EVENT_COLUMNS)

    assert [row["click_id"] for row in rows] == list(AWKWARD.values())


@pytest.mark.django_db
def test_event_values_are_written_in_their_columns_format():
    EventType.objects.create(slug="=bonus", name="bonus")
    EventFactory(event_id="d-1", type_id="=bonus", partner=None, click_id="", amount=Decimal("-12.5"),
                 currency="EUR", occurred_at=MOMENT.replace(microsecond=250_000), is_first_deposit=True,
                 params={"zz": "ünï", "sub1": "=cmd", "n": -1})
    EventFactory(event_id="r-1", amount=None, occurred_at=MOMENT, params=-5)

    first, second = _export(events_matching({}), EVENT_COLUMNS)

    assert list(first) == [column.header for column in EVENT_COLUMNS]
    assert first["type"] == "'=bonus"
    assert (first["partner"], first["click_id"]) == ("", "")  # no partner: an empty cell
    assert (first["amount"], second["amount"]) == ("-12.5000", "")
    assert first["occurred_at"] == "2026-11-20T12:30:05.250000Z"
    assert second["occurred_at"] == "2026-11-20T12:30:05Z"
    assert (first["is_first_deposit"], first["is_test"]) == ("true", "false")
    assert int(first["id"]) < int(second["id"])
    # JSON as the database prints it: its own separators, text as it is, a formula inside a value left alone.
    assert json.loads(first["params"]) == {"zz": "ünï", "sub1": "=cmd", "n": -1}
    assert '"sub1": "=cmd"' in first["params"] and ", " in first["params"]
    # A bare negative number would be a formula start: it is quoted like any text.
    assert second["params"] == "'-5"


@pytest.mark.django_db
def test_on_postgresql_json_is_jsonbs_text_keys_shortest_first_numbers_plain():
    require_postgres()
    EventFactory(params={"zz": "ünï", "b": [1e-07, 2.5], "a": {}, "é": 1})

    (row,) = _export(events_matching({}), EVENT_COLUMNS)

    assert row["params"] == '{"a": {}, "b": [0.0000001, 2.5], "zz": "ünï", "é": 1}'


@pytest.mark.django_db
def test_delivery_cells_hide_query_strings_and_leave_missing_values_empty():
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), name="+Main")
    DeliveryFactory(endpoint=endpoint, event=EventFactory(event_id="d-1"), status="failed", attempt_count=3,
                    created_at=MOMENT, next_attempt_at=None, delivered_at=None, last_status_code=None,
                    last_error="Max retries exceeded with url: /pb?token=url-secret&sub=1 (Caused by timeout)")
    DeliveryFactory(endpoint=endpoint, last_error="=cmd?y=2 then 'q?c=3' \"?d\"\n/x?b=2\u3000after",
                    last_status_code=503, delivered_at=MOMENT)

    first, second = _export(deliveries_matching({}), DELIVERY_COLUMNS)

    assert list(first) == [column.header for column in DELIVERY_COLUMNS]
    assert (first["partner"], first["endpoint_name"], first["event_id"]) == ("acme", "'+Main", "d-1")
    assert (first["attempts"], first["created_at"]) == ("3", "2026-11-20T12:30:05Z")
    assert (first["next_attempt_at"], first["delivered_at"], first["last_status_code"]) == ("", "", "")
    assert first["last_error"] == "Max retries exceeded with url: /pb?… (Caused by timeout)"
    assert (second["last_status_code"], second["delivered_at"]) == ("503", "2026-11-20T12:30:05Z")
    assert second["last_error"] == "'=cmd?… then 'q?…' \"?…\"\n/x?…\u3000after"


@pytest.mark.django_db
def test_a_filtered_export_holds_only_its_rows_and_starts_with_the_bom_for_excel():
    acme = PartnerFactory(slug="acme")
    DeliveryFactory.create_batch(2, endpoint=PostbackEndpointFactory(partner=acme), status="failed")
    DeliveryFactory(endpoint=PostbackEndpointFactory(partner=acme), status="delivered")
    DeliveryFactory(status="failed")

    text = "".join(table_chunks(deliveries_matching({"partner": "acme", "status": "failed"}), DELIVERY_COLUMNS,
                                bom=True))

    assert text.startswith("\ufeffid,event,")
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == 3


@pytest.mark.django_db
def test_only_a_text_column_may_be_cleaned():
    with pytest.raises(ValueError, match="is cleaned but is no text"):
        next(table_chunks(events_matching({}), (Column("amount", "amount", clean=str.strip),)))


@pytest.mark.django_db
def test_long_exports_come_in_chunks_that_report_their_rows(monkeypatch):
    monkeypatch.setattr("reporting.csv_export.ROWS_PER_CHUNK", 3)
    for n in range(7):
        EventFactory(event_id=f"e-{n}", occurred_at=MOMENT)
    counts = []

    chunks = list(table_chunks(events_matching({}), EVENT_COLUMNS, progress=counts.append))

    assert counts == [3, 3, 1]
    assert [len(list(csv.reader(io.StringIO(chunk, newline="")))) for chunk in chunks] == [4, 3, 1]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_file_is_one_snapshot_while_rows_change_between_chunks(monkeypatch):
    require_postgres()
    monkeypatch.setattr("reporting.csv_export.ROWS_PER_CHUNK", 2)
    monkeypatch.setattr("reporting.exports.ROWS_PER_CHUNK", 2)
    events = [EventFactory(event_id=f"e-{n}", occurred_at=MOMENT) for n in range(4)]
    chunks = table_chunks(events_matching({}), EVENT_COLUMNS)

    first = next(chunks)
    # psycopg2's own context manager ends the transaction but leaves the connection open.
    with contextlib.closing(psycopg2.connect(child_database_url())) as other, other, other.cursor() as cursor:
        cursor.execute("DELETE FROM events_event WHERE id = %s", [events[-1].pk])
    rest = list(chunks)

    exported = [row[1] for row in csv.reader(io.StringIO("".join([first, *rest]), newline=""))]
    assert exported == ["event_id", "e-0", "e-1", "e-2", "e-3"]


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_client_leaving_early_closes_the_server_side_cursor(monkeypatch):
    require_postgres()
    monkeypatch.setattr("reporting.csv_export.ROWS_PER_CHUNK", 2)
    monkeypatch.setattr("reporting.exports.ROWS_PER_CHUNK", 2)
    for n in range(6):
        EventFactory(event_id=f"e-{n}", occurred_at=MOMENT)
    chunks = table_chunks(events_matching({}), EVENT_COLUMNS)
    next(chunks)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone() == (1,)
        chunks.close()
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone() == (0,)


@pytest.fixture
def one_event():
    return EventFactory(event_id="e-1", occurred_at=MOMENT)


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(formula_cells.map(lambda text: (text, True)), harmless_cells.map(lambda text: (text, False))))
def test_a_text_cell_is_quoted_exactly_when_a_spreadsheet_could_read_a_formula(one_event, case):
    text, formula = case
    Event.objects.filter(pk=one_event.pk).update(click_id=text)

    (row,) = _export(events_matching({}), EVENT_COLUMNS)

    assert row["click_id"] == (f"'{text}" if formula else text)
