"""PostgreSQL's COPY writes the event and delivery files byte for byte as the Python writer does."""

import contextlib
import csv
import datetime as dt
import io
import json
import re
import sys
import threading
import time
from decimal import Decimal

import psycopg2
import pytest
from django.db import DataError, connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from django.db.models import JSONField, Value

from events.models import Event, EventType
from reporting import copy_export
from reporting.copy_export import copy_pieces
from reporting.csv_export import csv_cell, csv_chunks, jsonb_text
from reporting.exports import (
    Column,
    DELIVERY_COLUMNS,
    EVENT_COLUMNS,
    QUERY_STRING_END,
    deliveries_matching,
    events_matching,
    headers,
    table_rows,
)
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory
from tests.support.services import child_database_url, require_postgres
from tests.support.spreadsheet import formula_cells, harmless_cells

pytestmark = pytest.mark.django_db

# Every kind of text a CSV writer or a spreadsheet can trip over, and the
# bytes COPY's line-end marker is made of.
AWKWARD = [
    'say "hi", then\nleave',
    '=HYPERLINK("http://x.example")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "\r\nCRLF inside",
    "ends with a line feed\n",
    "ünïcödé ✓ 😀",
    "\x01\x02 \x01\x03 \r\x01\x03 SOH-STX-ETX",
    "back\\slash \\. \\N",
    '"',
    ",",
    " ",
    "",
    # Formulas behind white space, invisible or bidi characters, and in full-width form.
    " =1+1",
    "\u00a0+1",
    "\u3000\uff1dcmd",
    "\u202e=1",
    "\u200b@x",
    "\uff0d2",
]
QUOTED = {
    '=HYPERLINK("http://x.example")', "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "\r\nCRLF inside",
    " =1+1", "\u00a0+1", "\u3000\uff1dcmd", "\u202e=1", "\u200b@x", "\uff0d2",
}
NESTED_PARAMS = {
    "sub1": "=cmd",
    "b": [1, 2.5, -3, 1e-07, 1e20, -0.0, True, None, {"z": "-x", "a": "line\nbreak\x01\"q\""}],
    "aa": "ünï",
    "é": 0.1,
    "zz": {"": []},
    "a": "",
}
JSON_NULL = Value(None, JSONField())
PARAMS = [NESTED_PARAMS, {}, {"k": "v"}, {"n": -1}, [1, "=x"], "=text", -5, 2.5, True, JSON_NULL]
AMOUNTS = [Decimal("0"), Decimal("-12.5"), Decimal("99999999999999.9999"), Decimal("0.0001"), None]
MOMENT = dt.datetime(2026, 11, 20, 12, 30, 5, tzinfo=dt.UTC)
TIMES = [MOMENT, MOMENT.replace(microsecond=1), MOMENT.replace(microsecond=999_999),
         MOMENT.astimezone(dt.timezone(dt.timedelta(hours=-5))).replace(microsecond=250_000)]
ERRORS = [
    "Max retries exceeded with url: /pb?token=url-secret&sub=1 (Caused by timeout)",
    "?token=first\nthen /x?b=2\u3000after, and 'q?c=3' \"?d\"",
    "-?x=1",
    "=cmd?y=2",
    "", "no query string",
]


def _both(queryset, columns, *, bom=False) -> tuple[str, str]:
    python = "".join(csv_chunks(headers(columns), table_rows(queryset, columns), bom=bom))
    copied = "".join(text for _, text in copy_pieces(queryset, columns, bom=bom))
    return python, copied


@pytest.fixture
def awkward_events():
    require_postgres()
    for n, text in enumerate(AWKWARD):
        event_type = EventType.objects.create(slug=f"t{n}{text}"[:64], name=f"type {n}")
        EventFactory(
            event_id=f"{text}{n}", type_id=event_type.slug, player__player_id=f"{text}p{n}",
            partner=PartnerFactory(slug=f"{text}{n}"), click_id=text, currency=text[:3],
            amount=AMOUNTS[n % len(AMOUNTS)], params=PARAMS[n % len(PARAMS)],
            occurred_at=TIMES[n % len(TIMES)], received_at=TIMES[(n + 1) % len(TIMES)],
            is_first_deposit=n % 2 == 0, is_test=n % 3 == 0,
        )
    EventFactory(event_id="no partner", partner=None, click_id="", params={})


@pytest.fixture
def awkward_deliveries(awkward_events):
    for n, text in enumerate(AWKWARD):
        endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug=f"{text}e{n}"), name=text)
        DeliveryFactory(
            endpoint=endpoint, event=EventFactory(event_id=f"{text}d{n}", occurred_at=MOMENT), status=text[:16],
            is_test=n % 2 == 1, attempt_count=n, created_at=TIMES[n % len(TIMES)],
            next_attempt_at=None if n % 2 else TIMES[(n + 2) % len(TIMES)],
            delivered_at=TIMES[(n + 3) % len(TIMES)] if n % 3 else None,
            last_status_code=None if n % 2 else 500 + n, last_error=ERRORS[n % len(ERRORS)] + text,
        )


def test_events_file_is_the_python_writers_to_the_byte(awkward_events):
    python, copied = _both(events_matching({}), EVENT_COLUMNS)

    assert copied == python
    rows = list(csv.reader(io.StringIO(copied, newline="")))
    assert len(rows) == len(AWKWARD) + 2
    assert [row[5] for row in rows[1:len(AWKWARD) + 1]] == [
        f"'{text}" if text in QUOTED else text for text in AWKWARD
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(formula_cells, harmless_cells))
def test_the_database_quotes_exactly_the_cells_python_quotes(text):
    require_postgres()
    cell, params = copy_export._text_cell("t.c", Column("c", "c"))

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {cell} FROM (VALUES (%s)) AS t (c)", [*params, text])
        (copied,) = cursor.fetchone()

    assert (copied or "") == csv_cell(text)


def test_deliveries_file_is_the_python_writers_to_the_byte(awkward_deliveries):
    python, copied = _both(deliveries_matching({}), DELIVERY_COLUMNS)

    assert copied == python
    last_errors = [row[-1] for row in csv.reader(io.StringIO(copied, newline=""))][1:]
    assert last_errors[0].startswith("Max retries exceeded with url: /pb?… (Caused by timeout)")
    assert last_errors[1].startswith("?…\nthen /x?…\u3000after, and 'q?…' \"?…\"")
    assert not any("token" in error for error in last_errors)


def test_filtered_exports_and_the_bom_match_too(awkward_deliveries):
    acme = PartnerFactory(slug="acme")
    for n, text in enumerate(AWKWARD[:4]):
        event = EventFactory(partner=acme, click_id=text, occurred_at=TIMES[n], params=PARAMS[n])
        DeliveryFactory(event=event, endpoint=PostbackEndpointFactory(partner=acme, name=text), status="failed",
                        last_error=ERRORS[n])

    for queryset, columns, rows in [
        (events_matching({"from": "2026-11-20T12:30:05.5Z", "partner": "acme"}), EVENT_COLUMNS, 1),
        (deliveries_matching({"partner": "acme", "status": "failed"}), DELIVERY_COLUMNS, 4),
        (events_matching({"type": "deposit"}), EVENT_COLUMNS, 0),
    ]:
        python, copied = _both(queryset, columns, bom=True)
        assert copied == python
        assert copied.startswith("\ufeffid,")
        assert len(list(csv.reader(io.StringIO(copied, newline="")))) == rows + 1


def test_long_exports_come_in_pieces_that_join_to_the_same_file(awkward_events, monkeypatch):
    monkeypatch.setattr(copy_export, "ROWS_PER_PIECE", 3)
    queryset = events_matching({})

    pieces = list(copy_pieces(queryset, EVENT_COLUMNS))

    total = len(AWKWARD) + 1
    assert [rows for rows, _ in pieces] == [3] * (total // 3) + [total % 3]
    assert "".join(text for _, text in pieces) == _both(queryset, EVENT_COLUMNS)[0]


@pytest.mark.parametrize("value", [*PARAMS[:-1], None, {"ab": 1, "b": 2, "aa": 3, "é": 4, "zz": 5}])
def test_jsonb_text_is_what_postgresql_prints(value):
    require_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(value)])
        assert jsonb_text(value) == cursor.fetchone()[0]


def test_jsonb_text_orders_keys_shortest_first_then_by_bytes():
    assert jsonb_text({"é": 1, "zz": 2, "b": [1e-07, -0.0], "a": {}}) == '{"a": {}, "b": [0.0000001, 0.0], "zz": 2, "é": 1}'


def test_a_query_string_ends_where_pythons_whitespace_quotes_or_a_parenthesis_start():
    spelled_out, python = re.compile(f"[{QUERY_STRING_END}]"), re.compile(r"[\s'\")]")

    assert [c for c in map(chr, range(sys.maxunicode + 1)) if bool(spelled_out.match(c)) != bool(python.match(c))] == []


@pytest.mark.django_db(transaction=True)
def test_the_file_is_one_snapshot_while_rows_change_between_pieces(monkeypatch):
    require_postgres()
    monkeypatch.setattr(copy_export, "ROWS_PER_PIECE", 2)
    events = [EventFactory(event_id=f"e-{n}", occurred_at=MOMENT) for n in range(4)]
    pieces = copy_pieces(events_matching({}), EVENT_COLUMNS)

    first = next(pieces)
    # psycopg2's own context manager ends the transaction but leaves the connection open.
    with contextlib.closing(psycopg2.connect(child_database_url())) as other, other, other.cursor() as cursor:
        cursor.execute("DELETE FROM events_event WHERE id = %s", [events[-1].pk])
        cursor.execute(
            "INSERT INTO events_event (event_id, type_id, player_id, partner_id, click_id, amount, currency, params,"
            " occurred_at, received_at, is_first_deposit, is_test, content_hash)"
            " SELECT 'late', type_id, player_id, partner_id, click_id, amount, currency, params, occurred_at,"
            " received_at, is_first_deposit, is_test, md5('late') FROM events_event WHERE id = %s", [events[0].pk],
        )
    rest = [text for _, text in pieces]

    exported = [row[1] for row in csv.reader(io.StringIO("".join([first[1], *rest]), newline=""))]
    assert exported == ["event_id", "e-0", "e-1", "e-2", "e-3"]


def _many_events(count: int) -> None:
    """``count`` copies of one event, made in SQL so a long COPY takes no time to set up."""
    template = EventFactory(event_id="template", occurred_at=MOMENT)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_event (event_id, type_id, player_id, partner_id, click_id, amount, currency, params,"
            " occurred_at, received_at, is_first_deposit, is_test, content_hash)"
            " SELECT 'copy-' || g, type_id, player_id, partner_id, click_id, amount, currency, params, occurred_at,"
            " received_at, is_first_deposit, is_test, md5(g::text) FROM events_event, generate_series(1, %s) AS g"
            " WHERE id = %s", [count - 1, template.pk],
        )


def _copy_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "csv-copy"]


# Inside a transaction the COPY runs under a savepoint; outside, in a transaction of its own.
@pytest.mark.parametrize("outermost", [False, pytest.param(True, marks=pytest.mark.django_db(transaction=True))])
def test_a_client_leaving_early_cancels_the_copy_and_leaves_the_connection_usable(monkeypatch, outermost):
    require_postgres()
    monkeypatch.setattr(copy_export, "ROWS_PER_PIECE", 10)
    monkeypatch.setattr(copy_export, "PIECES_AHEAD", 1)
    total = 200_000
    _many_events(total)
    received = []
    write = copy_export._CopyProducer.write
    monkeypatch.setattr(copy_export._CopyProducer, "write", lambda self, line: received.append(1) or write(self, line))
    pieces = copy_pieces(events_matching({}), EVENT_COLUMNS)
    assert next(pieces)[0] == 10

    started = time.monotonic()
    pieces.close()

    assert time.monotonic() - started < 5
    assert _copy_threads() == []
    # The COPY was cut short, not read to its end.
    assert len(received) < total
    assert connection.in_atomic_block is not outermost
    assert Event.objects.count() == total


def test_an_error_in_the_copy_is_raised_to_the_reader_and_leaves_the_connection_usable():
    require_postgres()
    for n in range(6):
        EventFactory(event_id="boom" if n == 4 else f"e-{n}", occurred_at=MOMENT)
    columns = (
        Column("id", "id"),
        # Fails on one row.
        Column("event_id", "event_id", clean=str,
               clean_sql=lambda text: (f"CASE WHEN {text} = 'boom' THEN (1 / 0)::text ELSE {text} END", [])),
    )
    pieces = copy_pieces(events_matching({}), columns)

    with pytest.raises(DataError, match="division by zero"):
        list(pieces)

    assert _copy_threads() == []
    assert Event.objects.count() == 6
