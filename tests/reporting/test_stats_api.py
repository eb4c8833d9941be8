import datetime as dt
from decimal import Decimal

import pytest

from events.models import EventType
from reporting.rollup import stats_rollup_refresh
from tests.factories import EventFactory, PartnerFactory, PayoutRuleFactory

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
RANGE = {"from": "2026-11-20", "to": "2026-11-20"}


@pytest.fixture
def deposits():
    acme = PartnerFactory(slug="acme")
    PayoutRuleFactory(partner=acme, event_type_id=EventType.DEPOSIT, kind="percent", value=Decimal("25"))
    EventFactory(partner=acme, type_id=EventType.REGISTRATION, occurred_at=NOON)
    EventFactory(partner=acme, type_id=EventType.DEPOSIT, is_first_deposit=True, amount=Decimal("40.10"),
                 currency="EUR", occurred_at=NOON)
    EventFactory(type_id=EventType.DEPOSIT, amount=Decimal("5"), currency="USD", occurred_at=NOON)
    stats_rollup_refresh()


def test_stats_are_grouped_by_day_partner_and_type_with_money_as_strings(platform_client, deposits):
    response = platform_client.get("/api/v1/stats/", RANGE)

    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["time_zone"]) == ("2026-11-20", "2026-11-20", "UTC")
    assert body["group_by"] == ["day", "partner", "event_type"]
    assert dt.datetime.fromisoformat(body["as_of"]) <= dt.datetime.now(dt.UTC)
    acme_deposit = body["results"][0]
    assert acme_deposit == {
        "day": "2026-11-20",
        "partner": "acme",
        "event_type": "deposit",
        "events": 1,
        "unique_players": 1,
        "registrations": 0,
        "first_deposits": 1,
        "qualified": 0,
        "deposit_sum": {"EUR": "40.10"},
        "payout_sum": {"EUR": "10.03"},
        "deliveries_delivered": 0,
        "deliveries_failed": 0,
        "deliveries_pending": 0,
        "conversion_rate": "1.0000",
    }
    assert [(row["partner"], row["event_type"]) for row in body["results"]] == [
        ("acme", "deposit"), ("acme", "registration"), (None, "deposit"),
    ]
    assert body["totals"]["events"] == 3
    assert body["totals"]["deposit_sum"] == {"EUR": "40.10", "USD": "5.00"}
    assert "day" not in body["totals"]


def test_grouping_and_filters_narrow_the_rows(admin_client_api, deposits):
    response = admin_client_api.get("/api/v1/stats/", {**RANGE, "group_by": "partner", "event_type": "deposit"})

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["partner"], row["events"]) for row in rows] == [("acme", 1), (None, 1)]
    assert "day" not in rows[0] and "event_type" not in rows[0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "20-11-2026"}, "from"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "from"),
        ({"from": "2020-01-01", "to": "2026-11-20"}, "to"),
        ({"partner": "nobody"}, "partner"),
        ({"event_type": "jackpot"}, "event_type"),
        ({"group_by": "day,country"}, "group_by"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(platform_client, params, field):
    response = platform_client.get("/api/v1/stats/", params)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_stats_need_an_api_key(anonymous_client):
    assert anonymous_client.get("/api/v1/stats/").status_code == 401


def test_stats_csv_has_group_columns_measures_then_one_column_per_currency(platform_client, deposits):
    response = platform_client.get("/api/v1/export/stats.csv", {**RANGE, "group_by": "partner"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-Stats-As-Of"] == platform_client.get("/api/v1/stats/").json()["as_of"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines == [
        "partner,events,unique_players,registrations,first_deposits,qualified,deliveries_delivered,"
        "deliveries_failed,deliveries_pending,conversion_rate,deposit_sum_EUR,deposit_sum_USD,payout_sum_EUR",
        "acme,2,2,1,1,0,0,0,0,1.0000,40.10,0.00,10.03",
        ",1,1,0,0,0,0,0,0,,0.00,5.00,0.00",
    ]


def test_stats_csv_errors_are_json_even_when_csv_is_asked_for(platform_client):
    response = platform_client.get("/api/v1/export/stats.csv", {"to": "soon"}, HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "to": ["'soon' is not a date; use YYYY-MM-DD (a day in the reporting time zone)."]
    }
