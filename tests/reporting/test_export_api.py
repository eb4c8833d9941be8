import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from events.models import EventType
from reporting.exports import DELIVERY_COLUMNS, EVENT_COLUMNS
from tests.factories import DeliveryFactory, EventFactory, PartnerFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text)))


def test_events_csv_streams_every_matching_event_with_the_documented_columns(platform_client):
    acme = PartnerFactory(slug="acme")
    EventFactory(event_id="d-1", partner=acme, type_id=EventType.DEPOSIT, player__player_id="casino-p-1",
                 amount=Decimal("25.5"), currency="EUR", occurred_at=NOON, click_id="=cmd|' /C calc'!A0",
                 params={"sub1": "campaign-7"}, is_first_deposit=True)
    EventFactory(event_id="r-1", partner=acme, type_id=EventType.REGISTRATION, occurred_at=NOON)
    EventFactory(event_id="other", type_id=EventType.DEPOSIT, amount=1, currency="EUR", occurred_at=NOON)

    rows = _csv(platform_client.get("/api/v1/export/events.csv", {"partner": "acme", "type": "deposit"}))

    assert rows[0] == [column.header for column in EVENT_COLUMNS]
    assert rows[1:] == [[
        rows[1][0], "d-1", "deposit", "casino-p-1", "acme", "'=cmd|' /C calc'!A0", "25.5000", "EUR",
        "2026-11-20T12:00:00Z", rows[1][9], "true", "false", '{"sub1": "campaign-7"}',
    ]]
    assert rows[1][9].endswith("Z")


def test_events_csv_uses_the_lists_time_filters(platform_client):
    EventFactory(event_id="early", occurred_at=NOON - dt.timedelta(days=1))
    EventFactory(event_id="late", occurred_at=NOON)

    rows = _csv(platform_client.get("/api/v1/export/events.csv", {"from": "2026-11-20T00:00:00Z"}))

    assert [row[1] for row in rows[1:]] == ["late"]


def test_export_rows_come_oldest_first_in_id_order(platform_client):
    for n in range(5):
        EventFactory(event_id=f"e-{n}", occurred_at=NOON - dt.timedelta(hours=n))

    rows = _csv(platform_client.get("/api/v1/export/events.csv"))

    assert [row[1] for row in rows[1:]] == [f"e-{n}" for n in range(5)]


def test_deliveries_csv_never_contains_secrets_or_request_details(admin_client_api):
    endpoint = PostbackEndpointFactory(partner=PartnerFactory(slug="acme"), signing_secret="whsec-very-secret",
                                       headers={"X-Token": "header-secret"}, name="+Main")
    DeliveryFactory(endpoint=endpoint, event__event_id="d-1", status="failed", last_status_code=500,
                    request_url="https://partner.example/pb?token=url-secret",
                    last_error="Max retries exceeded with url: /pb?token=url-secret&sub=1 (Caused by timeout)")

    response = admin_client_api.get("/api/v1/export/deliveries.csv", {"status": "failed", "partner": "acme"})
    rows = _csv(response)

    assert rows[0] == [column.header for column in DELIVERY_COLUMNS]
    (row,) = rows[1:]
    assert dict(zip(rows[0], row, strict=True)) | {"id": "", "event": "", "endpoint": "", "created_at": "",
                                                    "next_attempt_at": ""} == {
        "id": "", "event": "", "event_id": "d-1", "event_type": "registration", "partner": "acme", "endpoint": "",
        "endpoint_name": "'+Main", "status": "failed", "is_test": "false", "attempts": "0", "created_at": "",
        "next_attempt_at": "", "delivered_at": "", "last_status_code": "500",
        "last_error": "Max retries exceeded with url: /pb?… (Caused by timeout)",
    }
    text = ",".join(row)
    assert "secret" not in text


def test_bom_on_request_for_excel(platform_client):
    response = platform_client.get("/api/v1/export/events.csv", {"bom": "1"})

    assert b"".join(response.streaming_content).startswith("\ufeffid,".encode())
    assert response["Content-Disposition"] == 'attachment; filename="events.csv"'


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("events.csv", {"type": "jackpot"}, "type"),
        ("events.csv", {"from": "yesterday"}, "from"),
        ("deliveries.csv", {"status": "sent"}, "status"),
        ("deliveries.csv", {"endpoint": "x"}, "endpoint"),
        ("events.csv", {"bom": "maybe"}, "bom"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(platform_client, path, params, field):
    response = platform_client.get(f"/api/v1/export/{path}", params, HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("path", ["events.csv", "deliveries.csv", "stats.csv"])
def test_exports_need_an_api_key(anonymous_client, path):
    assert anonymous_client.get(f"/api/v1/export/{path}").status_code == 401
