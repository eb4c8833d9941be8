from datetime import UTC, datetime

import pytest
from django.test import override_settings
from rest_framework.exceptions import ValidationError

from deliveries.filter_params import delivery_filters
from events.filter_params import event_filters


def test_no_parameters_mean_no_filters():
    assert event_filters({}) == {
        "event_id": None, "type": None, "player_id": None, "partner": None, "occurred_from": None, "occurred_to": None,
    }


def test_date_time_parameters_keep_their_offset():
    filters = event_filters({"from": "2026-11-23T12:00:00+02:00", "to": "2026-11-23T11:00:00Z"})

    assert filters["occurred_from"] == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert filters["occurred_to"] == datetime(2026, 11, 23, 11, tzinfo=UTC)


@override_settings(REPORTING_TIME_ZONE="Europe/Berlin")
def test_plain_dates_are_whole_days_in_the_reporting_time_zone():
    filters = event_filters({"from": "2026-11-23", "to": "2026-11-23"})

    assert filters["occurred_from"] == datetime(2026, 11, 22, 23, tzinfo=UTC)
    assert filters["occurred_to"] == datetime(2026, 11, 23, 23, tzinfo=UTC)


@pytest.mark.django_db
def test_delivery_filters_parse_every_parameter():
    filters = delivery_filters(
        {"status": "failed", "partner": "acme", "endpoint": "7", "event_type": "first_deposit", "from": "2026-11-01"}
    )

    assert filters == {
        "status": "failed", "partner": "acme", "endpoint": 7, "event_type": "first_deposit",
        "created_from": datetime(2026, 11, 1, tzinfo=UTC), "created_to": None,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "sent"}, "Unknown value 'sent'. Use one of: cancelled, delivered, failed, pending, retrying."),
        ({"endpoint": "-1"}, "'-1' is not an id: send a positive whole number."),
        ({"endpoint": "99999999999999999999"}, "'99999999999999999999' is not an id: send a positive whole number."),
        ({"event_type": "nope"}, "Unknown value 'nope'."),
    ],
)
def test_bad_delivery_filters_name_the_parameter(params, message):
    with pytest.raises(ValidationError) as raised:
        delivery_filters(params)

    (name,) = params
    assert str(raised.value.detail[name][0]).startswith(message)
